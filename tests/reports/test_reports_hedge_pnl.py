"""Hedge P&L in the profitability report equals the P&L of the hedge fills recomputed from the fills
themselves (desk-signed quantity x (current mid - fill price), per 100 face or per ETF share),
attributed to the client trade whose hedge decision created the order."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta, timezone as dt_tz
from decimal import Decimal
from typing import Any, Iterator

import pytest
from django.utils import timezone

from dealer.hedging.models import HedgeFill, HedgeOrder
from dealer.market.models import Instrument
from dealer.market.selectors import current_mids
from dealer.reports import selectors as sel
from dealer.reports.services import hedges_catch_up, rollups_apply_trade, rollups_rebuild, rollups_refresh

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_hedging_caches() -> Iterator[None]:
    from dealer.hedging import selectors, services

    for cache in (selectors._proxy_cache, selectors._settled_fills, services._seen_through, selectors._live_bound):
        cache.clear()
    yield
    for cache in (selectors._proxy_cache, selectors._settled_fills, services._seen_through, selectors._live_bound):
        cache.clear()


def _reference() -> dict[str, dict[Any, float]]:
    """Hedge P&L by client, tier and asset class of the trade, straight from the fills."""
    mids = current_mids()
    out: dict[str, dict[Any, float]] = {"client": defaultdict(float), "tier": defaultdict(float),
                                        "asset_class": defaultdict(float), "trade": defaultdict(float)}
    fills = HedgeFill.objects.select_related("order__instrument__asset_class", "order__decision__trade__client",
                                             "order__decision__trade__instrument__asset_class")
    for fl in fills:
        inst = fl.order.instrument
        per_unit = 1.0 if inst.asset_class.code == "credit_etf" else 0.01
        sign = 1 if fl.order.side == "buy" else -1
        pnl = sign * float(fl.quantity) * (mids[inst.id] - float(fl.price)) * per_unit
        trade = fl.order.decision.trade
        out["client"][trade.client.code] += pnl
        out["tier"][trade.tier] += pnl
        out["asset_class"][trade.instrument.asset_class.code] += pnl
        out["trade"][trade.id] += pnl
    return out


def _hedged_trades(seeded: Any) -> list[Any]:
    """Two client trades through the real path, their offset hedges decided and filled by
    dealer.hedging, and an ETF leg added to the second decision (shares, not face)."""
    from dealer.hedging import services
    from dealer.market.services import market_tick
    from dealer.seeding import seed_closes
    from tests.hedging.helpers import book_trade, flat_instrument

    seed_closes(seed=7)
    market_tick()
    trades = []
    for code in ("CLT0007", "CLT0008"):
        trade = book_trade(code, flat_instrument("govt", liquid=True), "sell", "200000")
        rollups_apply_trade(trade.id)  # what the booking's on_commit task does
        decision = services.hedge_decide(trade_id=trade.id)
        order = decision.orders.get()
        for _ in range(200):
            services.fill_attempt(order_id=order.id)
            order.refresh_from_db()
            if order.status == "filled":
                break
        assert order.fills.exists(), "the offset order filled"
        trades.append(trade)
    etf = Instrument.objects.filter(asset_class__code="credit_etf").order_by("sim_index").first()
    leg = HedgeOrder.objects.create(decision=trades[1].hedge_decision, instrument=etf, side="sell",
                                    quantity=Decimal("3000"), filled=Decimal("3000"), status="filled")
    mid = Decimal(f"{current_mids()[etf.id]:.6f}")
    HedgeFill.objects.create(order=leg, venue=order.fills.first().venue, fill_key=f"{leg.id}:1", quantity=Decimal("3000"),
                             price=mid + Decimal("0.25"), filled_at=timezone.now())
    return trades


def _everything() -> sel.Filters:
    today = timezone.now().date()
    return sel.Filters(start=today - timedelta(days=sel.MAX_RANGE_DAYS - 2), end=today + timedelta(days=1))


def _assert_report_equals_fills(seeded: Any) -> None:
    ref = _reference()
    assert ref["client"], "the book has hedge fills"
    scope = sel.scope_for(seeded.user("mgmt1"))
    for group in ("client", "tier", "asset_class"):
        f = sel.Filters(start=_everything().start, end=_everything().end, group_by=group)
        report = sel.profitability(scope=scope, f=f)
        got = {r["key"]: r for r in report["results"]}
        for key, value in ref[group].items():
            assert got[key]["hedge_pnl"] == pytest.approx(value, abs=0.011), (group, key)
            assert got[key]["net_pnl"] == pytest.approx(got[key]["pnl"] + got[key]["hedge_pnl"], abs=0.011)
        others = [r["hedge_pnl"] for k, r in got.items() if k not in ref[group]]
        assert all(v == 0 for v in others), group
        assert report["total"]["hedge_pnl"] == pytest.approx(sum(ref[group].values()), abs=0.05)
        assert report["unmarked_hedges"] == []


def test_hedge_pnl_is_the_fills_marked_at_mid_attributed_to_the_trade(seeded: Any) -> None:
    hedges_catch_up()  # the watermark stands before the hedges
    trades = _hedged_trades(seeded)
    f = _everything()
    scope = sel.scope_for(seeded.user("mgmt1"))
    assert sel.profitability(scope=scope, f=f)["total"]["hedge_pnl"] == 0  # not caught up yet
    later = timezone.now() + timedelta(minutes=1)
    assert hedges_catch_up(now=later) == HedgeFill.objects.count()
    assert hedges_catch_up(now=later) == 0  # each fill once
    _assert_report_equals_fills(seeded)
    ref = _reference()
    etf_leg = ref["trade"][trades[1].id]
    assert abs(etf_leg) > 700, "3,000 ETF shares sold 0.25 above mid: about +750, per share, not per 100"
    # the drill-down shows each trade's own hedge P&L
    code = trades[1].client.code
    _, rows = sel.trades_behind(scope=scope, f=sel.Filters(start=f.start, end=f.end, group_by="client", client=code))
    row = next(r for r in rows if r["id"] == trades[1].id)
    assert row["hedge_pnl"] == pytest.approx(etf_leg, abs=0.011)
    assert row["net_pnl"] == pytest.approx(row["pnl"] + row["hedge_pnl"], abs=0.011)
    # the contract's pnl stays the client trades' P&L
    from tests.desk.helpers import api_for_user

    body = api_for_user(seeded.user("mgmt1")).get("/api/reports/profitability/", {
        "group_by": "client", "start": f.start.isoformat(), "end": f.end.isoformat()}).json()
    assert "results" in body, body
    api = {r["key"]: r for r in body["results"]}
    page = {r["key"]: r for r in sel.profitability(scope=scope, f=sel.Filters(start=f.start, end=f.end,
                                                                                group_by="client"))["results"]}
    assert set(api[code]) == {"key", "trades", "volume", "pnl"}
    assert api[code]["pnl"] == f"{page[code]['pnl']:.2f}"


def test_rebuild_and_refresh_keep_each_fill_once(seeded: Any) -> None:
    hedges_catch_up()
    _hedged_trades(seeded)
    rollups_rebuild()  # fills before its watermark now, the rest by the catch-up
    hedges_catch_up(now=timezone.now() + timedelta(minutes=1))
    _assert_report_equals_fills(seeded)
    rollups_refresh(today=timezone.now().astimezone(dt_tz.utc).date())
    _assert_report_equals_fills(seeded)


def test_rm_sees_hedge_pnl_of_own_clients_only(seeded: Any) -> None:
    hedges_catch_up()
    _hedged_trades(seeded)  # CLT0007 and CLT0008 belong to rm2
    hedges_catch_up(now=timezone.now() + timedelta(minutes=1))
    rm1 = sel.scope_for(seeded.user("rm1"))
    f = sel.Filters(start=_everything().start, end=_everything().end, group_by="client")
    assert sel.profitability(scope=rm1, f=f)["total"]["hedge_pnl"] == 0
    rm2 = sel.scope_for(seeded.user("rm2"))
    assert sel.profitability(scope=rm2, f=f)["total"]["hedge_pnl"] == pytest.approx(
        sum(_reference()["client"].values()), abs=0.05)
