"""Hedging writes: decide a trade's hedge, create and work its orders, book fills, manual steps.

Locks: `fill_attempt` holds the order row (`select_for_update`) while it draws, books the fill,
moves the position and bumps `attempts`, all in one transaction; the fill's key is
`<order id>:<attempt>`, unique, so a redelivered task after a crash replays the same attempt and
books it at most once.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from dealer.desk import events
from dealer.desk.models import Trade
from dealer.desk.services import position_apply, position_event
from dealer.errors import Conflict, DeskError, Forbidden, NotFound
from dealer.hedging import selectors
from dealer.hedging.models import HedgeAction, HedgeDecision, HedgeFill, HedgeOrder, HedgeSettings
from dealer.market.models import Instrument
from dealer.market.selectors import latest_snapshot
from dealer.roles import SENIOR_TRADER, has_role
from pricing.hedging import ACTIONS, decide_hedges, min_variance_hedge_ratios, route_order
from pricing.impact import almgren_chriss

LOT = Decimal("1000")
MAX_ATTEMPTS_WITHOUT_FILL = 30


def _q(x: float) -> Decimal:
    """Face rounded down to whole lots."""
    return (Decimal(repr(abs(x))) / LOT).to_integral_value(rounding=ROUND_DOWN) * LOT


def _mid_of(instrument: Instrument) -> float:
    snap = latest_snapshot()
    if snap is not None and instrument.sim_index < snap.arrays["mid"].size:
        return float(snap.arrays["mid"][instrument.sim_index])
    return float(selectors.latest_close(instrument.id) or 100.0)


def _effective_change(desk_change: float, position_after: float) -> float:
    """The part of the trade that added to inventory (a trade toward flat needs no hedge)."""
    if desk_change == 0 or position_after == 0 or (position_after > 0) != (desk_change > 0):
        return 0.0
    return math.copysign(min(abs(desk_change), abs(position_after)), desk_change)


def _notional(instrument: Instrument, qty: Decimal, mid: float) -> Decimal:
    per_unit = mid if instrument.asset_class.code == "credit_etf" else mid / 100.0
    return (qty * Decimal(repr(per_unit))).quantize(Decimal("0.01"))


def _stressed() -> bool:
    snap = latest_snapshot()
    return bool(snap and snap.stressed)


def hedge_decide(*, trade_id: int) -> HedgeDecision:
    """Decide the hedge of a booked trade (idempotent: a second call returns the first decision)."""
    existing = HedgeDecision.objects.filter(trade_id=trade_id).first()
    if existing is not None:
        return existing
    trade = Trade.objects.select_related("instrument__asset_class", "client").get(id=trade_id)
    inst = trade.instrument
    conf = HedgeSettings.current()
    stressed = _stressed()
    desk_change = float(trade.desk_quantity)
    position_after = selectors.position_quantity(inst.id)
    change = _effective_change(desk_change, position_after)
    liquid = inst.liquidity_bucket <= 2 and not stressed
    small_fraction = conf.small_fraction / (5.0 if stressed else 1.0)
    interest, interested = selectors.offsetting_interest(inst, change, trade.client_id)
    has_proxy = inst.asset_class.code in ("govt", "ig_corp", "hy_corp") and (inst.liquidity_bucket >= 3 or stressed)
    policy = decide_hedges([change], [float(inst.adv) or 1.0], [liquid], [trade.tier], axe=[selectors.axe_face(inst.id)],
                           internal_interest=[interest], has_proxy=[has_proxy], small_fraction=small_fraction)
    action = ACTIONS[int(policy.action[0])]
    reason = policy.explain()[0]
    if change == 0 and desk_change != 0:
        reason = "hold: the trade took the book toward flat (no added inventory to hedge)"
    figures: dict[str, Any] = {"desk_change": desk_change, "effective_change": change, "position_after": position_after,
                               "adv": float(inst.adv), "liquidity_bucket": inst.liquidity_bucket, "stressed": stressed,
                               "participation": float(policy.participation[0])}
    if stressed:
        reason = "stressed market (liquidity evaporating): " + reason
    now = timezone.now()
    with transaction.atomic():
        if HedgeDecision.objects.select_for_update().filter(trade_id=trade_id).exists():
            return HedgeDecision.objects.get(trade_id=trade_id)
        orders: list[dict[str, Any]] = []
        if action == "proxy":
            try:
                orders, proxy_figures = _proxy_plan(inst, change, conf)
                figures.update(proxy_figures)
                reason += f"; proxies {', '.join(p['isin'] for p in proxy_figures['proxies'])}, variance reduction {proxy_figures['variance_reduction']:.0%}"
            except DeskError as exc:
                action = "schedule"
                reason = f"schedule: proxy refused ({exc.message})"
        if action == "schedule":
            orders, plan = _schedule_plan(inst, change, conf, now)
            figures["schedule"] = plan
        elif action == "offset":
            orders = [{"instrument": inst, "side": "sell" if change > 0 else "buy", "quantity": _q(change), "release_at": now}]
        elif action == "internalize":
            figures["interested_clients"] = interested
            figures["offsetting_interest"] = interest
            reason += f"; offsetting clients {', '.join(interested) or 'with open RFQs'}"
        elif action == "hold":
            figures["axe_face"] = selectors.axe_face(inst.id)
        decision = HedgeDecision.objects.create(trade=trade, decision=action, reason=reason[:300], figures=figures,
                                                decided_at=now,
                                                latency_ms=(now - trade.booked_at).total_seconds() * 1000.0)
        _create_orders(decision, orders, conf, now)
        events.desk_event({"type": "hedge", "trade_id": trade.id, "decision": action, "reason": decision.reason})
    return decision


def _proxy_plan(inst: Instrument, change: float, conf: HedgeSettings) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    proxies, returns = selectors.proxy_plan_cached(inst, conf.history_days)
    if not proxies:
        raise DeskError("no proxy instrument for this bond")
    if returns.shape[0] < 20:
        raise DeskError("not enough price history to estimate hedge ratios")
    try:
        ratios, vr = min_variance_hedge_ratios(returns[:, 0], returns[:, 1:])
    except ValueError as exc:
        raise DeskError(f"the hedge ratio could not be estimated ({exc})") from None
    if not np.all(np.isfinite(ratios)) or not math.isfinite(vr):
        raise DeskError("the estimated hedge ratio is not finite")
    target_mid = _mid_of(inst)
    target_notional = change * target_mid / 100.0
    orders = []
    described = []
    for proxy, h in zip(proxies, ratios.tolist()):
        mid = _mid_of(proxy)
        per_unit = mid if proxy.asset_class.code == "credit_etf" else mid / 100.0
        units = h * target_notional / per_unit
        qty = _q(units) if proxy.asset_class.code != "credit_etf" else Decimal(int(abs(units)))
        described.append({"isin": proxy.isin, "description": proxy.description, "ratio": h, "units": units})
        if qty > 0:
            orders.append({"instrument": proxy, "side": "buy" if units > 0 else "sell", "quantity": qty,
                           "release_at": timezone.now()})
    return orders, {"proxies": described, "variance_reduction": vr, "history_days": int(returns.shape[0])}


def _schedule_plan(inst: Instrument, change: float, conf: HedgeSettings, now: datetime,
                   horizon_hours: float | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    hours = conf.schedule_horizon_hours if horizon_hours is None else horizon_hours
    if not hours or hours <= 0:
        raise DeskError("A schedule needs a horizon greater than zero.", field="hours")
    total = _q(change)
    if total <= 0:
        return [], {"horizon_hours": hours, "steps": 0}
    mid = _mid_of(inst)
    snap = latest_snapshot()
    sigma_daily = float(snap.arrays["sigma"][inst.sim_index]) if snap is not None else 0.005
    unit_price = mid / 100.0
    adv = max(float(inst.adv), 1.0)
    half_spread = 5e-4 * (1 + inst.liquidity_bucket) * unit_price
    days = hours / 24.0
    n = max(1, int(conf.schedule_steps))
    # Temporary impact: trading 10% of ADV per day costs one half-spread per unit.
    eta = half_spread / (0.1 * adv)
    plan = almgren_chriss(float(total), days, n, sigma_daily * unit_price, eta, half_spread, 0.0, conf.risk_aversion)
    sizes = [_q(x) for x in plan.trades.tolist()]
    sizes[-1] = total - sum(sizes[:-1], Decimal(0))
    side = "sell" if change > 0 else "buy"
    children = [{"instrument": inst, "side": side, "quantity": q, "release_at": now + timedelta(days=float(t))}
                for q, t in zip(sizes, plan.times[:-1].tolist()) if q > 0]
    parent = {"instrument": inst, "side": side, "quantity": total, "release_at": None, "children": children}
    return [parent], {"horizon_hours": hours, "steps": n, "expected_cost": plan.expected_cost,
                      "variance": plan.variance, "kappa": plan.kappa}


def _check_limits(instrument: Instrument, qty: Decimal, conf: HedgeSettings, now: datetime) -> str:
    """'' when the order fits the desk's limits, else the reason it does not."""
    mid = _mid_of(instrument)
    notional = _notional(instrument, qty, mid)
    if notional > conf.max_order_notional:
        return f"order notional {notional:,.0f} exceeds the per-order limit {conf.max_order_notional:,.0f}"
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = HedgeFill.objects.filter(filled_at__gte=start).aggregate(q=Sum(F("quantity") * F("price") / 100))["q"] or 0
    if Decimal(str(today)) + notional > conf.max_daily_notional:
        return f"the day's hedge notional would exceed the limit {conf.max_daily_notional:,.0f}"
    return ""


