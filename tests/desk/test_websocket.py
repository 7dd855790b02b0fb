"""Websockets with a real client against the live ASGI server and the real worker."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.test import Client as HttpClient

from dealer.desk.models import Rfq, Trade
from tests.desk.helpers import api_for_token, rfq_body

pytestmark = pytest.mark.django_db(transaction=True)


async def _recv(ws: Any, timeout: float = 8.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _recv_type(ws: Any, kind: str, timeout: float = 8.0) -> dict[str, Any]:
    while True:
        msg = await _recv(ws, timeout)
        if msg.get("type") == kind:
            return msg


def test_client_socket_submits_gets_the_quote_and_books(book, live) -> None:
    token = book.token("CLT0007")
    isin = book.isin()

    async def run() -> list[str]:
        async with websockets.connect(f"{live.ws_url}/ws/client/?token={token}") as ws:
            await ws.send(json.dumps({"type": "rfq.submit", **rfq_body(isin, "ws1")}))
            received = await _recv(ws)
            assert received["type"] == "rfq.received" and received["rfq"]["client_rfq_id"] == "ws1"
            quote = await _recv(ws)
            assert quote["type"] == "quote" and quote["rfq"]["status"] == "quoted"
            q = quote["rfq"]["quote"]
            await ws.send(json.dumps({"type": "quote.accept", "rfq_id": quote["rfq"]["id"], "quote_id": q["id"]}))
            trade = await _recv_type(ws, "trade")
            assert trade["rfq"]["status"] == "booked" and trade["rfq"]["trade_id"]
            return [received["type"], quote["type"], trade["type"]]

    assert asyncio.run(run()) == ["rfq.received", "quote", "trade"]
    assert Trade.objects.count() == 1


def test_a_repeated_accept_on_the_socket_is_answered_with_the_same_trade(book, live) -> None:
    """A client that retries after a timeout hears back, as REST answers a repeat with a 200."""
    token = book.token("CLT0007")
    isin = book.isin()

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        async with websockets.connect(f"{live.ws_url}/ws/client/?token={token}") as ws:
            await ws.send(json.dumps({"type": "rfq.submit", **rfq_body(isin, "ws-repeat")}))
            quote = await _recv_type(ws, "quote")
            accept = {"type": "quote.accept", "rfq_id": quote["rfq"]["id"], "quote_id": quote["rfq"]["quote"]["id"]}
            await ws.send(json.dumps(accept))
            first = await _recv_type(ws, "trade")
            await ws.send(json.dumps(accept))
            return first, await _recv(ws)

    first, again = asyncio.run(run())
    assert again["type"] == "trade" and again["repeat"] is True
    assert again["rfq"]["trade_id"] == first["rfq"]["trade_id"] == Trade.objects.get().id
    assert again["rfq"]["status"] == "booked"


def test_an_inactive_client_is_refused_at_the_handshake_and_cut_off_when_deactivated(book, live) -> None:
    from crm.models import Client

    token = book.token("CLT0007")
    isin = book.isin()
    Client.objects.filter(code="CLT0007").update(active=False)

    async def refused() -> None:
        with pytest.raises(websockets.exceptions.InvalidStatus):
            async with websockets.connect(f"{live.ws_url}/ws/client/?token={token}") as ws:
                await ws.recv()

    asyncio.run(refused())
    Client.objects.filter(code="CLT0007").update(active=True)

    async def cut_off() -> dict[str, Any]:
        async with websockets.connect(f"{live.ws_url}/ws/client/?token={token}") as ws:
            await sync_to_async(Client.objects.filter(code="CLT0007").update)(active=False)
            await ws.send(json.dumps({"type": "rfq.submit", **rfq_body(isin, "after")}))
            err = await _recv(ws)
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                await _recv(ws)
            return err

    err = asyncio.run(cut_off())
    assert err["type"] == "error" and err["status"] == 403 and "no longer active" in err["detail"]
    assert not Rfq.objects.exists()


def test_client_socket_refuses_bad_messages_and_stays_open(book, live) -> None:
    token = book.token("CLT0007")
    isin = book.isin()

    async def run() -> None:
        async with websockets.connect(f"{live.ws_url}/ws/client/", additional_headers={"Authorization": f"Token {token}"}) as ws:
            await ws.send("not json")
            assert (await _recv(ws))["type"] == "error"
            await ws.send(json.dumps({"type": "rfq.cancel"}))
            err = await _recv(ws)
            assert err["type"] == "error" and "Unknown message type" in err["detail"]
            await ws.send(json.dumps({"type": "rfq.submit", **rfq_body(isin, "bad", quantity="-1")}))
            err = await _recv(ws)
            assert err["type"] == "error" and "quantity" in err["detail"]
            await ws.send(json.dumps({"type": "rfq.submit", **rfq_body("US0000000000", "bad2")}))
            assert "isin" in (await _recv(ws))["detail"]
            await ws.send(json.dumps({"type": "quote.accept", "rfq_id": 999999, "quote_id": 1}))
            assert (await _recv(ws))["type"] == "error"
            await ws.send(json.dumps({"type": "rfq.submit", **rfq_body(isin, "big"), "pad": "x" * 70_000}))
            big = await _recv(ws)
            assert big["type"] == "error" and big["status"] == 413 and "64 KB" in big["detail"]
            await ws.send(json.dumps({"type": "rfq.submit", "isin": "short", "side": "hold"}))
            several = await _recv(ws)
            assert set(several["errors"]) == {"client_rfq_id", "quantity", "isin", "side"}
            # Still open and working.
            await ws.send(json.dumps({"type": "rfq.submit", **rfq_body(isin, "good")}))
            assert (await _recv(ws))["type"] == "rfq.received"

    asyncio.run(run())
    assert list(Rfq.objects.values_list("client_rfq_id", flat=True)) == ["good"]


@pytest.mark.parametrize("query", ["", "?token=" + "0" * 40])
def test_client_socket_refuses_a_missing_or_wrong_token_at_the_handshake(book, live, query) -> None:
    async def run() -> None:
        with pytest.raises(websockets.exceptions.InvalidStatus):
            async with websockets.connect(f"{live.ws_url}/ws/client/{query}") as ws:
                await ws.recv()

    asyncio.run(run())


def _session_cookie(username: str) -> str:
    http = HttpClient()
    assert http.login(username=username, password="demo")
    return f"sessionid={http.cookies['sessionid'].value}"


def test_desk_socket_pushes_review_requests_to_senior_traders(book, live) -> None:
    cookie = _session_cookie("senior1")
    origin = live.url
    api = api_for_token(book.token("CLT0001"))
    isin = book.isin()

    async def run() -> dict[str, Any]:
        async with websockets.connect(f"{live.ws_url}/ws/desk/", additional_headers={"Cookie": cookie, "Origin": origin}) as ws:
            hello = await _recv(ws)
            assert hello["type"] == "hello" and "senior_trader" in hello["roles"]
            r = await sync_to_async(api.post)("/api/rfqs/", rfq_body(isin, "t1", quantity="20000000"), format="json")
            assert r.status_code == 202
            return await _recv_type(ws, "review.request")

    msg = asyncio.run(run())
    assert msg["rfq"]["client"] == "CLT0001" and msg["rfq"]["recommendation"]["price"]


@pytest.mark.parametrize("who,origin_ok", [("rm1", True), ("senior1", False), (None, True)])
def test_desk_socket_refuses_other_roles_and_foreign_origins(book, live, who, origin_ok) -> None:
    headers = {"Origin": live.url if origin_ok else "http://evil.example"}
    if who:
        headers["Cookie"] = _session_cookie(who)

    async def run() -> None:
        with pytest.raises((websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosed)):
            async with websockets.connect(f"{live.ws_url}/ws/desk/", additional_headers=headers) as ws:
                await _recv(ws, 3)

    asyncio.run(run())
