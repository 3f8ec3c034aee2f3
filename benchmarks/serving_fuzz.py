"""Fuzz `hybridsplit serve` with malformed feature messages: 0 answers >= 500, server alive, probes correct.

    python benchmarks/serving_fuzz.py --bundle bundles/default [--random 3000 --hypothesis 2500]

Three families of messages, all POSTed with a valid token to /v1/predict of a real `hybridsplit serve`
on 127.0.0.1 (a subprocess, so its RSS is the server's own):
- structured: every header field at and past its bounds (magic, version, dtype code, ndim, flags,
  scale incl. +-0, subnormal, max, inf, NaN; zero point incl. +-2^31), dims of 0, 1 and up to
  2^32 - 1 in every position, payloads of extreme floats (+-3.4e38, subnormals, NaN, inf, -0),
  truncations and trailing bytes;
- random: a valid message with random bytes overwritten, inserted or cut, and pure noise;
- hypothesis: messages built field by field by a hypothesis strategy (`derandomize`, so reproducible).
Every 250 messages, and at the end, real device messages (device.tflite on test windows) are sent as
probes and must get the class the cloud half gives them in this process. Writes JSON to --out.
`tests/serving/test_fuzz.py` runs the same generators with smaller counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
U32_MAX = 2**32 - 1
F32 = np.finfo(np.float32)
EXTREME_FLOATS = [0.0, -0.0, 1.0, -1.0, float(F32.max), -float(F32.max), float(F32.smallest_subnormal),
                  float(F32.tiny), float("inf"), float("-inf"), float("nan"), 1e30, -1e30, 65504.0, 7e4]


def raw_message(bundle: bytes, dims, payload: bytes = b"", *, magic=b"HSF1", version=1, code=1, ndim=None,
                flags=0, scale=0.1, zero_point=0) -> bytes:
    """A message built field by field, with no checks (encode() would refuse most of these)."""
    from hybridsplit.serving import wire

    ndim = len(dims) if ndim is None else ndim
    head = wire.HEADER.pack(magic, version, code, ndim, flags, bundle, scale, zero_point)
    return head + struct.pack(f"<{len(dims)}I", *dims) + payload


def structured(cloud) -> list[bytes]:
    """Each header field at and past its bounds, zero and huge dims, extreme float payloads."""
    from hybridsplit.serving import wire

    f, bid, shape = cloud.manifest.feature, cloud.bundle_id, (1, *cloud.feature_shape)
    numel = int(np.prod(shape))
    q = dict(scale=float(np.float32(f.scale)), zero_point=f.zero_point)
    ok_int8 = bytes(numel)
    out = []
    for magic in (b"HSF0", b"HSF2", b"hsf1", b"\0\0\0\0", b"\xff" * 4):
        out.append(raw_message(bid, shape, ok_int8, magic=magic, **q))
    for version in (0, 2, 127, 255):
        out.append(raw_message(bid, shape, ok_int8, version=version, **q))
    for code in (0, 4, 5, 127, 255):
        out.append(raw_message(bid, shape, ok_int8, code=code, **q))
    for ndim in (0, 2, 4, 8, 9, 255):  # disagreeing with the dims that follow
        out.append(raw_message(bid, shape, ok_int8, ndim=ndim, **q))
    for flags in (1, 2, 128, 255):
        out.append(raw_message(bid, shape, ok_int8, flags=flags, **q))
    for scale in EXTREME_FLOATS + [-f.scale, f.scale * 2]:
        out.append(raw_message(bid, shape, ok_int8, scale=scale, zero_point=f.zero_point))
    for zp in (-(2**31), -129, -128, -1, 0, 127, 128, 2**31 - 1):
        out.append(raw_message(bid, shape, ok_int8, scale=q["scale"], zero_point=zp))
    for code, size in ((2, 2), (3, 4)):  # float messages must carry zero scale and zero point
        for scale, zp in ((0.1, 0), (0.0, 1), (float("nan"), 0), (-0.0, 0), (float("inf"), -1)):
            out.append(raw_message(bid, shape, bytes(numel * size), code=code, scale=scale, zero_point=zp))
    for ndim in range(1, 9):  # 0 and 2^32 - 1 in every position, with and without a payload
        for pos in range(ndim):
            for val in (0, U32_MAX, 2**31, 65536):
                dims = [1] * ndim
                dims[pos] = val
                out.append(raw_message(bid, dims, b"", **q))
                out.append(raw_message(bid, dims, bytes(64), **q))
        out.append(raw_message(bid, [U32_MAX] * ndim, bytes(8), **q))
        out.append(raw_message(bid, [0] + [U32_MAX] * (ndim - 1), b"", **q))
    for n in (0, 1, cloud.max_items, cloud.max_items + 1):  # batch sizes at the bounds
        out.append(raw_message(bid, (n, *shape[1:]), bytes(n * numel), **q))
    for v in EXTREME_FLOATS:  # float payloads: one extreme value, or a whole tensor of it
        for dtype in (np.float32, np.float16):
            with np.errstate(over="ignore"):
                full = np.full(shape, v, dtype)
            out.append(wire.encode(full, bid))
            one = np.zeros(shape, dtype)
            with np.errstate(over="ignore"):
                one.flat[numel // 2] = v
            out.append(wire.encode(one, bid))
    valid = raw_message(bid, shape, ok_int8, **q)
    out += [valid[:n] for n in (0, 1, 4, 8, 40, 47, 48, 51, 52, 59, 60, len(valid) - 1)]
    out += [valid + b"\0", valid + valid, b"\0" * len(valid), valid[::-1]]
    return out


def random_messages(valid: bytes, n: int, seed: int = 0) -> list[bytes]:
    """Mutations of a valid message (overwrite, insert, cut, splice) and pure noise."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        b = bytearray(valid)
        kind = i % 5
        if kind == 0:  # overwrite 1..8 random bytes
            for pos in rng.integers(0, len(b), rng.integers(1, 9)):
                b[pos] = int(rng.integers(0, 256))
        elif kind == 1:  # overwrite inside the header and dims only
            for pos in rng.integers(0, min(len(b), 64), rng.integers(1, 5)):
                b[pos] = int(rng.integers(0, 256))
        elif kind == 2:  # insert random bytes
            pos = int(rng.integers(0, len(b)))
            b[pos:pos] = rng.bytes(int(rng.integers(1, 64)))
        elif kind == 3:  # cut a slice
            a, z = sorted(rng.integers(0, len(b), 2))
            del b[a:z + 1]
        else:  # noise, starting with the magic half the time
            b = bytearray((b"HSF1" if rng.random() < 0.5 else b"") + rng.bytes(int(rng.integers(0, 2048))))
        out.append(bytes(b))
    return out


