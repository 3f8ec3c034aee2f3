"""Dynamic batching: requests that arrive within `max_wait_ms` of each other share one model call.

`Batcher.submit(x)` (or `enqueue(x)`, its future) takes one request's tensor (n, ...) and resolves
to that request's rows of `fn(collate(tensors))` (collate: concatenation unless given, e.g.
CloudHalf.collate, which also dequantizes int8). A batch closes when it holds `max_batch` rows or
the first request has waited `max_wait_ms`; a request larger than `max_batch` runs alone. collate
and the model run in one worker thread so the event loop keeps accepting requests meanwhile.
`max_batch=1` runs every request on its own through the same path (the honest unbatched baseline).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np


class Batcher:
    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], max_batch: int = 64, max_wait_ms: float = 2.0,
                 on_batch: Callable[[int, float], None] | None = None,
                 collate: Callable[[list[np.ndarray]], np.ndarray] | None = None):
        self.fn = fn
        self.collate = collate or _concatenate
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.on_batch = on_batch
        self._pending: deque[tuple[np.ndarray, asyncio.Future]] = deque()
        self._rows = 0
        self._wakeup: asyncio.Event | None = None  # set while anything is pending
        self._full: asyncio.Event | None = None  # set while pending rows >= max_batch
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cloud-half")

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup, self._full = asyncio.Event(), asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        while self._pending:  # fail whatever is still waiting
            _, fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(RuntimeError("server is shutting down"))
        self._pool.shutdown(wait=True)

    async def submit(self, x: np.ndarray) -> np.ndarray:
        return await self.enqueue(x)

    def enqueue(self, x: np.ndarray) -> asyncio.Future:
        """`submit` without a coroutine: the future of x's rows, for callers that answer from a callback
        (the protocol-level predict path, serving/fast_path.py). Call it on the event loop's thread."""
        if self._task is None:
            raise RuntimeError("Batcher.start() was not awaited")
        fut = self._loop.create_future()
        self._pending.append((x, fut))
        self._rows += len(x)
        self._wakeup.set()
        if self._rows >= self.max_batch:
            self._full.set()
        return fut

    def _take(self) -> list[tuple[np.ndarray, asyncio.Future]]:
        """Up to max_batch rows from the front (at least one request, even an oversized one)."""
        items = [self._pending.popleft()]
        rows = len(items[0][0])
        while self._pending and rows + len(self._pending[0][0]) <= self.max_batch:
            items.append(self._pending.popleft())
            rows += len(items[-1][0])
        self._rows -= rows
        if not self._pending:
            self._wakeup.clear()
        if self._rows < self.max_batch:
            self._full.clear()
        return items

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            if self._rows < self.max_batch and self.max_wait > 0:  # let the batch fill, at most max_wait
                try:
                    await asyncio.wait_for(self._full.wait(), self.max_wait)
                except TimeoutError:
                    pass
            items = self._take()
            xs = [x for x, _ in items]
            t0 = time.perf_counter()
            try:
                out = await loop.run_in_executor(self._pool, self._call, xs)
            except Exception as exc:  # a model failure fails this batch's requests, not the server
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            if self.on_batch is not None:
                self.on_batch(len(out), time.perf_counter() - t0)
            start = 0
            for x, fut in items:
                if not fut.done():  # the client may have gone away
                    fut.set_result(out[start:start + len(x)])
                start += len(x)

    def _call(self, xs: list[np.ndarray]) -> np.ndarray:
        """On the model thread: the requests' tensors as one batch (collate), then the model."""
        return self.fn(self.collate(xs))


def _concatenate(xs: list[np.ndarray]) -> np.ndarray:
    return xs[0] if len(xs) == 1 else np.concatenate(xs)
