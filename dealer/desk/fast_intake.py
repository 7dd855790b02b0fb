"""The RFQ intake's hot path: `POST /api/rfqs/` in one database round trip.

At 200 RFQs a second on two cores the full Django + DRF request cycle (middleware adapters, a
thread per request, token, client, instrument and insert queries, transaction) costs more CPU
than the desk can spend. This ASGI layer, in front of Django, serves the common case only: a
valid token of an active client and a valid new RFQ on an instrument open for RFQs. One
`INSERT ... SELECT ... RETURNING` authenticates (token -> user -> client -> tier) and stores the
RFQ against the instrument, the database's unique (client, client_rfq_id) refusing a repeat.
Everything else (bad input, repeats, unknown or closed instruments, bad tokens, large bodies) is
handed, body and all, to the Django view, which answers it exactly as the contract says.

With PostgreSQL and Redis (services mode) the whole path runs on the server's event loop: an
async psycopg pool, the channel layer's own `group_send`, an async Redis client for the pricing
flag; no thread hop, no Django connection handling. With SQLite (embedded) it runs in a worker
thread on Django's connection. Publishing and the pricing run are the same calls the service
makes.
"""
from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any, Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection
from django.utils import timezone

from dealer.desk.events import client_group
from dealer.desk.models import Rfq
from dealer.desk.services import (
    RfqInput, _enqueue_pricing, parse_rfq_input, pricing_flag, received_desk_row, rfq_payload_new,
)
from dealer.errors import DeskError
from dealer.events import apublish_many, publish

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_INTAKE_SQL = """
    INSERT INTO desk_rfq (client_id, client_rfq_id, instrument_id, side, quantity, status, reason, channel, tier,
                          received_at, updated_at)
    SELECT c.id, %s, i.id, %s, %s, 'received', '', 'rest', t.number, %s, %s
    FROM authtoken_token k
    JOIN auth_user u ON u.id = k.user_id
    JOIN crm_client c ON c.user_id = u.id
    JOIN crm_tier t ON t.id = c.tier_id
    JOIN market_instrument i ON i.isin = %s AND i.rfq_enabled
    WHERE k.key = %s AND u.is_active AND c.active
    RETURNING id, client_id, tier,
        (SELECT x.code FROM crm_client x WHERE x.id = desk_rfq.client_id),
        (SELECT x.name FROM crm_client x WHERE x.id = desk_rfq.client_id),
        (SELECT a.code FROM market_assetclass a JOIN market_instrument j ON j.asset_class_id = a.id
         WHERE j.id = desk_rfq.instrument_id)
"""


def _params(rfq: RfqInput, key: str, at: Any) -> list[Any]:
    return [rfq.client_rfq_id, rfq.side, rfq.quantity, at, at, rfq.isin, key]


def _messages(rfq: RfqInput, row: tuple[Any, ...], now: Any) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    """The client's and the desk's messages for a stored RFQ, and the 202 body."""
    rfq_id, client_id, tier, code, name, asset_class = row
    # The fields `rfq_payload_new` reads (a model instance cost more than the rest of this function).
    stored = SimpleNamespace(id=rfq_id, client_rfq_id=rfq.client_rfq_id, side=rfq.side, quantity=rfq.quantity,
                             status=Rfq.Status.RECEIVED, received_at=now)
    payload = rfq_payload_new(stored, rfq.isin)
    desk_row = received_desk_row(payload, code=code, name=name, tier=tier, asset_class=asset_class, channel="rest")
    messages = [(client_group(client_id), {"type": "rfq.received", "rfq": payload}),
                ("desk", {"type": "rfq", "rfq": desk_row})]
    return messages, {"id": rfq_id, "client_rfq_id": rfq.client_rfq_id, "status": "received"}


def _token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:6].lower() == "token ":
                return text[6:].strip()
    return None


def _intake(key: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """Store the RFQ and publish it (in a worker thread, on Django's connection); None hands the
    request to the Django view."""
    try:
        rfq: RfqInput = parse_rfq_input(data)
    except DeskError:
        return None
    close_old_connections()
    try:
        with connection.cursor() as cursor:
            now = timezone.now()
            try:
                cursor.execute(_INTAKE_SQL, _params(rfq, key, connection.ops.adapt_datetimefield_value(now)))
            except IntegrityError:
                return None  # a repeat: the view answers with the first RFQ or a 409
            row = cursor.fetchone()
    finally:
        if not connection.in_atomic_block:
            connection.close()
    if row is None:
        return None  # a bad token, an unknown or closed instrument: the view says which
    messages, body = _messages(rfq, row, now)
    for group, event in messages:
        publish(group, event)
    _enqueue_pricing()
    return body


class _AsyncIntake:
    """The hot path on the server's event loop (PostgreSQL and Redis): one pool per loop."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pool: Any = None

    async def _pool(self) -> Any:
        loop = asyncio.get_running_loop()
        if self.pool is None or self.loop is not loop:
            from psycopg.conninfo import make_conninfo
            from psycopg_pool import AsyncConnectionPool

            db = settings.DATABASES["default"]
            params = {"dbname": db["NAME"], "user": db.get("USER"), "password": db.get("PASSWORD"),
                      "host": db.get("HOST"), "port": db.get("PORT")}
            conninfo = make_conninfo(**{k: str(v) for k, v in params.items() if v})
            pool = AsyncConnectionPool(conninfo, min_size=1, max_size=4, open=False, kwargs={"autocommit": True})
            await pool.open()
            self.pool, self.loop = pool, loop
        return self.pool

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def __call__(self, key: str, data: dict[str, Any]) -> dict[str, Any] | None:
        import psycopg

        try:
            rfq = parse_rfq_input(data)
        except DeskError:
            return None
        pool = await self._pool()
        now = timezone.now()
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(_INTAKE_SQL, _params(rfq, key, now))
                row = await cursor.fetchone()
        except psycopg.errors.UniqueViolation:
            return None  # a repeat: the view answers with the first RFQ or a 409
        if row is None:
            return None
        messages, body = _messages(rfq, row, now)
        if await apublish_many(messages, ring=pricing_flag):
            await asyncio.get_running_loop().run_in_executor(None, _enqueue_run)
        return body


def _enqueue_run() -> None:
    from dealer.desk.tasks import price_rfqs

    price_rfqs.delay()


class RfqIntakeFastPath:
    """ASGI layer serving the hot path of `POST /api/rfqs/`; the rest goes to `app` unchanged."""

    def __init__(self, app: Callable[..., Awaitable[None]]):
        self.app = app
        on_loop = settings.REDIS_URL and settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
        self.intake = _AsyncIntake() if on_loop else sync_to_async(_intake, thread_sensitive=False)

    def close_pool(self, timeout: float = 5.0) -> None:
        """Close the async path's database connections (from another thread, e.g. a test's teardown)."""
        intake = self.intake
        if isinstance(intake, _AsyncIntake) and intake.loop is not None and not intake.loop.is_closed():
            asyncio.run_coroutine_threadsafe(intake.close(), intake.loop).result(timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/api/rfqs/":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        result = None
        key = _token(scope)
        if key and size <= settings.API_MAX_BODY_BYTES:
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if isinstance(data, dict):
                result = await self.intake(key, data)
        if result is None:
            await self.app(scope, _replay(body, receive), send)
            return
        out = json.dumps(result, separators=(",", ":")).encode()  # as DRF renders the other answers
        await send({"type": "http.response.start", "status": 202,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the real channel (which reports the client's disconnect)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
