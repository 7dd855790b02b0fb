"""After a burst of trades booked through the real path (pricing on the real Celery worker, the
client's accept) and of quotes turned down, the rollups updated by the worker equal the trades
and the hit ratios equal the RFQs."""
from __future__ import annotations

from typing import Any

import pytest

from dealer.desk import services
from dealer.desk.models import Rfq, Trade
from dealer.reports.models import DailyRollup, DeskDayRollup, HitRollup, RollupState
from dealer.reports.tasks import catch_up_hits
from tests.desk.helpers import api_for_token, rfq_body, wait_for, wait_status
from tests.reports.rollup_checks import assert_hits_equal_rfqs
from tests.reports.test_reports_reconcile import assert_rollups_equal_trades

pytestmark = pytest.mark.django_db(transaction=True)


def test_burst_of_trades_updates_rollups(book: Any, worker: Any) -> None:
    clients = ["CLT0004", "CLT0005", "CLT0007"]
    isins = [book.isin("ig_corp", 0), book.isin("govt", 0), book.isin("hy_corp", 1)]
    booked = []
    for k in range(9):
        code = clients[k % 3]
        api = api_for_token(book.token(code))
        r = api.post("/api/rfqs/", rfq_body(isins[k % 3], rid=f"burst{k}", side="buy" if k % 2 else "sell",
                                           quantity="200000"), format="json")
        assert r.status_code == 202, r.content
        body = wait_status(api, r.json()["id"], "quoted", "declined")
        assert body["status"] == "quoted", body
        trade, created = services.quote_accept(client=book.client(code), rfq_id=body["id"], quote_id=body["quote"]["id"])
        assert created
        booked.append(trade.id)
    wait_for(lambda: sum(DailyRollup.objects.values_list("trades", flat=True)) == Trade.objects.count(), timeout=20)
    wait_for(lambda: sum(DeskDayRollup.objects.values_list("trades", flat=True)) == Trade.objects.count(), timeout=20)
    catch_up_hits.delay()  # as the beat does every few seconds: trades reach the hit ratios this way
    wait_for(lambda: sum(HitRollup.objects.values_list("won", flat=True)) == Trade.objects.count(), timeout=20)
    assert_rollups_equal_trades()
    assert_hits_equal_rfqs()
    assert RollupState.objects.get().updated_at is not None
    assert Rfq.objects.filter(status="booked").count() == 9
    # quotes turned down reach the hit ratios through the catch-up the beat runs every minute
    for k in range(4):
        code = clients[k % 3]
        api = api_for_token(book.token(code))
        r = api.post("/api/rfqs/", rfq_body(isins[k % 3], rid=f"turned{k}", quantity="150000"), format="json")
        body = wait_status(api, r.json()["id"], "quoted", "declined")
        assert body["status"] == "quoted", body
        assert api.post(f"/api/rfqs/{body['id']}/reject/").status_code == 200
    catch_up_hits.delay()
    wait_for(lambda: sum(HitRollup.objects.values_list("quoted", flat=True)) == 13, timeout=20)
    assert_hits_equal_rfqs()
    assert RollupState.objects.get().hits_updated_at is not None
