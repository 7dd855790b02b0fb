"""Hedge decisions in batches: every waiting trade in one call, in booking order, each decided once."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealer.desk.models import Trade
from dealer.hedging import services
from dealer.hedging.models import HedgeDecision, HedgeOrder, HedgeSettings
from dealer.market.services import market_tick
from dealer.seeding import seed_closes
from tests.desk.helpers import wait_for
from tests.hedging.helpers import book_trade, flat_instrument


def test_one_call_decides_every_waiting_trade_with_the_position_after_each(desk) -> None:
    inst = flat_instrument("govt", liquid=True)
    trades = [book_trade("CLT0007", inst, "sell", "600000"),   # desk +600k: adds inventory
              book_trade("CLT0008", inst, "buy", "200000"),    # desk +400k: toward flat
              book_trade("CLT0007", inst, "sell", "300000"),   # desk +700k: adds 300k
              book_trade("CLT0008", inst, "buy", "900000")]    # desk -200k: crosses, adds 200k short
    services.hedge_decide(trade_id=trades[0].id)  # the first trade's task takes the ones behind it
    decisions = [HedgeDecision.objects.get(trade=t) for t in trades]
    assert len({d.decided_at for d in decisions}) == 1  # one batch
    assert [d.figures["position_after"] for d in decisions] == [600000.0, 400000.0, 700000.0, -200000.0]
    assert [d.figures["effective_change"] for d in decisions] == [600000.0, 0.0, 300000.0, -200000.0]
    assert decisions[1].decision == "hold" and "toward flat" in decisions[1].reason
    assert [(o.side, o.quantity) for o in decisions[0].orders.all()] == [("sell", Decimal("600000"))]
    assert [(o.side, o.quantity) for o in decisions[2].orders.all()] == [("sell", Decimal("300000"))]
    assert [(o.side, o.quantity) for o in decisions[3].orders.all()] == [("buy", Decimal("200000"))]
    for d, t in zip(decisions, trades):
        assert d.latency_ms == pytest.approx((d.decided_at - t.booked_at).total_seconds() * 1000.0)


def test_a_batch_costs_a_fixed_number_of_queries_not_some_per_trade(desk) -> None:
    trades = []
    for asset_class, liquid in (("govt", True), ("ig_corp", True), ("ig_corp", False), ("hy_corp", False)):
        inst = flat_instrument(asset_class, liquid=liquid)
        for side, code in (("sell", "CLT0007"), ("sell", "CLT0008"), ("buy", "CLT0009")):
            trades.append(book_trade(code, inst, side, "300000"))
    services.hedge_decide(trade_id=trades[0].id)  # today's proxy estimates, read once per process and day
    for t in trades:
        book_trade("CLT0010", t.instrument, "sell", "200000")
    with CaptureQueriesContext(connection) as queries:
        decided = services.hedge_decide_pending()
    assert len(decided.decisions) == len(trades)
    assert {d.decision for d in decided.decisions} >= {"offset", "proxy"}
    assert len(queries) <= 20, [q["sql"][:80] for q in queries]


def test_a_task_for_a_trade_already_decided_costs_one_query(desk, django_assert_num_queries) -> None:
    inst = flat_instrument("govt", liquid=True)
    trade = book_trade("CLT0007", inst, "sell", "200000")
    decision = services.hedge_decide(trade_id=trade.id)
    with django_assert_num_queries(1):
        again = services.hedge_decide_pending(trade_id=trade.id)
    assert again.target_done and not again.decisions
    assert HedgeDecision.objects.get(trade=trade).id == decision.id
    assert HedgeOrder.objects.filter(decision=decision).count() == 1


def test_the_daily_limit_holds_across_the_trades_of_a_batch_and_after(desk) -> None:
    ta = book_trade("CLT0007", flat_instrument("govt", liquid=True), "sell", "200000")
    tb = book_trade("CLT0008", flat_instrument("govt", liquid=True), "sell", "200000")
    conf = HedgeSettings.current()
    conf.max_daily_notional = Decimal("300000")  # one offset of 200,000 face near par fits, two do not
    conf.save()
    services.hedge_decide(trade_id=ta.id)
    first, second = (HedgeDecision.objects.get(trade=t).orders.get() for t in (ta, tb))
    assert first.status == "pending" and first.reason == ""
    assert second.status == "rejected" and "day's hedge notional" in second.reason
    # The next batch counts the live order of the first against the day as well.
    tc = book_trade("CLT0009", flat_instrument("govt", liquid=True), "sell", "200000")
    third = services.hedge_decide(trade_id=tc.id).orders.get()
    assert third.status == "rejected" and "day's hedge notional" in third.reason


def test_an_order_the_limits_bound_refuses_is_counted_exactly_before_it_is_refused(desk) -> None:
    """Batches count the live orders against the day from a bound (the last exact count plus the
    orders created since); a cancel lowers the truth, not the bound, and the next order that fits
    the truth is admitted."""
    conf = HedgeSettings.current()
    conf.max_daily_notional = Decimal("300000")
    conf.save()
    first = services.hedge_decide(trade_id=book_trade("CLT0007", flat_instrument("govt", liquid=True), "sell",
                                                      "200000").id).orders.get()
    small = services.hedge_decide(trade_id=book_trade("CLT0008", flat_instrument("govt", liquid=True), "sell",
                                                      "50000").id).orders.get()
    assert first.status == small.status == "pending"
    HedgeOrder.objects.filter(id=first.id).update(status="cancelled")  # as a trader's cancel does
    third = services.hedge_decide(trade_id=book_trade("CLT0009", flat_instrument("govt", liquid=True), "sell",
                                                      "200000").id).orders.get()
    assert third.status == "pending" and third.reason == ""  # 250,000 of 300,000 used, not 450,000
    fourth = services.hedge_decide(trade_id=book_trade("CLT0010", flat_instrument("govt", liquid=True), "sell",
                                                       "200000").id).orders.get()
    assert fourth.status == "rejected" and "day's hedge notional" in fourth.reason  # 250,000 live


def test_the_days_fill_notional_counts_each_fill_once_as_the_day_goes_on(desk) -> None:
    """The day's fill notional keeps its settled part between calls and reads only the recent
    fills; it always equals the sum over the day's fills."""
    from datetime import timedelta

    from django.utils import timezone

    from dealer.hedging import selectors
    from dealer.hedging.models import HedgeFill
    from dealer.hedging.selectors import FILLS_SETTLED, daily_fills_notional

    def filled_order() -> None:
        trade = book_trade("CLT0007", flat_instrument("govt", liquid=True), "sell", "200000")
        order = services.hedge_decide(trade_id=trade.id).orders.get()
        for _ in range(200):
            if services.fill_attempt(order_id=order.id) is not None:
                return
        raise AssertionError("the offset order never filled")

    def direct(start) -> Decimal:  # face per 100, ETF shares at their price (dealer.market.units)
        from dealer.market.units import money_per_point_decimal

        return sum((f.quantity * f.price * money_per_point_decimal(f.order.instrument.asset_class.code)
                    for f in HedgeFill.objects.select_related("order__instrument__asset_class").filter(
                        filled_at__gte=start)), Decimal(0))

    now = timezone.now()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    filled_order()
    HedgeFill.objects.update(filled_at=now - FILLS_SETTLED - timedelta(seconds=5))
    selectors._settled_fills.clear()  # a process that starts now: the fill is settled, summed once and kept
    first = daily_fills_notional(start, now)
    assert first == direct(start) and first > 0
    filled_order()  # a recent fill on top of the settled ones
    second = daily_fills_notional(start, timezone.now())
    assert second == direct(start) and second > first
    assert daily_fills_notional(start, timezone.now() + FILLS_SETTLED * 2) == second  # settling moves nothing
    # An ETF fill counts its shares at their price, not a hundredth of it.
    from dealer.hedging.models import HedgeOrder
    from dealer.market.models import Instrument

    order = HedgeOrder.objects.first()
    order.pk = None
    order.instrument = Instrument.objects.filter(asset_class__code="credit_etf").first()
    order.save()
    HedgeFill.objects.create(order=order, venue=HedgeFill.objects.first().venue, fill_key="etf-1",
                             quantity=Decimal(1000), price=Decimal("80"), filled_at=timezone.now())
    selectors._settled_fills.clear()  # the call above settled up to a minute ahead: start afresh
    third = daily_fills_notional(start, timezone.now())
    assert third == direct(start) == second + Decimal(80000)


