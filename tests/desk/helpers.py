from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from rest_framework.test import APIClient


def wait_for(fn: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {fn}")
        time.sleep(interval)


_ASSET_URL = re.compile(r'(?:src|href)\s*=\s*["\']([^"\']*)["\']', re.I)


def external_assets(html: str) -> list[str]:
    """Every script, style, image or link address of a page that leaves the server (rule 7: no CDN)."""
    return [url for url in _ASSET_URL.findall(html) if re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", url, re.I)]


def api_for_token(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def api_for_user(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def rfq_body(isin: str, rid: str = "r1", side: str = "buy", quantity: str = "500000") -> dict[str, str]:
    return {"client_rfq_id": rid, "isin": isin, "side": side, "quantity": quantity}


def rfq_state(api: APIClient, rfq_id: int) -> dict[str, Any]:
    r = api.get(f"/api/rfqs/{rfq_id}/")
    assert r.status_code == 200, r.content
    return r.json()


def wait_status(api: APIClient, rfq_id: int, *statuses: str, timeout: float = 10.0) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = rfq_state(api, rfq_id)
        return body if body["status"] in statuses else None

    return wait_for(check, timeout)


def hedge_fills_face(isin: str):
    """The desk's signed face from hedge fills on an instrument (buys +)."""
    from decimal import Decimal

    from dealer.hedging.models import HedgeFill

    return sum(((f.quantity if f.order.side == "buy" else -f.quantity)
                for f in HedgeFill.objects.filter(order__instrument__isin=isin).select_related("order")), Decimal(0))


def position_face(isin: str):
    from decimal import Decimal

    from dealer.desk.models import Position

    return Position.objects.filter(instrument__isin=isin).values_list("quantity", flat=True).first() or Decimal(0)


def wait_reconciled(isin: str, expected_without_hedges) -> None:
    """The position equals what client trades made of it plus the hedge fills (which run concurrently)."""
    wait_for(lambda: position_face(isin) == expected_without_hedges + hedge_fills_face(isin), timeout=10, interval=0.1)
