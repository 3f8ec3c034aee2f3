"""A stand-in Android device speaking the adb transport protocol over TCP, so the *real* `adb`
binary (its server and client) can drive it with `adb connect 127.0.0.1:PORT` (no phone here).

It answers CNXN without AUTH, serves `shell:` (legacy, no shell_v2: output then close; the exit
code travels in the command's own `echo rc=$?`) and `sync:` (STAT, SEND/DATA/DONE, RECV, QUIT),
running shell commands with sh on this host after mapping /data/local/tmp into a fake root and
stripping a leading `taskset MASK`, with a stand-in `getprop` on its PATH. Protocol: AOSP packages/modules/adb/protocol.txt and SYNC.TXT.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import struct
import subprocess
import threading
from pathlib import Path

A_CNXN, A_OPEN, A_OKAY, A_CLSE, A_WRTE = 0x4E584E43, 0x4E45504F, 0x59414B4F, 0x45534C43, 0x45545257
A_VERSION, MAX_PAYLOAD = 0x01000001, 256 * 1024
BANNER = b"device::ro.product.name=standin;ro.product.model=Standin_Phone;ro.product.device=standin;features=cmd\0"


def _packet(cmd: int, arg0: int, arg1: int, data: bytes = b"") -> bytes:
    return struct.pack("<6I", cmd, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF, cmd ^ 0xFFFFFFFF) + data


class StandinAdbd:
    """One TCP listener; each connection is one adb server talking to this "device"."""

    def __init__(self, root: Path):
        self.root = root
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.commands: list[str] = []
        bindir = root / "bin"  # the device's own tools, as /system/bin has them
        bindir.mkdir(parents=True, exist_ok=True)
        (bindir / "getprop").write_text('#!/bin/sh\ncase "$1" in ro.product.model) echo Standin_Phone;; '
                                        'ro.product.cpu.abi) echo arm64-v8a;; *) echo standin;; esac\n')
        (bindir / "getprop").chmod(0o755)
        self.env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=_Connection(self, conn).serve, daemon=True).start()

    def local(self, path: str) -> str:
        return path.replace("/data/local/tmp", str(self.root) + "/data/local/tmp")


class _Connection:
    def __init__(self, dev: StandinAdbd, conn: socket.socket):
        self.dev, self.conn, self.next_id = dev, conn, 1
        self.acks: dict[int, threading.Event] = {}
        self.sync: dict[int, bytearray] = {}
        self.lock = threading.Lock()

    def _recv(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            if not chunk:
                raise ConnectionError
            buf += chunk
        return buf

    def send(self, cmd: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        with self.lock:
            self.conn.sendall(_packet(cmd, arg0, arg1, data))

    def write(self, local: int, remote: int, data: bytes, wait: bool = True) -> None:
        """WRTE in payload-sized pieces, each waiting for the server's OKAY (adb's flow control).

        Sync replies run on the reading thread and cannot wait; the server answers each request's
        reply with OKAY before it sends the next request, so they need not."""
        for i in range(0, max(len(data), 1), MAX_PAYLOAD):
            ev = self.acks.setdefault(local, threading.Event())
            ev.clear()
            self.send(A_WRTE, local, remote, data[i:i + MAX_PAYLOAD])
            if wait:
                ev.wait(30)

    def serve(self) -> None:
        try:
            while True:
                cmd, arg0, arg1, length, _, _ = struct.unpack("<6I", self._recv(24))
                data = self._recv(length) if length else b""
                self.dispatch(cmd, arg0, arg1, data)
        except (ConnectionError, OSError):
            self.conn.close()

    def dispatch(self, cmd: int, arg0: int, arg1: int, data: bytes) -> None:
        if cmd == A_CNXN:
            self.send(A_CNXN, A_VERSION, MAX_PAYLOAD, BANNER)
        elif cmd == A_OPEN:
            local, service = self.next_id, data.rstrip(b"\0").decode()
            self.next_id += 1
            self.dev.commands.append(service)
            self.send(A_OKAY, local, arg0)
            if service.startswith("shell:"):
                threading.Thread(target=self.shell, args=(local, arg0, service[6:]), daemon=True).start()
            elif service == "sync:":
                self.sync[local] = bytearray()
            else:
                self.send(A_CLSE, local, arg0)
        elif cmd == A_OKAY:
            self.acks.setdefault(arg1, threading.Event()).set()
        elif cmd == A_WRTE:
            self.send(A_OKAY, arg1, arg0)
            if arg1 in self.sync:
                self.sync[arg1] += data
                self.sync_step(arg1, arg0)

    def shell(self, local: int, remote: int, command: str) -> None:
        command = self.dev.local(re.sub(r"^taskset [0-9a-fA-Fx]+ ", "", command))
        out = subprocess.run(["sh", "-c", command], capture_output=True, timeout=300, env=self.dev.env)
        self.write(local, remote, out.stdout + out.stderr)
        self.send(A_CLSE, local, remote)

    def sync_step(self, local: int, remote: int) -> None:
        buf = self.sync[local]
        while len(buf) >= 8:
            req, n = buf[:4].decode(), struct.unpack("<I", buf[4:8])[0]
            if req == "SEND":  # SEND path,mode then DATA chunks then DONE mtime, possibly over several WRTEs
                body, i = b"", 8 + n
                while len(buf) >= i + 8 and buf[i:i + 4] == b"DATA":
                    size = struct.unpack("<I", buf[i + 4:i + 8])[0]
                    if len(buf) < i + 8 + size:
                        return
                    body, i = body + bytes(buf[i + 8:i + 8 + size]), i + 8 + size
                if len(buf) < i + 8 or buf[i:i + 4] != b"DONE":
                    return
                path = self.dev.local(bytes(buf[8:8 + n]).decode().rsplit(",", 1)[0])
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_bytes(body)
                del buf[:i + 8]
                self.write(local, remote, b"OKAY" + struct.pack("<I", 0), wait=False)
                continue
            if len(buf) < 8 + n:
                return
            arg = bytes(buf[8:8 + n]).decode()
            del buf[:8 + n]
            path = self.dev.local(arg)
            if req == "STAT":
                st = os.stat(path) if os.path.exists(path) else None
                mode = (stat.S_IFREG | 0o644) if st and not os.path.isdir(path) else (stat.S_IFDIR | 0o755) if st else 0
                self.write(local, remote, b"STAT" + struct.pack("<3I", mode, st.st_size if st else 0,
                                                              int(st.st_mtime) if st else 0), wait=False)
            elif req == "RECV":
                data = Path(path).read_bytes()
                chunks = b"".join(b"DATA" + struct.pack("<I", len(data[i:i + 65536])) + data[i:i + 65536]
                                  for i in range(0, len(data), 65536))
                self.write(local, remote, chunks + b"DONE" + struct.pack("<I", 0), wait=False)
            elif req == "QUIT":
                self.sync.pop(local, None)
                self.send(A_CLSE, local, remote)
                return