def _book_with_worker(code: str, inst, side: str, quantity: str) -> Trade:
    """Intake, then accept once the running worker has quoted (it may price before we do)."""
    from crm.models import Client
    from dealer.desk import services as desk
    from dealer.desk.models import Rfq
    from dealer.desk.pricing_service import price_waiting_rfqs

    client = Client.objects.select_related("tier").get(code=code)
    rfq, _ = desk.rfq_create(client=client, data=desk.RfqInput(f"b{Rfq.objects.count()}", inst.isin, side,
                                                               Decimal(quantity)))

    def quoted() -> Rfq | None:
        price_waiting_rfqs()
        return Rfq.objects.filter(id=rfq.id, status="quoted").first()

    return desk.quote_accept(client=client, rfq_id=rfq.id, quote_id=wait_for(quoted).quote_id)[0]


@pytest.mark.django_db(transaction=True)
def test_a_burst_through_the_real_worker_gets_one_decision_per_trade(book, worker) -> None:
    seed_closes(seed=7)
    market_tick()
    insts = [flat_instrument("govt", liquid=True), flat_instrument("ig_corp", liquid=False)]
    trades = [_book_with_worker(("CLT0007", "CLT0008")[k % 2], insts[k % 2], "sell" if k % 3 else "buy", "100000")
              for k in range(24)]
    ids = [t.id for t in trades]
    wait_for(lambda: HedgeDecision.objects.filter(trade_id__in=ids).count() == len(ids), timeout=30)
    assert sorted(HedgeDecision.objects.filter(trade_id__in=ids).values_list("trade_id", flat=True)) == ids
    for d in HedgeDecision.objects.filter(trade_id__in=ids).select_related("trade"):
        assert d.latency_ms == pytest.approx((d.decided_at - d.trade.booked_at).total_seconds() * 1000.0)
        assert d.latency_ms >= 0