def _split(instrument: Instrument, qty: Decimal, conf: HedgeSettings) -> list[Decimal]:
    """Split an order so that each piece stays within the per-order notional limit."""
    mid = _mid_of(instrument)
    per_unit = Decimal(repr(mid if instrument.asset_class.code == "credit_etf" else mid / 100.0))
    max_qty = (conf.max_order_notional / per_unit / LOT).to_integral_value(rounding=ROUND_DOWN) * LOT
    if max_qty <= 0 or qty <= max_qty:
        return [qty]
    pieces = []
    left = qty
    while left > 0:
        piece = min(left, max_qty)
        pieces.append(piece)
        left -= piece
    return pieces


def _create_orders(decision: HedgeDecision, orders: list[dict[str, Any]], conf: HedgeSettings, now: datetime,
                   parent: HedgeOrder | None = None) -> list[HedgeOrder]:
    created = []
    for spec in orders:
        children = spec.get("children")
        if children is not None:
            p = HedgeOrder.objects.create(decision=decision, instrument=spec["instrument"], side=spec["side"],
                                          quantity=spec["quantity"], status="working", release_at=None)
            created.append(p)
            _create_orders(decision, children, conf, now, parent=p)
            continue
        for qty in _split(spec["instrument"], spec["quantity"], conf):
            refused = _check_limits(spec["instrument"], qty, conf, now)
            created.append(HedgeOrder.objects.create(
                decision=decision, parent=parent, instrument=spec["instrument"], side=spec["side"], quantity=qty,
                status="rejected" if refused else "pending", reason=refused, release_at=spec["release_at"]))
    return created


