"""The FIX 4.4 acceptor of DESIGN.md section 9: QuoteRequest -> Quote, NewOrderSingle -> fill.

Three layers, each usable alone:

- the codec (`encode`, `FixParser`, `FixMessage`): framing with BodyLength (9) and CheckSum (10)
  validation. A frame whose BeginString/BodyLength/MsgType are not the first three fields, whose
  body length is wrong or whose checksum does not add up is *garbled*: per FIX 4.4 it is dropped
  without a reply and does not consume a sequence number.
- `FixSession`, one logged-on counterparty (SenderCompID = client code, TargetCompID `DEALER`):
  Logon with HeartBtInt and ResetSeqNumFlag, MsgSeqNum checks (too low without PossDupFlag ->
  Logout; a gap -> ResendRequest, later messages queued until the gap is filled), Heartbeat on
  TestRequest and on idle, TestRequest when the counterparty is silent, ResendRequest answered by
  resending application messages with PossDupFlag=Y and gap-filling administrative ones, Reject
  (3) for parseable but invalid messages, BusinessMessageReject (j) for unsupported ones, Logout.
- `serve_fix(host, port)`: the asyncio acceptor. Sequence numbers (and the application messages
  sent, for resends) are kept per client for the life of the process; a client that logs on
  with ResetSeqNumFlag=Y starts both sides at 1.

Application flow: a QuoteRequest calls `services.rfq_create` (QuoteReqID is the idempotency key
`client_rfq_id`); the answer comes from the client's Channels group `client.<id>` (a Quote when
quoted, a QuoteRequestReject when declined, failed, or expired before a quote was sent). Since a
channel layer delivers at most once, every open RFQ of the session is also re-read from the
database when it has had no event for `RESYNC_SECONDS`, and whatever is due and not yet sent is
sent. A NewOrderSingle with the QuoteID calls `services.quote_accept` and answers with an
ExecutionReport, filled (39=2) or rejected (39=8).

Embedded mode: the acceptor must run on the ASGI server's event loop, because the in-memory
channel layer delivers on the loop the publisher is attached to (`dealer.events`).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from dealer.errors import DeskError

__all__ = [
    "BEGIN_STRING",
    "DEALER_COMP_ID",
    "FixAcceptor",
    "FixMessage",
    "FixParser",
    "FixSession",
    "Garbled",
    "checksum",
    "encode",
    "serve_fix",
    "start_fix",
]

log = logging.getLogger(__name__)

SOH = b"\x01"
BEGIN_STRING = "FIX.4.4"
DEALER_COMP_ID = "DEALER"
MAX_FRAME = 64 * 1024
LOGON_TIMEOUT = 10.0
RESYNC_SECONDS = 2.0
SENT_KEEP = 5000  # application messages kept per session for resends

# Session-level MsgTypes, and every FIX 4.4 MsgType (an unknown one gets Reject 373=11,
# a known one we do not support gets BusinessMessageReject 380=3).
ADMIN_TYPES = {"0", "1", "2", "3", "4", "5", "A"}
FIX44_TYPES = ADMIN_TYPES | {
    "6", "7", "8", "9", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "Q", "R", "S", "T",
    "V", "W", "X", "Y", "Z", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p",
    "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "AA", "AB", "AC", "AD", "AE", "AF", "AG", "AH", "AI",
    "AJ", "AK", "AL", "AM", "AN", "AO", "AP", "AQ", "AR", "AS", "AT", "AU", "AV", "AW", "AX", "AY", "AZ",
    "BA", "BB", "BC", "BD", "BE", "BF", "BG", "BH",
}
# Required body tags per MsgType we handle (header tags are checked separately).
REQUIRED = {
    "A": (98, 108),
    "1": (112,),
    "2": (7, 16),
    "4": (36,),
    "R": (131, 146),
    "D": (11, 54),
}
HEADER_REQUIRED = (49, 56, 34, 52)

# SessionRejectReason (373)
REQUIRED_TAG_MISSING = 1
TAG_WITHOUT_VALUE = 4
VALUE_INCORRECT = 5
INCORRECT_DATA_FORMAT = 6
COMP_ID_PROBLEM = 9
INVALID_MSG_TYPE = 11
INVALID_TAG_NUMBER = 0
# QuoteRequestRejectReason (658)
UNKNOWN_SYMBOL = 1
EXCEEDS_LIMIT = 3
OTHER = 99

_TRAILER_RE = re.compile(rb"\x0110=(\d{3})\x01")


# --- codec -----------------------------------------------------------------------------------

def checksum(data: bytes) -> int:
    """FIX CheckSum: the sum of every byte up to the trailer, modulo 256."""
    return sum(data) % 256


def utc_timestamp(dt: datetime | None = None) -> str:
    """UTCTimestamp with milliseconds, e.g. 20260509-07:35:25.123."""
    dt = (dt or datetime.now(UTC)).astimezone(UTC)
    return dt.strftime("%Y%m%d-%H:%M:%S.") + f"{dt.microsecond // 1000:03d}"


def encode(fields: Iterable[tuple[int, Any]], begin_string: str = BEGIN_STRING) -> bytes:
    """Frame a message: `fields` start with MsgType (35); BeginString, BodyLength, CheckSum added."""
    body = b"".join(f"{tag}={value}".encode() + SOH for tag, value in fields)
    head = f"8={begin_string}".encode() + SOH + f"9={len(body)}".encode() + SOH
    return head + body + f"10={checksum(head + body):03d}".encode() + SOH


@dataclass
class FixMessage:
    """A well-framed message: its fields in order, and the fields that do not parse."""

    fields: list[tuple[int, str]]
    bad_fields: list[tuple[str, str, int]] = field(default_factory=list)  # (tag text, value, 373 reason)
    raw: bytes = b""

    def get(self, tag: int, default: str | None = None) -> str | None:
        for t, v in self.fields:
            if t == tag:
                return v
        return default

    def __contains__(self, tag: int) -> bool:
        return any(t == tag for t, _ in self.fields)

    @property
    def msg_type(self) -> str:
        return self.get(35) or ""

    @property
    def seq(self) -> int | None:
        value = self.get(34)
        return int(value) if value is not None and value.isdigit() else None

    @property
    def poss_dup(self) -> bool:
        return self.get(43) == "Y"


@dataclass
class Garbled:
    """A frame dropped by the codec (reported for logging only: FIX answers nothing)."""

    reason: str
    raw: bytes


class FixParser:
    """Incremental framing: feed bytes, get `FixMessage`s and `Garbled`s in arrival order."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> list[FixMessage | Garbled]:
        self.buffer += data
        out: list[FixMessage | Garbled] = []
        while True:
            item = self._next()
            if item is None:
                return out
            out.append(item)

    def _skip_to_next_start(self, reason: str, end: int | None = None) -> Garbled:
        """Drop a garbled frame: through `end` if known, else up to the next BeginString."""
        if end is None:
            nxt = self.buffer.find(b"\x018=FIX", 1)
            end = nxt + 1 if nxt >= 0 else len(self.buffer)
        raw, self.buffer = self.buffer[:end], self.buffer[end:]
        return Garbled(reason, raw)

    def _next(self) -> FixMessage | Garbled | None:
        buf = self.buffer
        start = buf.find(b"8=FIX")
        if start < 0:
            keep = buf[-4:]
            dropped = buf[:-4] if len(buf) > 4 else b""
            self.buffer = keep if len(buf) > 4 else buf
            return Garbled("bytes before BeginString", dropped) if dropped.strip(b"\r\n\x01 ") else None
        if start > 0:
            raw, self.buffer = buf[:start], buf[start:]
            if raw.strip(b"\r\n\x01 "):
                return Garbled("bytes before BeginString", raw)
            buf = self.buffer
        soh1 = buf.find(SOH)
        if soh1 < 0:
            return self._skip_to_next_start("BeginString too long") if len(buf) > 32 else None
        if len(buf) < soh1 + 3:
            return None
        if buf[soh1 + 1:soh1 + 3] != b"9=":
            return self._skip_to_next_start("BodyLength is not the second field")
        soh2 = buf.find(SOH, soh1 + 1)
        if soh2 < 0:
            return self._skip_to_next_start("BodyLength too long") if len(buf) - soh1 > 12 else None
        length_text = buf[soh1 + 3:soh2]
        if not length_text.isdigit():
            return self._skip_to_next_start("BodyLength is not a number")
        body_start = soh2 + 1
        body_end = body_start + int(length_text)
        # The trailer `<SOH>10=nnn<SOH>` must sit exactly at the declared end of the body.
        trailer = _TRAILER_RE.search(buf, soh2)
        if trailer is None:
            if len(buf) > MAX_FRAME:
                return self._skip_to_next_start("frame too long")
            return None
        if trailer.start() + 1 != body_end:
            return self._skip_to_next_start("BodyLength does not match the body", trailer.end())
        frame_end = trailer.end()
        if checksum(buf[:body_end]) != int(trailer.group(1)):
            return self._skip_to_next_start("CheckSum does not match", frame_end)
        raw, self.buffer = buf[:frame_end], buf[frame_end:]
        message = FixMessage(fields=[], raw=raw)
        for part in raw[:body_end - 1].split(SOH):
            text = part.decode("latin-1")
            tag, eq, value = text.partition("=")
            if not eq or not tag.isdigit() or tag.startswith("0"):
                message.bad_fields.append((tag, value, INVALID_TAG_NUMBER))
                continue
            if value == "":
                message.bad_fields.append((tag, value, TAG_WITHOUT_VALUE))
                continue
            message.fields.append((int(tag), value))
        tags = [t for t, _ in message.fields[:3]]
        if tags != [8, 9, 35]:
            return Garbled("BeginString, BodyLength and MsgType are not the first three fields", raw)
        return message


