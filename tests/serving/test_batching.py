"""Batcher: every request gets its own rows back; batches respect max_batch; max_batch=1 never batches."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from hybridsplit.serving.batching import Batcher


def _run(max_batch: int, sizes: list[int], max_wait_ms: float = 20.0, fn=None):
    calls: list[int] = []

    def model(x: np.ndarray) -> np.ndarray:
        time.sleep(0.002)  # a model call that takes a moment, so requests pile up
        return x * 10.0

    async def main():
        b = Batcher(fn or model, max_batch, max_wait_ms, on_batch=lambda n, s: calls.append(n))
        await b.start()
        try:
            reqs = [np.full((n, 2), i, np.float32) for i, n in enumerate(sizes)]
            outs = await asyncio.gather(*(b.submit(r) for r in reqs), return_exceptions=True)
        finally:
            await b.stop()
        return reqs, outs

    reqs, outs = asyncio.run(main())
    return reqs, outs, calls


def test_results_go_back_to_their_requests():
    reqs, outs, calls = _run(8, [1, 3, 2, 1, 1, 4, 1, 2, 1, 1] * 5)
    for r, o in zip(reqs, outs, strict=True):
        np.testing.assert_array_equal(o, r * 10.0)
    assert sum(calls) == sum(len(r) for r in reqs)
    assert max(calls) <= 8
    assert len(calls) < len(reqs)  # it did batch


def test_a_request_larger_than_max_batch_runs_alone():
    reqs, outs, calls = _run(4, [1, 9, 1])
    np.testing.assert_array_equal(outs[1], reqs[1] * 10.0)
    assert 9 in calls


def test_max_batch_one_runs_every_request_alone():
    reqs, outs, calls = _run(1, [1] * 20)
    assert calls == [1] * 20
    for r, o in zip(reqs, outs, strict=True):
        np.testing.assert_array_equal(o, r * 10.0)


def test_a_model_error_fails_its_batch_and_the_batcher_goes_on():
    state = {"n": 0}

    def flaky(x):
        state["n"] += 1
        if state["n"] == 1:
            raise ValueError("boom")
        return x

    async def main():
        b = Batcher(flaky, 4, 0.0)
        await b.start()
        try:
            with pytest.raises(ValueError):
                await b.submit(np.zeros((1, 1), np.float32))
            return await b.submit(np.ones((1, 1), np.float32))
        finally:
            await b.stop()

    np.testing.assert_array_equal(asyncio.run(main()), np.ones((1, 1)))