def hypothesis_strategy(cloud):
    """Messages built field by field: any magic/version/code/ndim/flags/scale/zero point, dims up to 2^32 - 1."""
    from hypothesis import strategies as st

    f, bid = cloud.manifest.feature, cloud.bundle_id
    u8 = st.integers(0, 255)
    dims = st.lists(st.one_of(st.integers(0, 3), st.integers(0, 128), st.integers(0, U32_MAX),
                              st.sampled_from([0, 1, 64, 12, U32_MAX])), min_size=0, max_size=9)
    fields = st.fixed_dictionaries({
        "magic": st.one_of(st.just(b"HSF1"), st.binary(min_size=4, max_size=4)),
        "version": st.one_of(st.just(1), u8), "code": st.one_of(st.sampled_from([1, 2, 3]), u8),
        "ndim": st.one_of(st.none(), u8), "flags": st.one_of(st.just(0), u8),
        "scale": st.one_of(st.just(float(np.float32(f.scale))), st.floats(width=32)),
        "zero_point": st.one_of(st.just(f.zero_point), st.integers(-(2**31), 2**31 - 1)),
    })
    bundle = st.one_of(st.just(bid), st.binary(min_size=32, max_size=32))
    payload = st.one_of(st.binary(max_size=2048), st.integers(0, 4096).map(bytes),
                        st.lists(st.floats(width=32), max_size=800).map(lambda v: np.asarray(v, "<f4").tobytes()))

    def build(b, d, p, kw):
        ndim = kw.pop("ndim")
        return raw_message(b, d, p, ndim=len(d) if ndim is None else ndim, **kw)

    def consistent(n, code, values, kw):  # the bundle's shape, a payload of exactly the declared size
        dtype = {1: np.int8, 2: np.float16, 3: np.float32}[code]
        numel = n * int(np.prod(cloud.feature_shape))
        with np.errstate(over="ignore", invalid="ignore"):
            data = np.resize(np.asarray(values or [0.0], np.float64).astype(dtype), numel)
        kw = {**kw, "code": code, "ndim": None, "magic": b"HSF1", "version": 1, "flags": 0}
        if code != 1:
            kw.update(scale=0.0, zero_point=0)
        return build(bid, (n, *cloud.feature_shape), data.tobytes(), kw)

    extreme = st.one_of(st.floats(width=32), st.sampled_from(EXTREME_FLOATS), st.integers(-128, 127))
    return st.one_of(st.builds(build, bundle, dims, payload, fields),
                     st.builds(consistent, st.integers(0, cloud.max_items + 2), st.sampled_from([1, 2, 3]),
                               st.lists(extreme, max_size=16), fields))