# --- execution ---------------------------------------------------------------------------------

def due_orders(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(HedgeOrder.objects.filter(status__in=["pending", "working"], release_at__lte=now,
                                          children__isnull=True).values_list("id", flat=True)[:500])


def fill_attempt(*, order_id: int, now: datetime | None = None) -> HedgeFill | None:
    """One attempt to fill an order on the venue with the lowest expected all-in cost."""
    now = now or timezone.now()
    with transaction.atomic():
        order = HedgeOrder.objects.select_for_update(of=("self",)).select_related("instrument__asset_class").filter(id=order_id).first()
        if order is None or order.status not in ("pending", "working") or order.remaining <= 0:
            return None
        if order.release_at is None or order.release_at > now:
            return None
        attempt = order.attempts + 1
        key = f"{order.id}:{attempt}"
        if HedgeFill.objects.filter(fill_key=key).exists():
            return None
        inst = order.instrument
        venues = selectors.venues()
        mid = _mid_of(inst)
        snap = latest_snapshot()
        half = mid * 5e-4 * (1 + inst.liquidity_bucket)
        if snap is not None:
            bid, ask = float(snap.arrays["bid"][inst.sim_index]), float(snap.arrays["ask"][inst.sim_index])
            if math.isfinite(bid) and math.isfinite(ask) and ask > bid:
                half = (ask - bid) / 2.0
        side = 1.0 if order.side == "buy" else -1.0
        from dealer.market.simulator import VENUES

        mult = {v.code: v.spread_multiplier for v in VENUES}
        prices = np.array([[mid + side * half * mult.get(v.code, 1.0) for v in venues]])
        fee = np.array([v.fee_bp for v in venues])
        fill_p = np.array([v.fill_probability for v in venues])
        best, _cost = route_order([side], [mid], prices, fee, fill_p, 2.0)
        v = int(best[0])
        rng = np.random.default_rng([order.id, attempt])
        order.attempts = attempt
        if v < 0 or rng.random() > fill_p[v]:
            if attempt >= MAX_ATTEMPTS_WITHOUT_FILL and order.filled == 0:
                order.status = "rejected"
                order.reason = "no venue filled the order"
            order.save(update_fields=["attempts", "status", "reason"])
            return None
        share = float(rng.uniform(0.4, 1.0))
        qty = order.remaining if share > 0.85 else min(order.remaining, max(LOT, _q(float(order.remaining) * share)))
        price = Decimal(f"{prices[0, v]:.6f}")
        fill = HedgeFill.objects.create(order=order, venue=venues[v], fill_key=key, quantity=qty, price=price, filled_at=now)
        order.filled += qty
        order.status = "filled" if order.filled >= order.quantity else "working"
        order.save(update_fields=["attempts", "filled", "status"])
        if order.parent_id:
            parent = HedgeOrder.objects.select_for_update().get(id=order.parent_id)
            parent.filled = min(parent.quantity, parent.filled + qty)
            if parent.filled >= parent.quantity:
                parent.status = "filled"
            parent.save(update_fields=["filled", "status"])
        position = position_apply(instrument_id=inst.id, desk_qty=qty if order.side == "buy" else -qty, price=price)
        events.desk_event({"type": "hedge.fill", "order_id": order.id, "quantity": f"{qty:.2f}", "price": f"{price:.6f}"})
        events.desk_event({"type": "position", "position": position_event(position)})
    return fill


def orders_work(now: datetime | None = None) -> int:
    fills = 0
    for order_id in due_orders(now):
        if fill_attempt(order_id=order_id, now=now) is not None:
            fills += 1
    return fills


# --- manual steps (senior traders) -------------------------------------------------------------

def _require_senior(user: Any) -> None:
    if not has_role(user, SENIOR_TRADER):
        raise Forbidden("Only senior traders change hedges.")


def _audit(decision: HedgeDecision, user: Any, action: str, detail: dict[str, Any]) -> None:
    HedgeAction.objects.create(decision=decision, action=action, detail=detail, actor=user, at=timezone.now())


def order_cancel(*, user: Any, order_id: int) -> HedgeOrder:
    """Cancel an order (a schedule's parent cancels its unfilled children); a filled order is refused."""
    _require_senior(user)
    with transaction.atomic():
        order = HedgeOrder.objects.select_for_update().filter(id=order_id).first()
        if order is None:
            raise NotFound("No such hedge order.")
        if order.status == "filled":
            raise Conflict(f"Order {order.id} is already filled: nothing to cancel.")
        if order.status in ("cancelled", "rejected"):
            raise Conflict(f"Order {order.id} is already {order.status}.")
        HedgeOrder.objects.filter(parent=order, status__in=["pending", "working"]).update(status="cancelled")
        order.status = "cancelled"
        order.save(update_fields=["status"])
        _audit(order.decision, user, "cancel", {"order_id": order.id, "filled": str(order.filled)})
        events.desk_event({"type": "hedge.order", "order_id": order.id, "status": "cancelled"})
    return order


def _replan(decision: HedgeDecision, parent: HedgeOrder, user: Any, *, hours: float | None,
            now_qty: Decimal | None) -> HedgeOrder:
    """Cancel the schedule's pending children and release what they held again: `now_qty` at once
    (None: nothing at once) and the rest over `hours` (None: all at once)."""
    pending = list(HedgeOrder.objects.select_for_update().filter(parent=parent, status="pending"))
    remaining = sum((c.quantity for c in pending), Decimal(0))
    if remaining <= 0:
        raise Conflict("The schedule has nothing left to release.")
    if now_qty is not None and now_qty > remaining:
        raise DeskError(f"Only {remaining} is left to release on this schedule.", field="quantity")
    HedgeOrder.objects.filter(id__in=[c.id for c in pending]).update(status="cancelled")
    conf = HedgeSettings.current()
    now = timezone.now()
    inst = parent.instrument
    specs: list[dict[str, Any]] = []
    if now_qty:
        specs.append({"instrument": inst, "side": parent.side, "quantity": now_qty, "release_at": now})
    rest = remaining - (now_qty or Decimal(0))
    if rest > 0:
        if hours is None:
            specs.append({"instrument": inst, "side": parent.side, "quantity": rest, "release_at": now})
        else:
            signed = float(rest) if parent.side == "sell" else -float(rest)
            planned, _ = _schedule_plan(inst, signed, conf, now, horizon_hours=hours)
            specs.extend(planned[0]["children"] if planned else [])
    _create_orders(decision, specs, conf, now, parent=parent)
    return parent


def _lock_schedule(order_id: int) -> HedgeOrder:
    """Lock a schedule's parent order (the caller holds the transaction)."""
    parent = HedgeOrder.objects.select_for_update().filter(id=order_id).first()
    if parent is None or not HedgeOrder.objects.filter(parent_id=order_id).exists():
        raise NotFound("No such schedule.")
    return parent


def schedule_change_horizon(*, user: Any, order_id: int, hours: Any) -> HedgeOrder:
    _require_senior(user)
    try:
        h = float(hours)
    except (TypeError, ValueError):
        raise DeskError("Must be a number of hours.", field="hours") from None
    if not math.isfinite(h) or h <= 0:
        raise DeskError("A schedule needs a horizon greater than zero.", field="hours")
    with transaction.atomic():
        parent = _lock_schedule(order_id)
        _replan(parent.decision, parent, user, hours=h, now_qty=None)
        _audit(parent.decision, user, "change_horizon", {"order_id": parent.id, "hours": h})
    return parent


def schedule_hedge_now(*, user: Any, order_id: int, quantity: Any = None) -> HedgeOrder:
    """Release a schedule's remainder now (or `quantity` of it now, the rest over the desk horizon)."""
    _require_senior(user)
    with transaction.atomic():
        parent = _lock_schedule(order_id)
        qty: Decimal | None = None
        if quantity not in (None, ""):
            try:
                qty = Decimal(str(quantity)).quantize(Decimal("0.01"))
            except Exception:  # noqa: BLE001 - any unparsable amount is the same refusal
                raise DeskError("Must be a face amount.", field="quantity") from None
            position = abs(Decimal(str(selectors.position_quantity(parent.instrument_id))))
            if qty <= 0 or qty > position:
                raise DeskError(f"The hedge of {qty} is larger than the position ({position}).", field="quantity")
        hours = HedgeSettings.current().schedule_horizon_hours if qty is not None else None
        _replan(parent.decision, parent, user, hours=hours, now_qty=qty)
        _audit(parent.decision, user, "hedge_now", {"order_id": parent.id, "quantity": str(qty) if qty else "all"})
    return parent
