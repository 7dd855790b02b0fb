from __future__ import annotations

import time
from typing import Any, Callable

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
