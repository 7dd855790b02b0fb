"""Concurrency through the live server: duplicates are harmless, nothing books twice, nothing drifts."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from dealer.desk.models import Position, Rfq, Trade
from tests.desk.helpers import rfq_body, wait_for, wait_reconciled

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.load]


def _client(live, token: str) -> httpx.Client:
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Token {token}"}, timeout=30)


def _quoted(http: httpx.Client, rfq_id: int) -> dict:
    def check():
        body = http.get(f"/api/rfqs/{rfq_id}/").json()
        return body if body["status"] == "quoted" else None

    return wait_for(check, timeout=15)


def test_twenty_concurrent_repeats_store_one_rfq(book, live) -> None:
    token = book.token("CLT0007")
    isin = book.isin()

    def send(_: int) -> tuple[int, int]:
        with _client(live, token) as http:
            r = http.post("/api/rfqs/", json=rfq_body(isin, "same-id"))
            return r.status_code, r.json()["id"]

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(send, range(20)))
    assert {code for code, _ in results} <= {200, 202}
    assert len({rid for _, rid in results}) == 1
    assert Rfq.objects.filter(client_rfq_id="same-id").count() == 1


def test_twenty_concurrent_accepts_book_one_trade(book, live) -> None:
    token = book.token("CLT0007")
    isin = book.isin("ig_corp", 7)
    with _client(live, token) as http:
        rid = http.post("/api/rfqs/", json=rfq_body(isin, "race", "buy", "700000")).json()["id"]
        quote_id = _quoted(http, rid)["quote"]["id"]
    before = Position.objects.filter(instrument__isin=isin).values_list("quantity", flat=True).first() or Decimal(0)

    def accept(_: int) -> tuple[int, int]:
        with _client(live, token) as http:
            r = http.post(f"/api/rfqs/{rid}/accept/", json={"quote_id": quote_id})
            return r.status_code, r.json().get("trade_id")

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(accept, range(20)))
    codes = [c for c, _ in results]
    assert codes.count(201) == 1 and set(codes) <= {200, 201}
    assert len({t for _, t in results}) == 1
    assert Trade.objects.filter(rfq_id=rid).count() == 1
    wait_reconciled(isin, before - Decimal("700000"))


def test_positions_equal_the_sum_of_trades_after_a_random_burst(book, live) -> None:
    rng = random.Random(5)
    codes = ["CLT0004", "CLT0005", "CLT0007", "CLT0008", "CLT0009"]
    tokens = {c: book.token(c) for c in codes}
    isins = [book.isin("govt", k) for k in range(3)] + [book.isin("ig_corp", k) for k in range(3)]
    start = {i: Position.objects.filter(instrument__isin=i).values_list("quantity", flat=True).first() or Decimal(0)
             for i in isins}
    orders = [(rng.choice(codes), rng.choice(isins), rng.choice(["buy", "sell"]), rng.randrange(1, 10) * 100_000)
              for _ in range(40)]

    def run(k: int) -> None:
        code, isin, side, qty = orders[k]
        with _client(live, tokens[code]) as http:
            rid = http.post("/api/rfqs/", json=rfq_body(isin, f"burst-{k}", side, str(qty))).json()["id"]
            quote = _quoted(http, rid)["quote"]
            # Every accept is sent twice, concurrently with the rest of the burst.
            for _ in range(2):
                r = http.post(f"/api/rfqs/{rid}/accept/", json={"quote_id": quote["id"]})
                assert r.status_code in (200, 201), r.text

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(run, range(len(orders))))
    assert Trade.objects.filter(rfq__client_rfq_id__startswith="burst-").count() == len(orders)
    from dealer.hedging.models import HedgeFill

    def reconciled() -> bool:
        """Position = opening + client trades + hedge fills (hedging works the burst in the background)."""
        for isin in isins:
            traded = sum((-t.quantity if t.side == "buy" else t.quantity)
                         for t in Trade.objects.filter(instrument__isin=isin, rfq__client_rfq_id__startswith="burst-"))
            hedged = sum((f.quantity if f.order.side == "buy" else -f.quantity)
                         for f in HedgeFill.objects.filter(order__instrument__isin=isin).select_related("order"))
            if Position.objects.get(instrument__isin=isin).quantity != start[isin] + traded + hedged:
                return False
        return True

    wait_for(reconciled, timeout=10, interval=0.2)
