"""Every report's totals equal a direct sum over the trades; rollups equal the trades after a
burst of new trades booked through the real path and after a rebuild."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta, timezone as dt_tz
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from dealer.desk.models import Markout, Trade
from dealer.reports import selectors as sel
from dealer.reports.models import DailyRollup
from dealer.reports.models import ClientDayRollup, ClientMonthRollup, DeskDayRollup, HitDeskRollup, HitRollup
from dealer.reports.services import hits_catch_up, rollups_apply_trade, rollups_rebuild, rollups_refresh
from tests.reports.rollup_checks import assert_coarse_equal, assert_hits_equal_rfqs

RTOL = 1e-9


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= RTOL * max(1.0, abs(a), abs(b)) + 0.02


def direct_cells() -> dict[tuple[Any, ...], dict[str, Any]]:
    """The rollup cells recomputed in Python from the trades and markouts (the reference)."""
    pnl1d = dict(Markout.objects.filter(horizon_seconds=86400).values_list("trade_id", "pnl"))
    mo: dict[int, dict[int, float]] = defaultdict(dict)
    for tid, h, bp in Markout.objects.values_list("trade_id", "horizon_seconds", "markout_bp"):
        mo[tid][h] = bp
    cells: dict[tuple[Any, ...], dict[str, Any]] = {}
    for t in Trade.objects.select_related("instrument"):
        key = (t.booked_at.astimezone(dt_tz.utc).date(), t.client_id, t.instrument_id, t.tier)
        c = cells.setdefault(key, {"trades": 0, "volume": Decimal(0), "spread_pnl": 0.0, "pnl": 0.0, "net_qty": Decimal(0),
                                   "mo_n_86400": 0, "mo_bp_86400": 0.0, "mo_n_60": 0, "mo_bp_60": 0.0})
        sign = 1 if t.side == "buy" else -1
        spread = float((t.price - t.mid_at_booking) * sign * t.quantity / 100)
        c["trades"] += 1
        c["volume"] += t.quantity
        c["net_qty"] += t.desk_quantity
        c["spread_pnl"] += spread
        c["pnl"] += pnl1d.get(t.id, spread)
        for h in (60, 86400):
            if h in mo[t.id]:
                c[f"mo_n_{h}"] += 1
                c[f"mo_bp_{h}"] += mo[t.id][h]
    return cells


def assert_rollups_equal_trades() -> None:
    """Every trade rollup (per instrument, desk day, client day, client month) equals the trades."""
    expected = direct_cells()
    assert_coarse_equal(expected)
    got = {(r.day, r.client_id, r.instrument_id, r.tier): r for r in DailyRollup.objects.all()}
    assert set(got) == set(expected)
    for key, e in expected.items():
        r = got[key]
        assert r.trades == e["trades"], key
        assert r.volume == e["volume"], key
        assert r.net_qty == e["net_qty"], key
        assert r.mo_n_86400 == e["mo_n_86400"] and r.mo_n_60 == e["mo_n_60"], key
        for name in ("spread_pnl", "pnl", "mo_bp_86400", "mo_bp_60"):
            assert _close(getattr(r, name), e[name]), (key, name, getattr(r, name), e[name])


def _everything(today: date) -> sel.Filters:
    return sel.Filters(start=today - timedelta(days=sel.MAX_RANGE_DAYS - 1), end=today + timedelta(days=1))


@pytest.mark.django_db
def test_seeded_rollups_equal_the_trades(seeded: Any) -> None:
    assert Trade.objects.count() >= 500
    assert_rollups_equal_trades()
    assert_hits_equal_rfqs()


@pytest.mark.django_db
@pytest.mark.parametrize("group_by", ["client", "tier", "rm", "asset_class", "sector", "period"])
def test_profitability_totals_equal_direct_sums(seeded: Any, group_by: str) -> None:
    from dataclasses import replace

    mgmt = seeded.user("mgmt1")
    f = replace(_everything(timezone.now().date()), group_by=group_by)
    report = sel.profitability(scope=sel.scope_for(mgmt), f=f)
    trades = list(Trade.objects.select_related("client", "client__rm", "instrument__asset_class"))
    pnl1d = dict(Markout.objects.filter(horizon_seconds=86400).values_list("trade_id", "pnl"))
    by_key: dict[Any, list[Any]] = defaultdict(lambda: [0, Decimal(0), 0.0])
    keyf = {"client": lambda t: t.client.code, "tier": lambda t: t.tier,
            "rm": lambda t: t.client.rm.username if t.client.rm else "(none)",
            "asset_class": lambda t: t.instrument.asset_class.code, "sector": lambda t: t.instrument.sector,
            "period": lambda t: t.booked_at.astimezone(dt_tz.utc).date().replace(day=1).isoformat()}[group_by]
    for t in trades:
        sign = 1 if t.side == "buy" else -1
        pnl = pnl1d.get(t.id, float((t.price - t.mid_at_booking) * sign * t.quantity / 100))
        acc = by_key[keyf(t)]
        acc[0] += 1
        acc[1] += t.quantity
        acc[2] += pnl
    got = {r["key"]: r for r in report["results"]}
    assert set(got) == set(by_key)
    for k, (n, vol, pnl) in by_key.items():
        assert got[k]["trades"] == n and got[k]["volume"] == vol
        assert _close(got[k]["pnl"], pnl)
    assert report["total"]["trades"] == len(trades)
    assert report["total"]["volume"] == sum((t.quantity for t in trades), Decimal(0))


@pytest.mark.django_db
def test_flow_inventory_and_hit_totals_equal_direct_sums(seeded: Any) -> None:
    mgmt = seeded.user("mgmt1")
    scope = sel.scope_for(mgmt)
    f = _everything(timezone.now().date())
    fq = sel.flow_quality(scope=scope, f=f, min_trades=1)
    one_day = list(Markout.objects.filter(horizon_seconds=86400).values_list("markout_bp", flat=True))
    assert fq["total"]["trades"] == Trade.objects.count()
    assert fq["total"]["curve"][-1]["n"] == len(one_day)
    assert _close(fq["total"]["curve"][-1]["mean_bp"], sum(one_day) / len(one_day))
    for t in fq["by_tier"]:
        bps = list(Markout.objects.filter(horizon_seconds=60, trade__tier=t["key"]).values_list("markout_bp", flat=True))
        assert _close(t["curve"][0]["mean_bp"], round(sum(bps) / len(bps), 3))
    inv = sel.inventory(scope=scope, f=f)
    assert sum(r["trades"] for r in inv["by_tier"]) == Trade.objects.count()
    net = sum((t.desk_quantity for t in Trade.objects.all()), Decimal(0))
    assert sum((r["net_qty"] for r in inv["by_tier"]), Decimal(0)) == net
    last = sum(s["position"][-1] for s in inv["series"].values())
    assert _close(last, float(net))
    hr = sel.hit_ratios(scope=scope, f=sel.Filters(start=timezone.now().date() - timedelta(days=60),
                                                     end=timezone.now().date()))
    assert {r["key"] for r in hr["tables"]["tier"]} == {1, 2, 3}
    tiers = hr["tables"]["tier"]
    from dealer.desk.models import Rfq

    start = timezone.now().date() - timedelta(days=60)
    for row in tiers:
        qs = Rfq.objects.filter(tier=row["key"], received_at__date__gte=start, status__in=["booked", "expired", "rejected"])
        assert row["quoted"] == qs.count() and row["won"] == qs.filter(status="booked").count()
    assert hr["calibration"] and sum(c["n"] for c in hr["calibration"]) == sum(r["quoted"] for r in tiers)


@pytest.mark.django_db
def test_rebuild_and_refresh_keep_rollups_equal_to_trades(seeded: Any) -> None:
    DailyRollup.objects.all().update(pnl=0, trades=99)
    for model in (DeskDayRollup, ClientDayRollup, ClientMonthRollup):
        model.objects.all().update(pnl=0, trades=99)
    HitRollup.objects.all().update(quoted=7)
    HitDeskRollup.objects.order_by("id").first().delete()
    rollups_rebuild()
    assert_rollups_equal_trades()
    assert_hits_equal_rfqs()
    # a markout landing later reaches the P&L through the nightly refresh
    t = Trade.objects.order_by("-booked_at").first()
    Markout.objects.filter(trade=t, horizon_seconds=86400).delete()
    rollups_refresh(days=800)
    assert_rollups_equal_trades()
    assert_hits_equal_rfqs()


@pytest.mark.django_db
def test_refresh_of_recent_days_keeps_older_rollups(seeded: Any) -> None:
    """The nightly refresh recomputes whole months of the monthly table around its days and
    leaves the rest alone."""
    before = ClientMonthRollup.objects.count()
    rollups_refresh(days=3)
    assert ClientMonthRollup.objects.count() == before
    assert_rollups_equal_trades()
    assert_hits_equal_rfqs()


@pytest.mark.django_db
def test_apply_trade_is_idempotent(seeded: Any) -> None:
    t = Trade.objects.order_by("id").first()
    rollups_apply_trade(t.id)
    rollups_apply_trade(t.id)
    assert_rollups_equal_trades()
    assert_hits_equal_rfqs()  # the trade was counted already: nothing moved twice
    assert rollups_apply_trade(10**9) is None


@pytest.mark.django_db
def test_apply_trade_moves_the_coarser_tables_by_the_new_trade(seeded: Any) -> None:
    """A trade written after the rebuild (as booking does) reaches every table through the delta."""
    from dealer.desk.models import Rfq

    src = Trade.objects.order_by("id").first()
    rfq = Rfq.objects.create(client=src.client, client_rfq_id="late-1", instrument=src.instrument, side="sell",
                             quantity=Decimal("1500000"), status="booked", tier=src.tier, received_at=timezone.now())
    from dealer.desk.models import Quote

    quote = Quote.objects.create(rfq=rfq, status="accepted", price=src.price, quantity=rfq.quantity, mid=src.mid_at_booking,
                                 half_spread_bp=3.0, created_at=timezone.now())
    Rfq.objects.filter(pk=rfq.pk).update(quote=quote)
    trade = Trade.objects.create(rfq=rfq, quote=quote, client=src.client, instrument=src.instrument, side="sell",
                                 quantity=rfq.quantity, price=src.price, mid_at_booking=src.mid_at_booking,
                                 booked_at=timezone.now(), tier=src.tier)
    rollups_apply_trade(trade.id)
    assert_rollups_equal_trades()
    hits_catch_up()  # the booked RFQ reaches the hit ratios through the catch-up
    assert_hits_equal_rfqs()


def _every_view(seeded: Any) -> list[tuple[Any, sel.Filters]]:
    from dataclasses import replace

    today = timezone.now().date()
    mid_month = replace(_everything(today), start=date(today.year - 1, today.month, 17), end=today - timedelta(days=3))
    short = replace(_everything(today), start=today - timedelta(days=20), end=today)
    out = []
    for user in ("mgmt1", "rm1", "trader1"):
        scope = sel.scope_for(seeded.user(user))
        for f in (mid_month, short, _everything(today)):
            for group_by, period in (("tier", "month"), ("asset_class", "month"), ("sector", "month"),
                                     ("period", "week"), ("period", "quarter"), ("client", "month"), ("rm", "month")):
                if scope.is_desk and group_by in ("client", "rm"):
                    continue
                out.append((scope, replace(f, group_by=group_by, period=period)))
        out.append((scope, replace(mid_month, group_by="tier", tier=2, asset_class="ig_corp")))
        if not scope.is_desk:
            out.append((scope, replace(mid_month, group_by="period", period="month", client="CLT0004")))
    return out


@pytest.mark.django_db
def test_every_rollup_route_gives_the_per_instrument_figures(seeded: Any) -> None:
    """Whichever coarser tables a view is answered from, it gives what the per-instrument rollup
    gives (scope, filters, group-by and period; ranges with and without whole months)."""
    for scope, f in _every_view(seeded):
        got = sel.profitability(scope=scope, f=f)
        ref = sel.rollup_sums([sel.rollups(scope=scope, f=f)], {"key": sel._key_expr(f)},
                              {"trades": "trades", "volume": "volume", "pnl": "pnl"})
        ref_by_key = {sel._key_out(r["key"]): r for r in ref}
        assert {r["key"] for r in got["results"]} == set(ref_by_key), (scope.kind, f)
        for r in got["results"]:
            e = ref_by_key[r["key"]]
            assert r["trades"] == e["trades"] and r["volume"] == e["volume"], (scope.kind, f, r["key"])
            assert _close(r["pnl"], e["pnl"]), (scope.kind, f, r["key"])
        assert got["total"]["trades"] > 0, (scope.kind, f)


@pytest.mark.django_db
@pytest.mark.parametrize("user", ["mgmt1", "rm1", "trader1"])
def test_report_pages_read_no_trade_or_rfq_rows(seeded: Any, user: str) -> None:
    """The report pages read rollups only (the drill-down to trades is the one exception)."""
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext

    http = HttpClient()
    http.force_login(seeded.user(user))
    today = timezone.now().date()
    q = {"start": (today - timedelta(days=400)).isoformat(), "end": today.isoformat()}
    for path in ("/reports/", "/reports/flow/", "/reports/hits/", "/reports/inventory/"):
        with CaptureQueriesContext(connection) as ctx:
            assert http.get(path, q).status_code == 200
        bad = [x["sql"] for x in ctx.captured_queries if '"desk_trade"' in x["sql"] or '"desk_rfq"' in x["sql"]]
        assert not bad, (path, bad[:1])


@pytest.mark.django_db
def test_a_backlog_of_outcomes_is_caught_up_a_span_at_a_time_and_each_counted_once(seeded: Any, settings: Any) -> None:
    """After a stop, a run takes at most three periods of outcomes (a bounded burst of work); the
    next runs take the rest, and every outcome is counted once."""
    from datetime import timedelta

    from dealer.desk.models import Quote, Rfq
    from dealer.reports.models import RollupState

    settings.HITS_SETTLED_SECONDS = 30.0
    settings.HITS_CATCH_UP_SECONDS = 5.0  # at most 15 s of outcomes a run
    hits_catch_up()
    mark = RollupState.objects.get().hits_updated_at
    src = Trade.objects.order_by("id").first()
    for k, after in enumerate((2, 10, 25)):  # outcomes 2, 10 and 25 s after the watermark
        at = mark + timedelta(seconds=after)
        rfq = Rfq.objects.create(client=src.client, client_rfq_id=f"backlog-{k}", instrument=src.instrument,
                                 side="buy", quantity=Decimal("250000"), status="expired", tier=src.tier,
                                 received_at=at, updated_at=at)
        quote = Quote.objects.create(rfq=rfq, status="expired", price=src.price, quantity=rfq.quantity,
                                     mid=src.mid_at_booking, half_spread_bp=3.0, created_at=at)
        Rfq.objects.filter(pk=rfq.pk).update(quote=quote, updated_at=at)  # the outcome's stamp
    later = mark + timedelta(seconds=90)  # all of them settled long ago
    assert hits_catch_up(now=later) == 2  # the first 15 s after the watermark
    assert hits_catch_up(now=later) == 1
    assert hits_catch_up(now=later) == 0
    assert_hits_equal_rfqs()


@pytest.mark.django_db
def test_the_catch_up_counts_each_outcome_once_after_it_settles(seeded: Any, settings: Any) -> None:
    """Outcomes stamped within the settling window wait for the next run; every run adds only what
    settled since the one before, so the hit ratios equal the RFQs after any number of runs."""
    from datetime import timedelta

    from dealer.desk.models import Quote, Rfq
    from dealer.reports.models import RollupState

    settings.HITS_SETTLED_SECONDS = 30.0
    now = timezone.now()
    hits_catch_up(now=now)  # the watermark reaches 30 s ago
    src = Trade.objects.order_by("id").first()
    late = []
    for k in range(3):
        rfq = Rfq.objects.create(client=src.client, client_rfq_id=f"settle-{k}", instrument=src.instrument,
                                 side="buy", quantity=Decimal("250000"), status="expired", tier=src.tier,
                                 received_at=now, updated_at=now)
        quote = Quote.objects.create(rfq=rfq, status="expired", price=src.price, quantity=rfq.quantity,
                                     mid=src.mid_at_booking, half_spread_bp=3.0, created_at=now)
        Rfq.objects.filter(pk=rfq.pk).update(quote=quote)
        late.append(rfq.pk)
    quoted_before = sum(HitRollup.objects.values_list("quoted", flat=True))
    assert hits_catch_up(now=now + timedelta(seconds=10)) == 0  # stamped 10 s ago: not settled yet
    assert sum(HitRollup.objects.values_list("quoted", flat=True)) == quoted_before
    assert hits_catch_up(now=now + timedelta(seconds=31)) == 3
    assert sum(HitRollup.objects.values_list("quoted", flat=True)) == quoted_before + 3
    assert_hits_equal_rfqs()
    # counted once, however many runs follow (each takes at most three periods: 15 s by default)
    assert [hits_catch_up(now=now + timedelta(seconds=90)) for _ in range(4)] == [0, 0, 0, 0]
    assert_hits_equal_rfqs()
    assert RollupState.objects.get().hits_updated_at == now + timedelta(seconds=60)
    rollups_refresh()  # a recompute of the days keeps to the watermark too
    assert_hits_equal_rfqs()
