"""Hedge decisions with their reasons, orders, fills that move the position once, manual steps."""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from crm.models import Client, Interest
from dealer.desk.models import Axe, Position
from dealer.hedging import selectors, services
from dealer.hedging.models import HedgeAction, HedgeFill, HedgeSettings
from dealer.market.models import SimulatorState
from dealer.market.services import market_tick
from tests.desk.helpers import api_for_user
from tests.hedging.helpers import book_trade, flat_instrument


def _position(inst) -> Decimal:
    return Position.objects.filter(instrument=inst).values_list("quantity", flat=True).first() or Decimal(0)


def test_small_liquid_trade_is_offset_at_once(desk) -> None:
    inst = flat_instrument("govt", liquid=True)
    trade = book_trade("CLT0007", inst, "sell", "200000")
    decision = services.hedge_decide(trade_id=trade.id)
    assert decision.decision == "offset" and "small_liquid" in decision.reason
    order = decision.orders.get()
    assert order.side == "sell" and order.quantity == Decimal("200000") and order.instrument == inst
    assert services.hedge_decide(trade_id=trade.id).id == decision.id  # idempotent


def test_a_large_block_is_scheduled_and_children_add_up(desk) -> None:
    inst = flat_instrument("ig_corp", liquid=True)
    qty = Decimal(int(float(inst.adv) * 0.5 / 1000) * 1000)
    trade = book_trade("CLT0001", inst, "sell", str(qty), senior=desk.user("senior1"))
    decision = services.hedge_decide(trade_id=trade.id)
    assert decision.decision == "schedule" and "large_vs_adv" in decision.reason
    parent = decision.orders.get(parent__isnull=True)
    children = list(parent.children.order_by("release_at"))
    assert len(children) >= 2
    assert sum(c.quantity for c in children) == parent.quantity == qty
    assert children[0].release_at <= timezone.now() < children[-1].release_at
    assert decision.figures["schedule"]["horizon_hours"] == HedgeSettings.current().schedule_horizon_hours


def test_an_illiquid_bond_is_proxy_hedged_with_min_variance_ratios(desk) -> None:
    inst = flat_instrument("ig_corp", liquid=False)
    trade = book_trade("CLT0007", inst, "sell", "500000")
    decision = services.hedge_decide(trade_id=trade.id)
    assert decision.decision == "proxy" and "illiquid_proxy" in decision.reason
    proxies = decision.figures["proxies"]
    classes = {selectors.Instrument.objects.get(isin=p["isin"]).asset_class.code for p in proxies}
    assert classes == {"rates_future", "cds_index"}
    assert 0 < decision.figures["variance_reduction"] < 1
    assert all(np.isfinite(p["ratio"]) for p in proxies)
    assert {o.instrument.isin for o in decision.orders.all()} <= {p["isin"] for p in proxies}


def test_tier2_flow_is_internalized_against_client_interest(desk) -> None:
    inst = flat_instrument("ig_corp", liquid=True)
    Interest.objects.create(client=Client.objects.get(code="CLT0008"), scope="instrument", value=inst.isin, side="buy")
    trade = book_trade("CLT0004", inst, "sell", "300000")
    decision = services.hedge_decide(trade_id=trade.id)
    assert decision.decision == "internalize" and "CLT0008" in decision.reason
    assert not decision.orders.exists()


def test_a_trade_toward_a_desk_axe_is_held(desk) -> None:
    inst = flat_instrument("govt", liquid=True)
    Axe.objects.create(instrument=inst, side="buy", quantity=Decimal("5000000"))
    trade = book_trade("CLT0007", inst, "sell", "400000")
    decision = services.hedge_decide(trade_id=trade.id)
    assert decision.decision == "hold" and "matches_axe" in decision.reason


def test_a_trade_toward_flat_needs_no_hedge(desk) -> None:
    inst = flat_instrument("govt", liquid=True)
    book_trade("CLT0007", inst, "sell", "600000")
    trade = book_trade("CLT0008", inst, "buy", "200000")
    decision = services.hedge_decide(trade_id=trade.id)
    assert decision.decision == "hold" and "toward flat" in decision.reason


def test_stress_prefers_proxies_and_says_so(desk) -> None:
    SimulatorState.objects.update(stressed=True)
    market_tick()
    inst = flat_instrument("ig_corp", liquid=True)
    trade = book_trade("CLT0007", inst, "sell", "300000")
    decision = services.hedge_decide(trade_id=trade.id)
    assert decision.decision == "proxy"
    assert decision.reason.startswith("stressed market")


def test_a_proxy_whose_ratio_cannot_be_estimated_is_refused_with_a_reason(desk, monkeypatch) -> None:
    inst = flat_instrument("ig_corp", liquid=False)
    monkeypatch.setattr(selectors, "close_returns", lambda ids, days, closes=None: np.full((100, len(ids)), np.nan))
    trade = book_trade("CLT0007", inst, "sell", "500000")
    decision = services.hedge_decide(trade_id=trade.id)
    assert decision.decision == "schedule" and "proxy refused" in decision.reason