# --- the session -----------------------------------------------------------------------------

@dataclass
class SeqState:
    """One counterparty's sequence numbers and the application messages sent (for resends)."""

    next_in: int = 1
    next_out: int = 1
    sent: dict[int, tuple[str, str, list[tuple[int, Any]]]] = field(default_factory=dict)  # seq -> (52, 35, body)

    def reset(self) -> None:
        self.next_in = 1
        self.next_out = 1
        self.sent.clear()


class SessionEnd(Exception):
    """Logout has been sent (or the peer is gone): close the connection."""


def _fmt(value: Decimal | None) -> str:
    if value is None:
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _fix_time(iso: str | None) -> str | None:
    if not iso:
        return None
    return utc_timestamp(datetime.fromisoformat(iso))


@dataclass
class _Open:
    """An RFQ of this session still waiting for its answer."""

    rfq_id: int
    quote_req_id: str
    symbol: str | None
    last_event: float


class FixSession:
    """One TCP connection. `run()` reads until Logout or disconnect; every send is synchronous."""

    def __init__(self, acceptor: FixAcceptor, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.acceptor = acceptor
        self.reader = reader
        self.writer = writer
        self.parser = FixParser()
        self.client: Any = None
        self.comp_id = ""
        self.state: SeqState | None = None
        self.heartbeat = 30.0
        self.last_in = time.monotonic()
        self.last_out = time.monotonic()
        self.test_request_out: str | None = None
        self.test_request_at = 0.0
        self.logon_seq = 0
        self.queued: dict[int, FixMessage] = {}
        self.resend_asked_to = 0  # highest seq already covered by our ResendRequest
        self.open: dict[int, _Open] = {}
        self.sent_keys: set[tuple[Any, ...]] = set()
        self.channel: str | None = None
        self.group: str | None = None
        self.tasks: list[asyncio.Task[Any]] = []
        self.closing = False
        self.peer = writer.get_extra_info("peername")

    # -- sending --

    def send(self, msg_type: str, body: list[tuple[int, Any]], *, seq: int | None = None,
             poss_dup_of: str | None = None) -> None:
        """Stamp the header and write. `seq` overrides the next number (resends and gap fills)."""
        assert self.state is not None or msg_type == "5"
        state = self.state or SeqState()
        now = utc_timestamp()
        use_seq = seq if seq is not None else state.next_out
        header: list[tuple[int, Any]] = [(35, msg_type), (49, DEALER_COMP_ID), (56, self.comp_id or "UNKNOWN"),
                                         (34, use_seq), (52, now)]
        if poss_dup_of is not None:
            header += [(43, "Y"), (122, poss_dup_of)]
        body = [(t, v) for t, v in body if v is not None]
        if seq is None:
            state.next_out += 1
            if msg_type not in ADMIN_TYPES:
                state.sent[use_seq] = (now, msg_type, list(body))
                if len(state.sent) > SENT_KEEP:
                    state.sent.pop(min(state.sent))
        if self.writer.is_closing():
            return
        self.writer.write(encode(header + body))
        self.last_out = time.monotonic()

    def reject(self, ref: FixMessage, reason: int, text: str, tag: int | None = None) -> None:
        self.send("3", [(45, ref.seq or 0), (371, tag), (372, ref.msg_type or None), (373, reason), (58, text)])

    def logout(self, text: str | None = None) -> None:
        self.send("5", [(58, text)])
        raise SessionEnd(text or "logout")

    # -- main loop --

    async def run(self) -> None:
        try:
            self.tasks.append(asyncio.create_task(self._timers()))
            while not self.closing:
                timeout = LOGON_TIMEOUT if self.state is None else None
                try:
                    data = await asyncio.wait_for(self.reader.read(65536), timeout)
                except TimeoutError:
                    log.info("FIX %s: no Logon within %s s", self.peer, LOGON_TIMEOUT)
                    return
                if not data:
                    return
                self.last_in = time.monotonic()
                for item in self.parser.feed(data):
                    if isinstance(item, Garbled):
                        log.warning("FIX %s %s: garbled message ignored (%s): %r", self.comp_id, self.peer,
                                    item.reason, item.raw[:200])
                        continue
                    await self.on_message(item)
                await self.writer.drain()
        except SessionEnd as end:
            log.info("FIX %s %s: session ended: %s", self.comp_id, self.peer, end)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            await self.close()

    async def close(self) -> None:
        self.closing = True
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        if self.group and self.channel:
            layer = get_channel_layer()
            with contextlib.suppress(Exception):
                await layer.group_discard(self.group, self.channel)
        self.acceptor.release(self)
        with contextlib.suppress(Exception):
            await self.writer.drain()
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()

    async def _timers(self) -> None:
        """Heartbeat when we have been quiet; TestRequest, then disconnect, when the peer has."""
        try:
            while not self.closing:
                await asyncio.sleep(min(1.0, max(self.heartbeat / 4, 0.25)) if self.heartbeat > 0 else 1.0)
                if self.state is None or self.writer.is_closing():
                    continue
                now = time.monotonic()
                if self.heartbeat > 0:
                    if now - self.last_out >= self.heartbeat:
                        self.send("0", [])
                    silent = now - self.last_in
                    if self.test_request_out and self.last_in > self.test_request_at:
                        self.test_request_out = None  # the peer is alive
                    if self.test_request_out and now - self.test_request_at >= self.heartbeat * 1.2:
                        log.info("FIX %s: no answer to TestRequest; disconnecting", self.comp_id)
                        with contextlib.suppress(SessionEnd):
                            self.logout("no heartbeat from the counterparty")
                        self.writer.close()
                        return
                    if silent >= self.heartbeat * 1.2 and not self.test_request_out:
                        self.test_request_out = f"TEST-{int(time.time() * 1000)}"
                        self.test_request_at = now
                        self.send("1", [(112, self.test_request_out)])
                await self._resync_due()
                with contextlib.suppress(ConnectionError):
                    await self.writer.drain()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("FIX %s: timer failed", self.comp_id)
            self.writer.close()

    # -- inbound --

    async def on_message(self, msg: FixMessage) -> None:
        if msg.get(8) != BEGIN_STRING:
            self.logout(f"BeginString must be {BEGIN_STRING}")
        if msg.seq is None:
            self.logout("MsgSeqNum (34) missing or not a number")
        if self.state is None:
            if msg.msg_type != "A":
                self.logout("The first message must be a Logon (35=A)")
            await self.on_logon(msg)
            return
        assert self.state is not None
        if msg.get(49) != self.comp_id or msg.get(56) != DEALER_COMP_ID:
            self.reject(msg, COMP_ID_PROBLEM, f"CompID problem: expected 49={self.comp_id} 56={DEALER_COMP_ID}",
                        49 if msg.get(49) != self.comp_id else 56)
            self.logout("CompID problem")
        seq = msg.seq
        assert seq is not None
        if msg.msg_type == "4" and msg.get(123) != "Y":
            await self.on_sequence_reset(msg, gap_fill=False)
            return
        if seq > self.state.next_in:
            self.on_gap(msg)
            return
        if seq < self.state.next_in:
            if msg.poss_dup:
                return  # a duplicate we already processed
            self.logout(f"MsgSeqNum too low, expecting {self.state.next_in} but received {seq}")
        await self.process(msg)
        await self._drain_queue()

    def on_gap(self, msg: FixMessage) -> None:
        assert self.state is not None and msg.seq is not None
        if msg.msg_type == "5":
            self.send("2", [(7, self.state.next_in), (16, 0)])
            self.logout("Logout received while a sequence gap was open")
        if msg.seq > self.resend_asked_to:
            self.send("2", [(7, self.state.next_in), (16, 0)])
            self.resend_asked_to = msg.seq
        if msg.msg_type == "2":
            self.on_resend_request(msg)  # answered at once (FIX 4.4), its number queued
        self.queued[msg.seq] = msg

    async def _drain_queue(self) -> None:
        assert self.state is not None
        while self.state.next_in in self.queued:
            msg = self.queued.pop(self.state.next_in)
            if msg.msg_type == "2" or (msg.msg_type == "A" and msg.seq == self.logon_seq):
                self.state.next_in += 1  # already acted on when it arrived
                continue
            await self.process(msg)
        for seq in [s for s in self.queued if s < self.state.next_in]:
            del self.queued[seq]
        if not self.queued:
            self.resend_asked_to = 0

    async def process(self, msg: FixMessage) -> None:
        """An in-sequence message: validate, count it, then act."""
        assert self.state is not None
        self.state.next_in += 1
        if msg.bad_fields:
            bad_tag, _value, reason = msg.bad_fields[0]
            text = "Invalid tag number" if reason == INVALID_TAG_NUMBER else "Tag specified without a value"
            self.reject(msg, reason, f"{text}: {bad_tag!r}", int(bad_tag) if bad_tag.isdigit() else None)
            return
        kind = msg.msg_type
        if kind not in FIX44_TYPES:
            self.reject(msg, INVALID_MSG_TYPE, f"Invalid MsgType {kind!r}", 35)
            return
        for tag in HEADER_REQUIRED + REQUIRED.get(kind, ()):
            if tag not in msg:
                self.reject(msg, REQUIRED_TAG_MISSING, f"Required tag missing: {tag}", tag)
                return
        handler = {
            "0": self.on_heartbeat, "1": self.on_test_request, "2": self.on_resend_request_in_seq,
            "3": self.on_session_reject, "4": self.on_gap_fill, "5": self.on_logout, "A": self.on_second_logon,
            "R": self.on_quote_request, "D": self.on_new_order_single,
        }.get(kind)
        if handler is None:
            self.send("j", [(45, msg.seq), (372, kind), (380, 3), (58, f"Unsupported MsgType {kind}")])
            return
        await handler(msg)

    async def on_logon(self, msg: FixMessage) -> None:
        sender, target = msg.get(49) or "", msg.get(56) or ""
        self.comp_id = sender
        if target != DEALER_COMP_ID:
            self.logout(f"TargetCompID must be {DEALER_COMP_ID}")
        hb = msg.get(108)
        if hb is None or not hb.isdigit():
            self.logout("HeartBtInt (108) missing or not a number")
        if msg.get(98, "0") != "0":
            self.logout("EncryptMethod (98) must be 0")
        self.client = await _active_client(sender)
        if self.client is None:
            self.logout(f"Unknown or inactive SenderCompID {sender!r}")
        if not self.acceptor.claim(self):
            self.client = None
            self.logout(f"A session for {sender} is already logged on")
        state = self.acceptor.seq_state(sender)
        reset = msg.get(141) == "Y"
        seq = msg.seq or 0
        if reset:
            if seq != 1:
                self.state = state
                self.logout("A Logon with ResetSeqNumFlag=Y must have MsgSeqNum 1")
            state.reset()
        elif seq < state.next_in:
            self.state = state
            self.logout(f"MsgSeqNum too low, expecting {state.next_in} but received {seq}")
        self.state = state
        self.heartbeat = float(hb or 30)
        self.send("A", [(98, 0), (108, hb), (141, "Y" if reset else None)])
        await self._join_group()
        await self._track_open_rfqs()
        if seq > state.next_in:
            self.logon_seq = seq
            self.on_gap(msg)  # ask for what we missed; the Logon itself counts once the gap is filled
        else:
            state.next_in = seq + 1
        log.info("FIX %s logged on from %s (heartbeat %s s, reset %s)", sender, self.peer, hb, reset)

    async def on_second_logon(self, msg: FixMessage) -> None:
        self.reject(msg, VALUE_INCORRECT, "Already logged on")

    async def on_heartbeat(self, msg: FixMessage) -> None:
        """Liveness is any inbound traffic (`last_in`); nothing else to do."""

    async def on_test_request(self, msg: FixMessage) -> None:
        self.send("0", [(112, msg.get(112))])

    async def on_session_reject(self, msg: FixMessage) -> None:
        log.warning("FIX %s rejected our message %s: %s", self.comp_id, msg.get(45), msg.get(58))

    async def on_logout(self, msg: FixMessage) -> None:
        self.logout(None)

    async def on_resend_request_in_seq(self, msg: FixMessage) -> None:
        self.on_resend_request(msg)

    def on_resend_request(self, msg: FixMessage) -> None:
        """Resend our application messages (PossDupFlag=Y); gap-fill the administrative ones."""
        assert self.state is not None
        begin_text, end_text = msg.get(7) or "", msg.get(16) or ""
        if not begin_text.isdigit() or not end_text.isdigit() or int(begin_text) < 1:
            self.reject(msg, INCORRECT_DATA_FORMAT, "BeginSeqNo (7) and EndSeqNo (16) must be numbers", 7)
            return
        last = self.state.next_out - 1
        begin, end = int(begin_text), int(end_text)
        end = last if end == 0 or end > last else end
        if begin > end:
            self.reject(msg, VALUE_INCORRECT, f"Nothing to resend: our last MsgSeqNum is {last}", 7)
            return
        gap_from: int | None = None
        for seq in range(begin, end + 1):
            kept = self.state.sent.get(seq)
            if kept is None:
                gap_from = seq if gap_from is None else gap_from
                continue
            if gap_from is not None:
                self._gap_fill(gap_from, seq)
                gap_from = None
            original_time, msg_type, body = kept
            self.send(msg_type, body, seq=seq, poss_dup_of=original_time)
        if gap_from is not None:
            self._gap_fill(gap_from, end + 1)

    def _gap_fill(self, seq: int, new_seq: int) -> None:
        self.send("4", [(123, "Y"), (36, new_seq)], seq=seq, poss_dup_of=utc_timestamp())

    async def on_gap_fill(self, msg: FixMessage) -> None:
        await self.on_sequence_reset(msg, gap_fill=True)

    async def on_sequence_reset(self, msg: FixMessage, *, gap_fill: bool) -> None:
        """SequenceReset: GapFill moves on from an in-sequence message; Reset ignores MsgSeqNum."""
        assert self.state is not None
        new_text = msg.get(36) or ""
        if not new_text.isdigit():
            if not gap_fill:
                self.state.next_in = max(self.state.next_in, (msg.seq or 0) + 1)
            self.reject(msg, REQUIRED_TAG_MISSING if not new_text else INCORRECT_DATA_FORMAT,
                        "NewSeqNo (36) missing or not a number", 36)
            return
        new_seq = int(new_text)
        # process() already counted a GapFill; the Reset mode is outside sequence checking.
        current = self.state.next_in
        if new_seq < current:
            self.reject(msg, VALUE_INCORRECT,
                        f"NewSeqNo {new_seq} would lower the expected MsgSeqNum {current}", 36)
            return
        self.state.next_in = new_seq
        if not gap_fill:
            await self._drain_queue()

    # -- application --

    async def _join_group(self) -> None:
        from dealer.desk.events import client_group
        from dealer.events import attach_to_running_loop

        layer = get_channel_layer()
        if layer is None:
            return
        attach_to_running_loop()
        self.channel = await layer.new_channel("fix")
        self.group = client_group(self.client.id)
        await layer.group_add(self.group, self.channel)
        self.tasks.append(asyncio.create_task(self._events(layer)))

    async def _events(self, layer: Any) -> None:
        try:
            while not self.closing:
                message = await layer.receive(self.channel)
                event = message.get("event") if message.get("type") == "desk.event" else None
                rfq = (event or {}).get("rfq")
                if not rfq or not rfq.get("id"):
                    continue
                opened = self.open.get(rfq["id"])
                if opened is None:
                    continue  # not an RFQ of this FIX session (REST and websocket RFQs stay there)
                opened.last_event = time.monotonic()
                self.answer(rfq)
                with contextlib.suppress(ConnectionError):
                    await self.writer.drain()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("FIX %s: event loop failed; falling back to database re-sync", self.comp_id)

    async def _track_open_rfqs(self) -> None:
        for rfq_id, client_rfq_id in await _open_fix_rfqs(self.client):
            self.open[rfq_id] = _Open(rfq_id, client_rfq_id, None, 0.0)

    async def _resync_due(self) -> None:
        now = time.monotonic()
        due = [o.rfq_id for o in self.open.values() if now - o.last_event >= RESYNC_SECONDS]
        if not due:
            return
        for payload in await _rfq_payloads(self.client, due):
            opened = self.open.get(payload["id"])
            if opened is not None:
                opened.last_event = time.monotonic()
                self.answer(payload)

    def answer(self, rfq: dict[str, Any], *, repeat: bool = False) -> None:
        """Send what the RFQ's state calls for, once: a Quote, a QuoteRequestReject, or nothing."""
        opened = self.open.get(rfq["id"])
        req_id = opened.quote_req_id if opened else rfq["client_rfq_id"]
        symbol = (opened.symbol if opened else None) or rfq["isin"]
        status, quote = rfq["status"], rfq.get("quote")
        if status == "quoted" and quote:
            key: tuple[Any, ...] = ("quote", quote["id"])
            valid_until = datetime.fromisoformat(quote["valid_until"]) if quote.get("valid_until") else None
            if valid_until is not None and valid_until <= datetime.now(UTC):
                return  # expired meanwhile: the expiry event follows
            if key in self.sent_keys and not repeat:
                return
            self.sent_keys.add(key)
            price, size = Decimal(quote["price"]), Decimal(quote["quantity"])
            px = [(132, _fmt(price)), (134, _fmt(size))] if rfq["side"] == "sell" else [(133, _fmt(price)),
                                                                                         (135, _fmt(size))]
            self.send("S", [(131, req_id), (117, quote["id"]), (537, 1), (55, symbol), (48, rfq["isin"]), (22, 4),
                            (54, 1 if rfq["side"] == "buy" else 2), (38, _fmt(Decimal(rfq["quantity"]))), *px,
                            (62, _fix_time(quote.get("valid_until"))), (60, utc_timestamp())])
            return
        if status in ("declined", "failed") or (status == "expired" and not quote):
            key = ("reject", rfq["id"])
            if key in self.sent_keys and not repeat:
                return
            self.sent_keys.add(key)
            self.open.pop(rfq["id"], None)
            reason = rfq.get("reason") or status
            self.quote_request_reject(req_id, symbol, rfq["isin"], _reject_reason(status, reason),
                                      f"RFQ {rfq['id']} {status}: {reason}")
            return
        if status in ("booked", "accepted", "rejected", "expired"):
            self.open.pop(rfq["id"], None)
            if repeat:
                trade = f" (trade {rfq['trade_id']})" if rfq.get("trade_id") else ""
                self.quote_request_reject(req_id, symbol, rfq["isin"], OTHER,
                                          f"RFQ {rfq['id']} is already {status}{trade}")

    def quote_request_reject(self, req_id: str, symbol: str | None, isin: str | None, reason: int,
                             text: str) -> None:
        group = [(146, 1), (55, symbol or isin), (48, isin), (22, 4 if isin else None)] if (symbol or isin) else []
        self.send("AG", [(131, req_id), (658, reason), *group, (58, text[:200])])

    async def on_quote_request(self, msg: FixMessage) -> None:
        req_id = msg.get(131) or ""
        count = msg.get(146) or ""
        symbol, isin = msg.get(55), msg.get(48)
        if count != "1":
            self.quote_request_reject(req_id, symbol, isin, OTHER, "NoRelatedSym (146) must be 1: one instrument")
            return
        for tag in (48, 22, 54, 38):
            if tag not in msg:
                self.reject(msg, REQUIRED_TAG_MISSING, f"Required tag missing: {tag}", tag)
                return
        if msg.get(22) != "4":
            self.quote_request_reject(req_id, symbol, isin, UNKNOWN_SYMBOL,
                                      "SecurityIDSource (22) must be 4: SecurityID is an ISIN")
            return
        side = {"1": "buy", "2": "sell"}.get(msg.get(54) or "")
        if side is None:
            self.reject(msg, VALUE_INCORRECT, "Side (54) must be 1 (buy) or 2 (sell)", 54)
            return
        data = {"client_rfq_id": req_id, "isin": isin, "side": side, "quantity": msg.get(38)}
        try:
            payload, created = await _rfq_create(self.client, data)
        except DeskError as exc:
            reason = UNKNOWN_SYMBOL if exc.field == "isin" else EXCEEDS_LIMIT if (
                exc.field == "quantity" and "at most 10000000000" in exc.message) else OTHER
            where = f"{exc.field}: " if exc.field else ""
            self.quote_request_reject(req_id, symbol, isin, reason, f"{where}{exc.message}")
            return
        self.open[payload["id"]] = _Open(payload["id"], req_id, symbol, time.monotonic())
        if not created:
            self.answer(payload, repeat=True)

    async def on_new_order_single(self, msg: FixMessage) -> None:
        cl_ord_id = msg.get(11) or ""
        quote_id = msg.get(117)
        side_text = msg.get(54)
        side = {"1": "buy", "2": "sell"}.get(side_text or "")
        if side is None:
            self.reject(msg, VALUE_INCORRECT, "Side (54) must be 1 (buy) or 2 (sell)", 54)
            return
        if not quote_id:
            self.execution_rejected(msg, "QuoteID (117) is required: accept a Quote by its QuoteID")
            return
        try:
            fill = await _accept(self.client, quote_id, side, msg.get(48), msg.get(38))
        except DeskError as exc:
            self.execution_rejected(msg, exc.message)
            return
        self.open.pop(fill["rfq_id"], None)
        qty, price = _fmt(fill["quantity"]), _fmt(fill["price"])
        self.send("8", [(37, fill["trade_id"]), (11, cl_ord_id), (17, f"T{fill['trade_id']}"), (150, "F"),
                        (39, 2), (55, msg.get(55) or fill["isin"]), (48, fill["isin"]), (22, 4),
                        (54, side_text), (38, qty), (40, "D"), (117, quote_id), (44, price), (32, qty), (31, price),
                        (151, 0), (14, qty), (6, price), (60, _fix_time(fill["booked_at"]))])

    def execution_rejected(self, msg: FixMessage, text: str) -> None:
        isin = msg.get(48)
        self.send("8", [(37, "NONE"), (11, msg.get(11)), (17, f"R{msg.seq}-{int(time.time() * 1000)}"),
                        (150, 8), (39, 8), (103, 99), (55, msg.get(55) or isin), (48, isin),
                        (22, 4 if isin else None), (54, msg.get(54)), (38, msg.get(38)), (117, msg.get(117)),
                        (151, 0), (14, 0), (6, 0), (58, text[:200]), (60, utc_timestamp())])


def _reject_reason(status: str, reason: str) -> int:
    from dealer.desk.pricing_service import REASON_TEXT

    if status == "declined" and reason in (REASON_TEXT["over_max_size"], REASON_TEXT["over_credit_line"]):
        return EXCEEDS_LIMIT
    return OTHER


# --- database access (each one service or selector call, off the event loop) ------------------

@database_sync_to_async
def _active_client(code: str) -> Any:
    from crm.models import Client

    if not code:
        return None
    return Client.objects.select_related("tier").filter(code=code, active=True).first()


@database_sync_to_async
def _open_fix_rfqs(client: Any) -> list[tuple[int, str]]:
    from dealer.desk.models import Rfq

    return list(Rfq.objects.filter(client=client, channel="fix", status__in=(
        Rfq.Status.RECEIVED, Rfq.Status.PRICING, Rfq.Status.PENDING_REVIEW, Rfq.Status.QUOTED,
    )).values_list("id", "client_rfq_id"))


@database_sync_to_async
def _rfq_payloads(client: Any, ids: list[int]) -> list[dict[str, Any]]:
    from dealer.desk.selectors import rfq_payload, rfqs_with_related

    return [rfq_payload(r) for r in rfqs_with_related().filter(client=client, id__in=ids)]


@database_sync_to_async
def _rfq_create(client: Any, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    from dealer.desk import services
    from dealer.desk.selectors import rfq_payload, rfqs_with_related

    rfq, created = services.rfq_create(client=client, data=services.parse_rfq_input(data), channel="fix")
    if created:
        return services.rfq_payload_new(rfq, data["isin"]), True
    return rfq_payload(rfqs_with_related().get(pk=rfq.pk)), False


@database_sync_to_async
def _accept(client: Any, quote_id: str, side: str, isin: str | None, quantity: str | None) -> dict[str, Any]:
    """Check the order against its quote, then book through `services.quote_accept`."""
    from dealer.desk import services
    from dealer.desk.models import Quote

    if not quote_id.isdigit():
        raise DeskError(f"Unknown QuoteID {quote_id!r}.")
    quote = Quote.objects.select_related("rfq", "rfq__instrument").filter(id=int(quote_id), rfq__client=client).first()
    if quote is None or quote.status == Quote.Status.RECOMMENDED:
        raise DeskError(f"Unknown QuoteID {quote_id!r}.")
    rfq = quote.rfq
    if side != rfq.side:
        raise DeskError(f"Side does not match the quote request: the client {rfq.side}s.")
    if isin and isin != rfq.instrument.isin:
        raise DeskError(f"SecurityID {isin} does not match the quote's instrument {rfq.instrument.isin}.")
    if quantity:
        try:
            if Decimal(quantity) != quote.quantity:
                raise DeskError(f"OrderQty {quantity} does not match the quoted size {_fmt(quote.quantity)}.")
        except ArithmeticError:
            raise DeskError(f"OrderQty {quantity!r} is not a number.") from None
    trade, _created = services.quote_accept(client=client, rfq_id=rfq.id, quote_id=quote.id)
    return {"trade_id": trade.id, "rfq_id": rfq.id, "quantity": trade.quantity, "price": trade.price,
            "isin": rfq.instrument.isin, "booked_at": trade.booked_at.isoformat()}


# --- the acceptor ----------------------------------------------------------------------------

class FixAcceptor:
    """The listening socket, the per-client sequence numbers, and the one live session per client."""

    def __init__(self) -> None:
        self.server: asyncio.base_events.Server | None = None
        self.states: dict[str, SeqState] = {}
        self.sessions: dict[str, FixSession] = {}
        self.port = 0

    def seq_state(self, comp_id: str) -> SeqState:
        return self.states.setdefault(comp_id, SeqState())

    def claim(self, session: FixSession) -> bool:
        current = self.sessions.get(session.comp_id)
        if current is not None and current is not session and not current.closing:
            return False
        self.sessions[session.comp_id] = session
        return True

    def release(self, session: FixSession) -> None:
        if self.sessions.get(session.comp_id) is session:
            del self.sessions[session.comp_id]

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await FixSession(self, reader, writer).run()

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._connected, host, port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for session in list(self.sessions.values()):
            with contextlib.suppress(Exception):
                with contextlib.suppress(SessionEnd):
                    session.logout("The dealer is shutting down")
                await session.close()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 3)


async def start_fix(host: str = "127.0.0.1", port: int = 9878) -> FixAcceptor:
    """Listen (raises OSError when the port is taken) and return the running acceptor."""
    from dealer.events import attach_to_running_loop

    attach_to_running_loop()
    acceptor = FixAcceptor()
    await acceptor.start(host, port)
    log.debug("FIX 4.4 acceptor on %s:%s", host, acceptor.port)
    return acceptor


async def serve_fix(host: str = "127.0.0.1", port: int = 9878) -> None:
    """Run the acceptor until cancelled."""
    acceptor = await start_fix(host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await acceptor.close()
