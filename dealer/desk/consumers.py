"""Websocket consumers: thin. Authenticate, join groups, forward typed events, call services."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from dealer.desk.events import client_group
from dealer.errors import DeskError
from dealer.events import attach_to_running_loop
from dealer.roles import MANAGEMENT, SENIOR_TRADER, TRADER, roles_of


@database_sync_to_async
def _user_for_token(key: str) -> Any:
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token and token.user.is_active else AnonymousUser()


class TokenAuthMiddleware:
    """Token from `?token=` or an `Authorization: Token <key>` header; no Origin needed."""

    def __init__(self, inner: Any):
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        key = (parse_qs(scope.get("query_string", b"").decode()).get("token") or [""])[0]
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                text = value.decode()
                if text.lower().startswith("token "):
                    key = text[6:].strip()
        scope = dict(scope, user=await _user_for_token(key) if key else AnonymousUser())
        return await self.inner(scope, receive, send)


@database_sync_to_async
def _client_for(user: Any) -> Any:
    from crm.models import Client

    return Client.objects.select_related("tier").filter(user=user, active=True).first()


@database_sync_to_async
def _still_active(client_id: int) -> bool:
    from crm.models import Client

    return Client.objects.filter(pk=client_id, active=True).exists()


class PushConsumer(AsyncWebsocketConsumer):
    """Pushes (`desk.event`) go straight to the socket. Channels' own dispatch first hops to the
    one shared sync thread to close stale database connections, before every message; a push
    touches no database, and at hundreds of messages a second that hop was most of their cost.
    Everything else (connect, receive) keeps Channels' dispatch."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == "desk.event":
            await self.desk_event(message)
        else:
            await super().dispatch(message)

    async def desk_event(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message["event"]))


class ClientConsumer(PushConsumer):
    """`/ws/client/`: an API client's RFQs. Send `rfq.submit` and `quote.accept`; receive events."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.client = await _client_for(user) if user and user.is_authenticated else None
        if self.client is None:
            await self.close(code=4401)
            return
        attach_to_running_loop()
        self.group = client_group(self.client.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if len(text_data or bytes_data or "") > settings.API_MAX_BODY_BYTES:
            await self.send(text_data=json.dumps({
                "type": "error", "status": 413,
                "detail": f"The message is over {settings.API_MAX_BODY_BYTES // 1024} KB: nothing was done."}))
            return
        try:
            message = json.loads(text_data or "")
        except (TypeError, ValueError):
            await self._error("The message is not valid JSON.")
            return
        if not isinstance(message, dict):
            await self._error("The message must be a JSON object with a type.")
            return
        kind = message.get("type")
        if kind in ("rfq.submit", "quote.accept") and not await _still_active(self.client.id):
            await self.send(text_data=json.dumps({"type": "error", "status": 403,
                                                  "detail": "This client is no longer active."}))
            await self.close(code=4403)
            return
        try:
            if kind == "rfq.submit":
                body = {k: v for k, v in message.items() if k != "type"}
                result = await self._submit(body)
                if result is not None:
                    await self.send(text_data=json.dumps(result))
            elif kind == "quote.accept":
                result = await self._accept(message)
                if result is not None:
                    await self.send(text_data=json.dumps(result))
            else:
                await self._error(f"Unknown message type {kind!r}: use rfq.submit or quote.accept.")
        except DeskError as exc:
            body = exc.as_body()
            detail = body.get("detail") or "; ".join(f"{f}: {' '.join(m)}" for f, m in body["errors"].items())
            await self.send(text_data=json.dumps({"type": "error", "detail": detail, "status": exc.status, **body}))

    async def _error(self, detail: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "detail": detail}))

    @database_sync_to_async
    def _submit(self, body: dict[str, Any]) -> dict[str, Any] | None:
        from dealer.desk import selectors, services

        data = services.parse_rfq_input(body)
        rfq, created = services.rfq_create(client=self.client, data=data, channel="ws")
        if created:
            return None  # rfq.received arrives through the client's group, in order with what follows
        return {"type": "rfq.received", "rfq": selectors.rfq_payload(rfq), "repeat": True}

    @database_sync_to_async
    def _accept(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """None once booked (the `trade` event comes through the client's group, in order); a repeat
        is answered here with the same trade, as REST answers it with a 200."""
        from dealer.desk import selectors, services

        extra = sorted(set(message) - {"type", "rfq_id", "quote_id"})
        if extra:
            raise DeskError("Unknown field.", field=extra[0])
        try:
            rfq_id = int(message.get("rfq_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise DeskError("Must be the RFQ's id.", field="rfq_id") from None
        trade, created = services.quote_accept(client=self.client, rfq_id=rfq_id, quote_id=message.get("quote_id"))
        if created:
            return None
        return {"type": "trade", "rfq": selectors.rfq_payload(selectors.rfqs_with_related().get(pk=trade.rfq_id)),
                "repeat": True}


class DeskConsumer(PushConsumer):
    """`/ws/desk/`: traders and management see every RFQ event; senior traders also get reviews."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        roles = await database_sync_to_async(lambda: roles_of(user))() if user else frozenset()
        if not (roles & {TRADER, SENIOR_TRADER, MANAGEMENT}):
            await self.close(code=4403)
            return
        attach_to_running_loop()
        self.groups_joined = ["desk"] + (["review"] if SENIOR_TRADER in roles else [])
        for g in self.groups_joined:
            await self.channel_layer.group_add(g, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps({"type": "hello", "user": user.username, "roles": sorted(roles)}))

    async def disconnect(self, code: int) -> None:
        for g in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(g, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=json.dumps({"type": "error", "detail": "The desk socket only pushes; act over REST."}))

    async def desk_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event.get("type") == "review.request" and "review" not in self.groups_joined:
            return
        await self.send(text_data=json.dumps(event))
