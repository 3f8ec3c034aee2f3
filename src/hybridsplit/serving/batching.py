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
        self._getter: asyncio.Future | None = None
        self._carry: tuple | None = None
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
        pending = []
        if self._getter is not None:
            self._getter.cancel()
            if self._getter.done() and not self._getter.cancelled():
                pending.append(self._getter.result())
            self._getter = None
        if self._carry is not None:
            pending.append(self._carry)
            self._carry = None
        if self._queue is not None:  # fail whatever is still waiting
            while not self._queue.empty():
                pending.append(self._queue.get_nowait())
        for _, fut in pending:
            if not fut.done():
                fut.set_exception(RuntimeError("server is shutting down"))
        self._pool.shutdown(wait=True)

    async def submit(self, x: np.ndarray) -> np.ndarray:
        if self._queue is None:
            raise RuntimeError("Batcher.start() was not awaited")
        fut = asyncio.get_running_loop().create_future()
        await self._queue.put((x, fut))
        return await fut

    def _getter_task(self) -> asyncio.Future:
        # one outstanding queue.get(); a batch that times out leaves it pending for the next one, so an
        # item can never be lost between a timeout and a cancel
        if self._getter is None:
            self._getter = asyncio.ensure_future(self._queue.get())
        return self._getter

    async def _next_item(self, timeout: float | None):
        if self._getter is None:
            try:
                return self._queue.get_nowait()
            except asyncio.QueueEmpty:
                pass
        getter = self._getter_task()
        if timeout is None:
            await asyncio.wait({getter})
        else:
            done, _ = await asyncio.wait({getter}, timeout=max(timeout, 0))
            if not done:
                return None
        self._getter = None
        return getter.result()

    async def _next_batch(self) -> list:
        first, self._carry = self._carry, None
        items = [first or await self._next_item(None)]
        rows = len(items[0][0])
        deadline = time.perf_counter() + self.max_wait
        while rows < self.max_batch:
            item = await self._next_item(deadline - time.perf_counter())
            if item is None:
                break
            if rows + len(item[0]) > self.max_batch:  # does not fit: it opens the next batch
                self._carry = item
                break
            items.append(item)
            rows += len(item[0])
        return items

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = await self._next_batch()
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
