"""The fuzz suite of benchmarks/serving_fuzz.py with smaller counts, against a live server: every malformed
message gets a 4xx with a JSON detail (or, when the fuzzer happened to build a valid one, a finite 200),
never a 500, and the real device messages sent between them still get cloud.onnx's class."""

from __future__ import annotations

import benchmark_scripts
import numpy as np
import pytest


@pytest.fixture(scope="module")
def fz():
    return benchmark_scripts.load("serving_fuzz")


def _run(fz, live_server, token, messages, expected, bodies):
    r = fz.fuzz(live_server, token, bodies, messages[:4], expected[:4], every=100)
    assert r["answers_5xx"] == 0, r["bad_samples"]
    assert r["answers_not_4xx_json_or_valid_200"] == 0, r["bad_samples"]
    assert r["probes_correct"] == r["probes_sent"] > 0
    return r


def test_structured_messages_every_field_at_its_bounds(fz, live_server, token, messages, expected, cloud):
    bodies = fz.structured(cloud)
    assert len(bodies) > 400
    r = _run(fz, live_server, token, messages, expected, bodies)
    assert {"400", "422"} <= set(r["statuses"])


def test_random_and_hypothesis_messages(fz, live_server, token, messages, expected, cloud):
    bodies = fz.random_messages(messages[0], 150) + fz.hypothesis_messages(cloud, 250)
    assert len(bodies) == 400
    _run(fz, live_server, token, messages, expected, bodies)


def test_the_issues_500s_are_now_4xx(cloud):
    """The three message classes that escaped as 500 or a null-probability 200 before, in process."""
    from hybridsplit.serving import wire
    from hybridsplit.serving.cloud import RequestError

    f, bid, fshape = cloud.manifest.feature, cloud.bundle_id, cloud.feature_shape
    zero_dim = wire.HEADER.pack(wire.MAGIC, 1, 1, 3, 0, bid, float(np.float32(f.scale)), f.zero_point) + \
        np.array([0, 2**32 - 1, 2**32 - 1], "<u4").tobytes()
    huge = wire.encode(np.full((1, *fshape), np.finfo(np.float32).max, np.float32), bid)
    nan_scale_float = wire.HEADER.pack(wire.MAGIC, 1, 3, 3, 0, bid, float("nan"), 0) + \
        np.array([1, *fshape], "<u4").tobytes() + bytes(4 * int(np.prod(fshape)))
    for body, status in ((zero_dim, 400), (huge, 422), (nan_scale_float, 400)):
        with pytest.raises(RequestError) as err:
            cloud.parse(body)
        assert err.value.status == status, str(err.value)


def test_fp32_device_features_lie_in_the_manifests_range(bundle, cloud, watch_data):
    """The range check refuses no real float32 features: device_fp32.tflite on 64 test windows."""
    from hybridsplit.serving.client import DeviceRunner

    fp32 = DeviceRunner(bundle, artifact="tflite_fp32")
    x = np.concatenate([cloud.parse(fp32.message(watch_data.test.x[i])) for i in range(64)])
    assert x.shape == (64, *cloud.feature_shape) and x.max() > 0


def test_a_non_finite_model_output_is_a_422_not_a_null_200(cloud, token):
    """The output check both engines run (RequestGate.answer): a NaN probability row is refused."""
    from fastapi import HTTPException

    from hybridsplit.serving.gate import RequestGate
    from hybridsplit.serving.settings import ServeSettings

    gate = RequestGate(ServeSettings(token=token), cloud)
    good = np.full((1, len(cloud.labels)), 1 / len(cloud.labels), np.float32)
    assert gate.answer(good, 1.0)["predictions"][0]["probabilities"] == good[0].tolist()
    bad = good.copy()
    bad[0, 2] = np.nan
    with pytest.raises(HTTPException) as err:
        gate.answer(bad, 1.0)
    assert err.value.status_code == 422 and "finite" in err.value.detail


def test_the_answer_picks_numpys_argmax_and_refuses_only_non_finite_rows(cloud, token):
    """CloudHalf.answer checks and arg-maxes rows in Python (cheaper per request than numpy): the index
    must be numpy's argmax (first of ties), every non-finite row refused, the largest finite float32
    answered."""
    from hybridsplit.serving.cloud import RequestError

    k = len(cloud.labels)
    rng = np.random.default_rng(0)
    rows = rng.random((200, k)).astype(np.float32)
    rows[:50, 1] = rows[:50, 3] = 2.0  # ties: the first wins
    answer = cloud.answer(rows, 1.0)
    assert [p["index"] for p in answer["predictions"]] == rows.argmax(axis=1).tolist()
    assert [p["probabilities"] for p in answer["predictions"]] == rows.tolist()
    for bad in (np.nan, np.inf, -np.inf):
        x = rows[:3].copy()
        x[2, k - 1] = bad
        with pytest.raises(RequestError) as err:
            cloud.answer(x, 1.0)
        assert err.value.status == 422
    huge = np.full((1, k), np.finfo(np.float32).max, np.float32)
    assert cloud.answer(huge, 1.0)["predictions"][0]["index"] == 0
