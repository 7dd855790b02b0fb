"""`POST /api/rfqs/` through the live ASGI server, where the intake's hot path serves the common
case and hands everything else to the Django view: same answers either way."""
from __future__ import annotations

import httpx
import pytest

from dealer.desk.models import Rfq
from tests.desk.helpers import rfq_body, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _http(live, token: str) -> httpx.Client:
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Token {token}"}, timeout=15)


def test_a_new_rfq_is_stored_once_priced_and_repeats_are_harmless(book, live) -> None:
    isin = book.isin()
    with _http(live, book.token("CLT0007")) as http:
        r = http.post("/api/rfqs/", json=rfq_body(isin, "fast-1"))
        assert r.status_code == 202 and r.headers["content-type"] == "application/json"
        body = r.json()
        assert set(body) == {"id", "client_rfq_id", "status"} and body["status"] == "received"
        rfq = Rfq.objects.get(id=body["id"])
        assert (rfq.client.code, rfq.instrument.isin, rfq.side, rfq.quantity, rfq.tier, rfq.channel) == (
            "CLT0007", isin, "buy", 500000, 3, "rest")
        again = http.post("/api/rfqs/", json=rfq_body(isin, "fast-1"))
        assert again.status_code == 200 and again.json()["id"] == body["id"]
        changed = http.post("/api/rfqs/", json=rfq_body(isin, "fast-1", quantity="1000"))
        assert changed.status_code == 409
        wait_for(lambda: http.get(f"/api/rfqs/{body['id']}/").json()["status"] == "quoted")
    assert Rfq.objects.filter(client_rfq_id="fast-1").count() == 1


@pytest.mark.parametrize("change,field", [({"isin": "US0000000000"}, "isin"), ({"quantity": "-1"}, "quantity"),
                                          ({"side": "hold"}, "side"), ({"extra": 1}, "extra")])
def test_bad_requests_get_the_views_answer_and_store_nothing(book, live, change, field) -> None:
    with _http(live, book.token("CLT0007")) as http:
        r = http.post("/api/rfqs/", json={**rfq_body(book.isin(), "bad"), **change})
    assert r.status_code == 400 and field in r.json()["errors"]
    assert not Rfq.objects.exists()


def test_closed_instruments_bad_tokens_and_big_bodies_are_refused(book, live) -> None:
    with _http(live, book.token("CLT0007")) as http:
        closed = http.post("/api/rfqs/", json=rfq_body(book.isin("cds_index", rfq_enabled=False), "c"))
        assert closed.status_code == 400 and "isin" in closed.json()["errors"]
        big = http.post("/api/rfqs/", content=b'{"pad": "' + b"x" * 70_000 + b'"}',
                        headers={"Content-Type": "application/json"})
        assert big.status_code == 413
        garbled = http.post("/api/rfqs/", content=b"{nope", headers={"Content-Type": "application/json"})
        assert garbled.status_code == 400 and "detail" in garbled.json()
    with _http(live, "0" * 40) as http:
        assert http.post("/api/rfqs/", json=rfq_body(book.isin(), "t")).status_code == 401
    with _http(live, book.token("senior1")) as http:
        assert http.post("/api/rfqs/", json=rfq_body(book.isin(), "p")).status_code == 403
    assert not Rfq.objects.exists()
