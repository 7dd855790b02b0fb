"""A small blocking FIX 4.4 initiator for tests, written apart from the engine's own codec."""
from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from typing import Any

SOH = "\x01"


def frame(fields: list[tuple[int, Any]], begin: str = "FIX.4.4", body_length: int | None = None,
          checksum: int | None = None) -> bytes:
    body = "".join(f"{t}={v}{SOH}" for t, v in fields).encode()
    head = f"8={begin}{SOH}9={len(body) if body_length is None else body_length}{SOH}".encode()
    total = sum(head + body) % 256 if checksum is None else checksum
    return head + body + f"10={total:03d}{SOH}".encode()


def now() -> str:
    t = datetime.now(UTC)
    return t.strftime("%Y%m%d-%H:%M:%S.") + f"{t.microsecond // 1000:03d}"


class Msg(dict):
    """Fields by tag (the first occurrence), the raw frame kept."""

    raw: bytes = b""

    @property
    def type(self) -> str:
        return self[35]


class FixClient:
    def __init__(self, port: int, sender: str, target: str = "DEALER"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sender, self.target = sender, target
        self.seq = 1
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def header(self, msg_type: str, seq: int | None = None) -> list[tuple[int, Any]]:
        return [(35, msg_type), (49, self.sender), (56, self.target), (34, self.seq if seq is None else seq),
                (52, now())]

    def send(self, msg_type: str, body: list[tuple[int, Any]] | None = None, *, seq: int | None = None,
             **frame_opts: Any) -> None:
        self.send_raw(frame(self.header(msg_type, seq) + list(body or []), **frame_opts))
        if seq is None:
            self.seq += 1

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def logon(self, heartbeat: int = 30, reset: bool = True) -> Msg:
        self.send("A", [(98, 0), (108, heartbeat)] + ([(141, "Y")] if reset else []))
        return self.recv()

    def recv(self, timeout: float = 8.0) -> Msg:
        deadline = time.time() + timeout
        while True:
            end = self.buf.find(b"\x0110=")
            if end >= 0 and len(self.buf) >= end + 8:
                raw, self.buf = self.buf[:end + 8], self.buf[end + 8:]
                assert int(raw[end + 4:end + 7]) == sum(raw[:end + 1]) % 256, f"bad checksum from the dealer: {raw!r}"
                parts = [p.split(b"=", 1) for p in raw[:-1].split(b"\x01")]
                assert parts[0][0] == b"8" and parts[1][0] == b"9" and parts[2][0] == b"35", raw
                start = raw.index(b"\x01", raw.index(b"9=")) + 1
                assert int(parts[1][1]) == end + 1 - start, f"bad BodyLength from the dealer: {raw!r}"
                msg = Msg()
                for tag, value in parts:
                    msg.setdefault(int(tag), value.decode())
                msg.raw = raw
                return msg
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError(f"no FIX message within {timeout} s (buffer {self.buf!r})")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise ConnectionError(f"the dealer closed the connection (buffer {self.buf!r})")
            self.buf += data

    def recv_type(self, *types: str, timeout: float = 10.0) -> Msg:
        """The next message of one of `types`, answering TestRequests and skipping heartbeats."""
        deadline = time.time() + timeout
        while True:
            msg = self.recv(max(0.1, deadline - time.time()))
            if msg.type in types:
                return msg
            if msg.type == "1":
                self.send("0", [(112, msg[112])])

    def closed(self, timeout: float = 5.0) -> bool:
        """True once the dealer has closed the connection (messages before that are drained)."""
        try:
            while True:
                self.recv(timeout)
        except ConnectionError:
            return True
        except TimeoutError:
            return False
