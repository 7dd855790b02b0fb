"""`GET /healthz`: 200 when every part answers, 503 naming the parts that do not."""
from __future__ import annotations

import asyncio
import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from kombu import Connection


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _broker() -> str:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=1) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
        if conn.transport_cls != "memory" and hasattr(conn.default_channel, "client"):
            conn.default_channel.client.ping()
    return "ok"


def _channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        return "down"

    async def roundtrip() -> bool:
        """Send to a fresh channel and read it back, in one event loop (the pub/sub layer's
        subscriptions belong to the loop that made them)."""
        channel = await layer.new_channel()
        marker = uuid.uuid4().hex
        await layer.send(channel, {"type": "health.ping", "marker": marker})
        message = await asyncio.wait_for(layer.receive(channel), timeout=2)
        return bool(message.get("marker") == marker)

    return "ok" if async_to_sync(roundtrip)() else "down"


def _market() -> str:
    from dealer.market.selectors import latest_snapshot_row

    row = latest_snapshot_row()
    if row is None:
        return "no market data"
    age = time.time() - row.taken_at.timestamp()
    return "ok" if age <= max(30.0, 10 * settings.MARKET_TICK_SECONDS) else f"stale ({age:.0f} s)"


CHECKS = {"database": _database, "broker": _broker, "channel_layer": _channel_layer, "market": _market}


def healthz(request: HttpRequest) -> JsonResponse:
    body: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            body[name] = check()
        except Exception as exc:  # noqa: BLE001 - any failure means the part is down
            body[name] = f"down: {type(exc).__name__}"
    down = [name for name, state in body.items() if state != "ok"]
    status = "ok" if not down else "down: " + ", ".join(down)
    return JsonResponse({"status": status, **body}, status=200 if not down else 503)