def test_fills_move_the_position_exactly_once_even_after_a_crash(desk, monkeypatch) -> None:
    inst = flat_instrument("govt", liquid=True)
    trade = book_trade("CLT0007", inst, "sell", "200000")
    assert _position(inst) == Decimal("200000")
    order = services.hedge_decide(trade_id=trade.id).orders.get()
    real_create = HedgeFill.objects.create
    crashes = {"n": 0}

    def crash_after_insert(**kw):
        real_create(**kw)
        crashes["n"] += 1
        raise RuntimeError("worker died mid-fill")

    monkeypatch.setattr(HedgeFill.objects, "create", crash_after_insert)
    for _ in range(50):
        try:
            services.fill_attempt(order_id=order.id)
        except RuntimeError:
            break
    assert crashes["n"] == 1
    assert HedgeFill.objects.count() == 0 and _position(inst) == Decimal("200000")  # rolled back whole
    monkeypatch.setattr(HedgeFill.objects, "create", real_create)
    for _ in range(200):
        services.fill_attempt(order_id=order.id)
        order.refresh_from_db()
        if order.status == "filled":
            break
    assert order.status == "filled"
    fills = list(order.fills.all())
    assert sum(f.quantity for f in fills) == order.quantity
    assert len({f.fill_key for f in fills}) == len(fills)
    assert _position(inst) == 0
    assert services.fill_attempt(order_id=order.id) is None  # nothing left: nothing more
    assert _position(inst) == 0


def test_the_desk_limits_split_and_refuse_orders(desk) -> None:
    conf = HedgeSettings.current()
    conf.max_order_notional = Decimal("100000")
    conf.save()
    inst = flat_instrument("govt", liquid=True)
    trade = book_trade("CLT0007", inst, "sell", "250000")
    orders = list(services.hedge_decide(trade_id=trade.id).orders.all())
    assert len(orders) >= 3 and all(o.quantity * Decimal("1.2") / 100 <= Decimal("100000") * Decimal("1.2") for o in orders)
    assert sum(o.quantity for o in orders) == Decimal("250000")
    conf.max_order_notional = Decimal("50000000")
    conf.max_daily_notional = Decimal("1")
    conf.save()
    inst2 = flat_instrument("govt", liquid=True)
    trade2 = book_trade("CLT0007", inst2, "sell", "100000")
    order = services.hedge_decide(trade_id=trade2.id).orders.get()
    assert order.status == "rejected" and "day's hedge notional" in order.reason


def test_manual_steps_are_audited_and_bad_ones_refused(desk) -> None:
    senior = desk.user("senior1")
    inst = flat_instrument("ig_corp", liquid=True)
    qty = Decimal(int(float(inst.adv) * 0.5 / 1000) * 1000)
    trade = book_trade("CLT0001", inst, "sell", str(qty), senior=senior)
    decision = services.hedge_decide(trade_id=trade.id)
    parent = decision.orders.get(parent__isnull=True)
    api = api_for_user(senior)
    assert api.post(f"/api/hedge/orders/{parent.id}/horizon/", {"hours": 0}, format="json").status_code == 400
    r = api.post(f"/api/hedge/orders/{parent.id}/horizon/", {"hours": 8}, format="json")
    assert r.status_code == 200
    pending = parent.children.filter(status="pending")
    assert sum(c.quantity for c in pending) + sum(c.filled for c in parent.children.exclude(status="pending")) <= qty
    too_big = api.post(f"/api/hedge/orders/{parent.id}/hedge-now/", {"quantity": str(qty * 10)}, format="json")
    assert too_big.status_code == 400 and "larger than the position" in too_big.json()["errors"]["quantity"][0]
    assert api.post(f"/api/hedge/orders/{parent.id}/hedge-now/", {}, format="json").status_code == 200
    released = list(parent.children.filter(status="pending"))
    assert sum(c.quantity for c in released) == qty and all(c.release_at <= timezone.now() for c in released)
    now_child = released[0]
    trader = api_for_user(desk.user("trader1"))
    assert trader.post(f"/api/hedge/orders/{parent.id}/cancel/").status_code == 403
    for _ in range(200):
        services.fill_attempt(order_id=now_child.id)
        now_child.refresh_from_db()
        if now_child.status == "filled":
            break
    assert api.post(f"/api/hedge/orders/{now_child.id}/cancel/").status_code == 409
    assert api.post(f"/api/hedge/orders/{parent.id}/cancel/").status_code == 200  # the rest of the schedule
    assert not parent.children.filter(status="pending").exists()
    actions = list(HedgeAction.objects.filter(decision=decision).values_list("action", "actor__username"))
    assert ("change_horizon", "senior1") in actions and ("hedge_now", "senior1") in actions


def test_trade_hedge_endpoint_follows_the_contract(desk) -> None:
    inst = flat_instrument("govt", liquid=True)
    trade = book_trade("CLT0007", inst, "sell", "200000")
    services.hedge_decide(trade_id=trade.id)
    body = api_for_user(desk.user("trader1")).get(f"/api/trades/{trade.id}/hedge/").json()
    assert body["decision"] == "offset" and body["reason"]
    assert set(body["orders"][0]) >= {"id", "isin", "side", "quantity", "filled", "status"}
    assert api_for_user(desk.user("rm1")).get(f"/api/trades/{trade.id}/hedge/").status_code == 403


def test_residual_risk_after_a_proxy_hedge_falls_as_predicted(desk) -> None:
    """Out of sample, on a fresh run of the simulator, the hedge removes the predicted variance."""
    from dealer.market.simulator import simulate_daily_history
    from dealer.market.universe_cache import universe

    inst = flat_instrument("ig_corp", liquid=False)
    trade = book_trade("CLT0007", inst, "sell", "500000")
    decision = services.hedge_decide(trade_id=trade.id)
    proxies = [selectors.Instrument.objects.get(isin=p["isin"]) for p in decision.figures["proxies"]]
    ratios = np.array([p["ratio"] for p in decision.figures["proxies"]])
    uni = universe(7)
    _, closes = simulate_daily_history(uni.specs, uni.model, 2000, 99, "2026-01-01")
    r = np.diff(np.log(closes), axis=1)
    target = r[inst.sim_index]
    hedged = target + ratios @ r[[p.sim_index for p in proxies]]
    realized = 1 - hedged.var() / target.var()
    assert realized == pytest.approx(decision.figures["variance_reduction"], abs=0.08)
    assert realized > 0.3