def hypothesis_messages(cloud, n: int) -> list[bytes]:
    """n messages drawn from hypothesis_strategy by hypothesis itself (derandomized: the same every run)."""
    from hypothesis import HealthCheck, given, settings

    out: list[bytes] = []

    @settings(max_examples=n, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(hypothesis_strategy(cloud))
    def collect(body: bytes) -> None:
        out.append(body)

    collect()
    return out[:n]


def probes(bundle: Path, n: int = 16) -> tuple[list[bytes], list[int]]:
    """Real device messages and the class cloud.onnx gives each, computed in this process."""
    from hybridsplit.serving.client import DeviceRunner, eval_windows
    from hybridsplit.serving.cloud import CloudHalf

    device, test, cloud = DeviceRunner(bundle), eval_windows(bundle), CloudHalf(bundle)
    bodies = [device.message(test.x[i]) for i in range(n)]
    return bodies, [int(cloud.probabilities(cloud.parse(b)).argmax(1)[0]) for b in bodies]


def answer_ok(r) -> bool:
    """A 4xx with a JSON {"detail": non-empty}, or a 200 whose predictions are schema-valid and finite
    (some fuzzed messages are valid ones); nothing else."""
    if not r.headers.get("content-type", "").startswith("application/json"):
        return False
    body = r.json()
    if 400 <= r.status_code < 500:
        return isinstance(body.get("detail"), str) and bool(body["detail"])
    if r.status_code != 200:
        return False
    from pydantic import ValidationError

    from hybridsplit.serving.schemas import PredictResponse

    try:  # a null probability (a non-finite one, JSON-encoded) fails the schema
        preds = PredictResponse.model_validate(body).predictions
    except ValidationError:
        return False
    return bool(preds) and all(np.isfinite(p.probabilities).all() and abs(sum(p.probabilities) - 1) < 1e-3
                               for p in preds)


def fuzz(url: str, token: str, messages: list[bytes], probe_bodies, probe_expected, every: int = 250) -> dict:
    """POST every message; count statuses; send the probes every `every` messages and at the end."""
    import httpx

    statuses: Counter = Counter()
    bad: list[str] = []
    probes_ok = probes_sent = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-hybridsplit-features"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        def probe():
            nonlocal probes_ok, probes_sent
            for body, exp in zip(probe_bodies, probe_expected, strict=True):
                r = http.post("/v1/predict", content=body)
                probes_sent += 1
                probes_ok += r.status_code == 200 and r.json()["predictions"][0]["index"] == exp
        for i, body in enumerate(messages):
            r = http.post("/v1/predict", content=body)
            statuses[r.status_code] += 1
            if not answer_ok(r):
                bad.append(f"{r.status_code} {r.text[:160]} for {body[:64].hex()}")
            if (i + 1) % every == 0:
                probe()
        probe()
    return {"messages": len(messages), "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "answers_5xx": sum(v for k, v in statuses.items() if k >= 500),
            "answers_not_4xx_json_or_valid_200": len(bad), "bad_samples": bad[:10],
            "probes_sent": probes_sent, "probes_correct": probes_ok}


class ServeProcess:
    """`hybridsplit serve` on a free 127.0.0.1 port in a subprocess; `rss_mb()` reads its memory."""

    def __init__(self, bundle: Path, token: str, args: tuple[str, ...] = (), preexec=None):
        from hybridsplit.serving.server import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-m", "hybridsplit.cli", "serve", "--bundle", str(bundle), "--port",
                    str(self.port), *args]
        self.env = {**os.environ, "HYBRIDSPLIT_TOKEN": token, "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.preexec = preexec

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, preexec_fn=self.preexec)
        lines, deadline = [], time.monotonic() + 180
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("ready:"):
                return self
        self.__exit__()
        raise RuntimeError("server did not become ready:\n" + "".join(lines[-20:]))

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def alive(self) -> bool:
        return self.proc.poll() is None

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=ROOT / "bundles" / "default")
    p.add_argument("--random", type=int, default=3000)
    p.add_argument("--hypothesis", type=int, default=2500)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serving_fuzz.json")
    a = p.parse_args(argv)
    from hybridsplit.serving.cloud import CloudHalf

    cloud = CloudHalf(a.bundle)
    probe_bodies, probe_expected = probes(a.bundle)
    families = {"structured": structured(cloud), "random": random_messages(probe_bodies[0], a.random),
                "hypothesis": hypothesis_messages(cloud, a.hypothesis)}
    token = secrets.token_urlsafe(24)
    result = {"benchmark": "serving_fuzz", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "bundle": str(a.bundle), "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "families": {}}
    with ServeProcess(a.bundle, token) as server:
        rss0 = server.rss_mb()
        t0 = time.perf_counter()
        for name, msgs in families.items():
            result["families"][name] = r = fuzz(server.url, token, msgs, probe_bodies, probe_expected)
            print(f"{name:10} {r['messages']:6} messages  statuses {r['statuses']}  5xx {r['answers_5xx']}  "
                  f"probes {r['probes_correct']}/{r['probes_sent']}", flush=True)
        result["seconds"] = time.perf_counter() - t0
        result["server_alive"] = server.alive()
        result["server_rss_mb"] = {"before": rss0, "after": server.rss_mb()}
    fams = result["families"].values()
    result["total_messages"] = sum(r["messages"] for r in fams)
    result["answers_5xx"] = sum(r["answers_5xx"] for r in fams)
    result["passed"] = (result["total_messages"] >= 5000 and result["answers_5xx"] == 0 and result["server_alive"]
                        and all(r["answers_not_4xx_json_or_valid_200"] == 0 and r["probes_correct"] == r["probes_sent"] for r in fams))
    print(f"{result['total_messages']} messages, {result['answers_5xx']} answers >= 500, server alive "
          f"{result['server_alive']}, RSS {rss0:.0f} -> {result['server_rss_mb']['after']:.0f} MB: "
          f"{'PASS' if result['passed'] else 'FAIL'}", flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
