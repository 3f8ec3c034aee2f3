"""1,000 bad payloads (hypothesis): each gets a 4xx, and the server then still answers correctly."""

from __future__ import annotations

import struct

import httpx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridsplit.serving import wire

CT = {"Content-Type": wire.CONTENT_TYPE}
LIMIT = 4096  # live_server's max_body_bytes


def bad_payloads(valid: bytes, cloud) -> st.SearchStrategy[bytes]:
    bid, f, fshape = cloud.bundle_id, cloud.manifest.feature, cloud.feature_shape
    header_end = wire.HEADER.size + 4 * (1 + len(fshape))

    def set_byte(pos_val):
        pos, val = pos_val
        b = bytearray(valid)
        b[pos] = val
        return bytes(b)

    def int8(shape, scale=f.scale, zp=f.zero_point, bundle=bid):
        return wire.encode(np.zeros(shape, np.int8), bundle, scale, zp)

    def raw_int8(shape, scale, zp=f.zero_point):  # bypasses encode's checks, e.g. for NaN scales
        head = wire.HEADER.pack(wire.MAGIC, 1, 1, len(shape), 0, bid, scale, zp)
        return head + struct.pack(f"<{len(shape)}I", *shape) + bytes(int(np.prod(shape)))

    shapes = st.lists(st.integers(0, 70), min_size=1, max_size=4).filter(
        lambda s: tuple(s[1:]) != fshape or not 1 <= s[0] <= cloud.max_items).filter(lambda s: np.prod(s) <= 3000)
    return st.one_of(
        st.binary(max_size=400),                                                       # noise
        st.integers(0, len(valid) - 1).map(lambda n: valid[:n]),                       # truncated
        st.binary(min_size=1, max_size=64).map(lambda b: valid + b),                   # trailing bytes
        st.integers(LIMIT + 1, 4 * LIMIT).map(lambda n: valid + bytes(n - len(valid))),  # oversized
        st.tuples(st.integers(0, header_end - 1), st.integers(0, 255))                 # one header byte changed
          .filter(lambda pv: valid[pv[0]] != pv[1]).map(set_byte),
        st.binary(min_size=32, max_size=32).filter(lambda b: b != bid)                 # wrong bundle
          .map(lambda b: int8((1, *fshape), bundle=b)),
        st.just((1, *fshape)).map(lambda s: wire.encode(np.zeros(s, np.float16), bid)),  # wrong dtype
        shapes.map(int8),                                                              # wrong shape
        st.floats(allow_nan=True, allow_infinity=True, width=32)                       # wrong / bad scale
          .filter(lambda s: not s == np.float32(f.scale)).map(lambda s: raw_int8((1, *fshape), s)),
        st.integers(-128, 127).filter(lambda z: z != f.zero_point)                     # wrong zero point
          .map(lambda z: int8((1, *fshape), zp=z)),
        st.sampled_from([np.nan, np.inf, -np.inf]).map(                                # non-finite floats
            lambda v: wire.encode(np.full((1, *fshape), v, np.float32), bid)),
    )


def test_a_thousand_bad_payloads_get_4xx_and_the_server_keeps_serving(live_server, token, messages, expected, cloud):
    statuses: list[int] = []
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {token}", **CT}, timeout=30) as http:

        @settings(max_examples=1000, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(bad_payloads(messages[0], cloud))
        def check(body: bytes) -> None:
            r = http.post("/v1/predict", content=body)
            statuses.append(r.status_code)
            assert 400 <= r.status_code < 500, (r.status_code, r.text, body[:64])
            assert r.json()["detail"]

        check()
        assert len(statuses) >= 1000
        assert {400, 409, 413, 422} <= set(statuses)
        for body, exp in zip(messages[:8], expected[:8], strict=True):
            r = http.post("/v1/predict", content=body)
            assert r.status_code == 200 and r.json()["predictions"][0]["index"] == exp
