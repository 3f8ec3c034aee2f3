"""Dynamic batching: requests that arrive within `max_wait_ms` of each other share one model call.

`Batcher.submit(x)` takes one request's tensor (n, ...) and resolves to that request's rows of
`fn(concatenated)`. A batch closes when it holds `max_batch` rows or the first request has
waited `max_wait_ms`; a request larger than `max_batch` runs alone. The model runs in one worker
thread so the event loop keeps accepting requests meanwhile. `max_batch=1` runs every request
on its own through the same path (the honest unbatched baseline).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np


class Batcher:
    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], max_batch: int = 64, max_wait_ms: float = 2.0,
                 on_batch: Callable[[int, float], None] | None = None):
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.on_batch = on_batch
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cloud-half")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._queue is not None:  # fail whatever is still waiting
            while not self._queue.empty():
                _, fut = self._queue.get_nowait()
                if not fut.done():
                    fut.set_exception(RuntimeError("server is shutting down"))
        self._pool.shutdown(wait=True)

    async def submit(self, x: np.ndarray) -> np.ndarray:
        if self._queue is None:
            raise RuntimeError("Batcher.start() was not awaited")
        fut = asyncio.get_running_loop().create_future()
        await self._queue.put((x, fut))
        return await fut

    async def _collect(self) -> list:
        queue = self._queue
        items = [await queue.get()]
        rows = len(items[0][0])
        deadline = time.perf_counter() + self.max_wait
        while rows < self.max_batch:
            if not queue.empty():
                x, fut = queue.get_nowait()
            else:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    x, fut = await asyncio.wait_for(queue.get(), left)
                except TimeoutError:
                    break
            if rows + len(x) > self.max_batch:
                # does not fit: it opens the next batch (put back at the front is not possible; run it next)
                self._carry = (x, fut)
                break
            items.append((x, fut))
            rows += len(x)
        return items

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self._carry = None
        while True:
            if self._carry is not None:
                first, self._carry = self._carry, None
                items = [first]
                rows = len(first[0])
                # let the carried request gather company too
                while rows < self.max_batch and not self._queue.empty():
                    x, fut = self._queue.get_nowait()
                    if rows + len(x) > self.max_batch:
                        self._carry = (x, fut)
                        break
                    items.append((x, fut))
                    rows += len(x)
            else:
                items = await self._collect()
            xs = [x for x, _ in items]
            batch = xs[0] if len(xs) == 1 else np.concatenate(xs)
            t0 = time.perf_counter()
            try:
                out = await loop.run_in_executor(self._pool, self.fn, batch)
            except Exception as exc:  # a model failure fails this batch's requests, not the server
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            if self.on_batch is not None:
                self.on_batch(len(batch), time.perf_counter() - t0)
            start = 0
            for x, fut in items:
                if not fut.done():  # the client may have gone away
                    fut.set_result(out[start:start + len(x)])
                start += len(x)