@pytest.mark.django_db(transaction=True)
def test_two_workers_deciding_at_once_never_decide_a_trade_twice(book, worker) -> None:
    seed_closes(seed=7)
    market_tick()
    worker.stop()  # the tasks the bookings enqueue wait; two workers of our own race instead
    insts = [flat_instrument("govt", liquid=True), flat_instrument("hy_corp", liquid=False)]
    trades = [book_trade("CLT0007", insts[k % 2], "sell", "100000") for k in range(16)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def decide(target: int) -> None:
        try:
            start.wait(5)
            services.hedge_decide_pending(trade_id=target)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(t.id,)) for t in (trades[0], trades[-1])]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert not errors, errors
    decided = list(HedgeDecision.objects.filter(trade__in=trades).values_list("trade_id", flat=True))
    assert sorted(decided) == sorted(t.id for t in trades)
    assert Trade.objects.filter(id__in=[t.id for t in trades], hedge_decision__isnull=True).count() == 0


def test_a_trade_whose_decision_task_was_lost_is_decided_by_the_straggler_sweep(desk) -> None:
    from datetime import timedelta

    inst = flat_instrument("govt", liquid=True)
    trade = book_trade("CLT0007", inst, "sell", "600000")
    HedgeDecision.objects.filter(trade=trade).delete()  # as if the task had never been enqueued
    assert not services.hedge_decide_stragglers(now=trade.booked_at + timedelta(seconds=1)).decisions
    assert not HedgeDecision.objects.filter(trade=trade).exists()  # too soon: its own task may be on the way
    swept = services.hedge_decide_stragglers(now=trade.booked_at + timedelta(seconds=6))
    assert [d.trade_id for d in swept.decisions] == [trade.id]
    assert HedgeDecision.objects.get(trade=trade).decision in ("offset", "schedule", "proxy", "internalize", "hold")


def test_a_decision_run_claims_the_trades_booked_since_it_saw_them_all_and_the_sweep_decides_a_later_commit(desk) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from dealer.hedging.tasks import RUN_WINDOW

    inst = flat_instrument("govt", liquid=True)
    first = book_trade("CLT0007", inst, "sell", "600000")
    assert [d.trade_id for d in services.hedge_decide_pending(recent=RUN_WINDOW).decisions] == [first.id]
    lagged = book_trade("CLT0008", inst, "buy", "100000")
    late = book_trade("CLT0008", inst, "buy", "100000")
    # Booking stamps as if the commits had come a second (within the margin) and ten seconds late.
    Trade.objects.filter(id=lagged.id).update(booked_at=timezone.now() - services.SEEN_MARGIN / 2)
    Trade.objects.filter(id=late.id).update(booked_at=timezone.now() - timedelta(seconds=10))
    run = services.hedge_decide_pending(recent=RUN_WINDOW)
    assert [d.trade_id for d in run.decisions] == [lagged.id]  # the run reads back to its mark, not its window
    swept = services.hedge_decide_stragglers()
    assert [d.trade_id for d in swept.decisions] == [late.id]  # the sweep reads the whole window
    assert HedgeDecision.objects.filter(trade__in=[first, lagged, late]).count() == 3
