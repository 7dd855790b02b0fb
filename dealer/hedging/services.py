"""Hedging writes: decide a trade's hedge, create and work its orders, book fills, manual steps.

Decisions are made in batches, as RFQs are priced: `hedge_decide_pending` claims every trade
waiting for its decision (`SELECT ... FOR UPDATE SKIP LOCKED` on the trades, so two workers
never decide the same trade; the decision's one-to-one trade key makes a second decision
impossible), reads the context once (positions just after each trade, axes, client interest,
settings, market snapshot), decides all in one call of `pricing.hedging.decide_hedges` and
writes decisions and orders in bulk. Whoever creates orders holds the HedgeSettings row lock
while it checks the desk's limits and writes, so that the day's limit sees every order before.

Events: every change a person on the desk sees (a decision with its orders, a fill, an order
cancelled, rejected or re-timed) goes to the `desk` group after commit through `_publish`; the
shapes are in `dealer.desk.events`.

Locks: `fill_attempt` holds the order row (`select_for_update`) while it draws, books the fill,
moves the position and bumps `attempts`, all in one transaction; the fill's key is
`<order id>:<attempt>`, unique, so a redelivered task after a crash replays the same attempt and
books it at most once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from dealer.desk import events
from dealer.desk.models import Trade
from dealer.desk.services import position_apply, position_event
from dealer.errors import Conflict, DeskError, Forbidden, NotFound
from dealer.events import publish_many
from dealer.hedging import selectors
from dealer.hedging.models import HedgeAction, HedgeDecision, HedgeFill, HedgeOrder, HedgeSettings
from dealer.market.models import Instrument
from dealer.market.selectors import latest_snapshot
from dealer.market.units import SHARE_CLASSES, money_per_point, money_per_point_decimal
from dealer.roles import SENIOR_TRADER, has_role
from pricing.hedging import ACTIONS, decide_hedges, min_variance_hedge_ratios, route_order
from pricing.impact import almgren_chriss

LOT = Decimal("1000")
MAX_ATTEMPTS_WITHOUT_FILL = 30


def _publish(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send `messages` (group, event) after the current transaction commits, in order, in one
    round trip; nothing if it rolls back."""
    transaction.on_commit(lambda: publish_many(messages))


def _q(x: float) -> Decimal:
    """Face rounded down to whole lots."""
    return (Decimal(repr(abs(x))) / LOT).to_integral_value(rounding=ROUND_DOWN) * LOT


class _Market:
    """One market snapshot's mids and volatilities, read once for a batch or a manual step."""

    def __init__(self) -> None:
        self.snap = latest_snapshot()
        self.stressed = bool(self.snap and self.snap.stressed)
        self._closes: dict[int, float] = {}

    def mid(self, instrument: Instrument) -> float:
        return self.mid_at(instrument.sim_index, instrument.id)

    def mid_at(self, sim_index: int, instrument_id: int | None = None) -> float:
        if self.snap is not None and sim_index < self.snap.arrays["mid"].size:
            return float(self.snap.arrays["mid"][sim_index])
        if instrument_id is None:
            instrument_id = Instrument.objects.values_list("id", flat=True).get(sim_index=sim_index)
        if instrument_id not in self._closes:
            self._closes[instrument_id] = float(selectors.latest_close(instrument_id) or 100.0)
        return self._closes[instrument_id]

    def sigma_daily(self, instrument: Instrument) -> float:
        return float(self.snap.arrays["sigma"][instrument.sim_index]) if self.snap is not None else 0.005


def _effective_change(desk_change: float, position_after: float) -> float:
    """The part of the trade that added to inventory (a trade toward flat needs no hedge)."""
    if desk_change == 0 or position_after == 0 or (position_after > 0) != (desk_change > 0):
        return 0.0
    return math.copysign(min(abs(desk_change), abs(position_after)), desk_change)


def _per_unit(asset_class_code: str, mid: float) -> float:
    """Money per unit of quantity at `mid` (dealer.market.units)."""
    return mid * money_per_point(asset_class_code)


def _notional(instrument: Instrument, qty: Decimal, mid: float) -> Decimal:
    return (qty * Decimal(repr(_per_unit(instrument.asset_class.code, mid)))).quantize(Decimal("0.01"))


def _locked_settings() -> HedgeSettings:
    """The desk's hedge settings, row locked until the caller's transaction ends: whoever creates
    orders holds it, so that the day's limit is checked against every order committed before."""
    row = HedgeSettings.objects.select_for_update().order_by("id").first()
    if row is None:
        HedgeSettings.current()
        row = HedgeSettings.objects.select_for_update().order_by("id").first()
    assert row is not None
    return row


class _Limits:
    """The desk's per-order and per-day hedge notional limits over the orders of one transaction.

    The day's notional counts today's fills, the unfilled part of the live orders made today and
    the orders this transaction has admitted so far, so that a batch of decisions cannot pass the
    limit together where each alone would not. The caller holds :func:`_locked_settings`.
    """

    def __init__(self, conf: HedgeSettings, market: _Market, now: datetime):
        self.conf = conf
        self.market = market
        self.now = now
        self.start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        self.used: Decimal | None = None
        self.exact = False
        self.admitted = Decimal(0)

    def _used(self, *, exact: bool = False) -> Decimal:
        """The day's usage, this transaction's admitted orders included: an upper bound unless
        `exact` (see `selectors.daily_hedge_usage`)."""
        if self.used is None or (exact and not self.exact):
            fills, live = selectors.daily_hedge_usage(self.start, self.now, exact=exact)
            cents = Decimal("0.01")
            self.used = fills + self.admitted + sum(
                ((face * Decimal(repr(_per_unit(code, self.market.mid_at(idx))))).quantize(cents) for idx, code, face in live),
                Decimal(0))
            self.exact = exact
        return self.used

    def created(self, orders: list[HedgeOrder]) -> None:
        """The orders this transaction wrote: when it read the day's usage (under the settings
        lock, so nobody else wrote orders since), the bound takes them without reading them back."""
        if self.used is not None:
            selectors.live_bound_created(self.start, orders)

    def admit(self, instrument: Instrument, qty: Decimal) -> str:
        """'' when the order fits the desk's limits (and counts it against the day), else the reason it does not."""
        notional = _notional(instrument, qty, self.market.mid(instrument))
        if notional > self.conf.max_order_notional:
            return f"order notional {notional:,.0f} exceeds the per-order limit {self.conf.max_order_notional:,.0f}"
        used = self._used()
        if used + notional > self.conf.max_daily_notional and not self.exact:
            used = self._used(exact=True)  # the bound says no: count exactly before refusing
        if used + notional > self.conf.max_daily_notional:
            return f"the day's hedge notional would exceed the limit {self.conf.max_daily_notional:,.0f}"
        self.used = used + notional
        self.admitted += notional
        return ""


# --- decisions ---------------------------------------------------------------------------------

CLAIM_LIMIT = 500
# Trades booked this recently with no decision are decided together with the one a task names;
# older ones (the seeded history among them) only when their own task asks.
CLAIM_WINDOW = timedelta(hours=1)


@dataclass
class Decided:
    """What one call decided: how many trades, how many orders wait for execution, and whether
    the trade the caller named was among them."""

    decisions: list[HedgeDecision] = field(default_factory=list)
    pending_orders: int = 0
    target_done: bool = False


def hedge_decide(*, trade_id: int) -> HedgeDecision:
    """Decide the hedge of a booked trade (idempotent: a second call returns the first decision).

    The recent trades booked after it and waiting for their decision are decided in the same batch."""
    existing = HedgeDecision.objects.filter(trade_id=trade_id).first()
    if existing is not None:
        return existing
    if not hedge_decide_pending(trade_id=trade_id).target_done:
        raise NotFound("No such trade.")
    return HedgeDecision.objects.get(trade_id=trade_id)


def hedge_decide_pending(*, trade_id: int | None = None, recent: timedelta | None = None) -> Decided:
    """Decide the trades still waiting for their hedge decision: `trade_id` and the recent ones
    booked after it, or without `trade_id` every recent one.

    A trade whose decision exists costs one query (a task for a trade an earlier batch took).
    A trade another batch holds (or a markout write locks) is waited for, then looked at again,
    so that on return the named trade has its decision (`target_done`) unless it does not exist.
    """
    if trade_id is not None and HedgeDecision.objects.filter(trade_id=trade_id).exists():
        return Decided(target_done=True)
    total = Decided()
    for _ in range(100):
        batch = _decide_batch(trade_id, recent or CLAIM_WINDOW, run=recent is not None and trade_id is None)
        total.decisions += batch.decisions
        total.pending_orders += batch.pending_orders
        if trade_id is None or batch.target_done:
            total.target_done = trade_id is not None
            return total
        with transaction.atomic():
            # Wait for whoever holds the trade (a batch in flight) to commit, then look again.
            held = Trade.objects.select_for_update(of=("self",)).filter(id=trade_id).values_list("id", flat=True)
            if not list(held):
                return total
        if HedgeDecision.objects.filter(trade_id=trade_id).exists():
            total.target_done = True
            return total
    raise DeskError(f"Trade {trade_id} could not be claimed for its hedge decision.")


STRAGGLER_AFTER = timedelta(seconds=5)


def hedge_decide_stragglers(*, now: datetime | None = None) -> Decided:
    """Decide the recent trades left without a decision `STRAGGLER_AFTER` past booking; one
    existence query when there are none (the usual case)."""
    now = now or timezone.now()
    late = Trade.objects.filter(hedge_decision__isnull=True, booked_at__gte=now - CLAIM_WINDOW,
                                booked_at__lte=now - STRAGGLER_AFTER)
    if not late.exists():
        return Decided()
    return hedge_decide_pending()


# A decision run remembers how far back it has seen every trade: the next claim reads the trades
# booked since then (less this margin for a commit that lagged its booking stamp), not its whole
# window (at 40 trades a second a 30 s window is 1,200 trades to look up; 1.4 ms of the claim). A
# trade committed later than that is the straggler sweep's.
SEEN_MARGIN = timedelta(seconds=2)
_seen_through: dict[timedelta, datetime] = {}


def _claim(trade_id: int | None, now: datetime, window: timedelta = CLAIM_WINDOW,
           seen_through: datetime | None = None) -> list[Trade]:
    """Lock the trades waiting for a decision (skipping those another batch holds), oldest first.

    With `trade_id`: that trade and the recent ones booked after it, so that the claim reads the
    primary key from there on (the backlog behind the task), not the whole window; the trades
    before it have tasks of their own, ahead of it in the queue. Without: those booked within the
    window (and since `seen_through`, when a run has seen every trade before it).
    """
    qs = Trade.objects.select_related("instrument__asset_class").filter(hedge_decision__isnull=True)
    since = now - window if seen_through is None else max(now - window, seen_through)
    recent = Q(booked_at__gte=since)
    if trade_id is not None:
        qs = qs.filter(id__gte=trade_id).filter(recent | Q(id=trade_id))
    else:
        qs = qs.filter(recent)
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return list(qs.order_by("id")[:CLAIM_LIMIT])


def _decide_batch(trade_id: int | None, window: timedelta = CLAIM_WINDOW, *, run: bool = False) -> Decided:
    """Claim, read the context once, decide all in one vectorized call, write in bulk, publish.

    A decision run (`run`) claims only the trades booked since it last saw them all."""
    with transaction.atomic():
        now = timezone.now()
        trades = _claim(trade_id, now, window, _seen_through.get(window) if run else None)
        if not trades:
            if run:
                _seen_through[window] = now - SEEN_MARGIN
            return Decided()
        conf = _locked_settings()
        market = _Market()
        stressed = market.stressed
        positions = selectors.positions_after(trades)
        axes = selectors.axe_faces(t.instrument_id for t in trades)
        desk_change = [float(t.desk_quantity) for t in trades]
        change = [_effective_change(dq, positions[t.id]) for t, dq in zip(trades, desk_change)]
        interests = selectors.offsetting_interests([(t.instrument, c, t.client_id) for t, c in zip(trades, change)])
        insts = [t.instrument for t in trades]
        policy = decide_hedges(
            change, [float(i.adv) or 1.0 for i in insts], [i.liquidity_bucket <= 2 and not stressed for i in insts],
            [t.tier for t in trades], axe=[axes[i.id] for i in insts], internal_interest=[x[0] for x in interests],
            has_proxy=[i.asset_class.code in ("govt", "ig_corp", "hy_corp") and (i.liquidity_bucket >= 3 or stressed)
                       for i in insts],
            small_fraction=conf.small_fraction / (5.0 if stressed else 1.0))
        reasons = policy.explain()
        proxies = selectors.proxy_plans_cached(
            [t.instrument for t, a in zip(trades, policy.action.tolist()) if ACTIONS[a] == "proxy"], conf.history_days)
        plans: list[tuple[HedgeDecision, list[dict[str, Any]]]] = []
        for k, trade in enumerate(trades):
            decision, orders = _decision_for(trade, k, policy, reasons[k], desk_change[k], change[k],
                                             positions[trade.id], axes[trade.instrument_id], interests[k],
                                             proxies.get(trade.instrument_id), conf, market, now)
            plans.append((decision, orders))
        limits = _Limits(conf, market, now)
        parents, leaves = _build_orders(plans, limits)
        # Stamped as late as it can be: only the inserts and the commit come after it.
        decided_at = timezone.now()
        for decision, _ in plans:
            decision.decided_at = decided_at
            decision.latency_ms = (decided_at - decision.trade.booked_at).total_seconds() * 1000.0
        HedgeDecision.objects.bulk_create([d for d, _ in plans])
        created = _write_orders(parents, leaves)
        limits.created(created)
        order_ids: dict[int, list[int]] = {}
        for o in created:
            order_ids.setdefault(o.decision_id, []).append(o.id)
        _publish([("desk", events.hedge_decided(d, order_ids.get(d.id, []))) for d, _ in plans])
    if run and len(trades) < CLAIM_LIMIT:
        # Committed: every trade booked before `now - SEEN_MARGIN` and committed by the claim is
        # decided, here or by the batch that held it.
        _seen_through[window] = now - SEEN_MARGIN
    return Decided(decisions=[d for d, _ in plans], pending_orders=sum(o.status == "pending" for o in created),
                   target_done=trade_id is not None and any(t.id == trade_id for t in trades))


def _decision_for(trade: Trade, k: int, policy: Any, reason: str, desk_change: float, change: float,
                  position_after: float, axe: float, interest: tuple[float, list[str]],
                  proxy: selectors.ProxyPlan | None, conf: HedgeSettings, market: _Market,
                  now: datetime) -> tuple[HedgeDecision, list[dict[str, Any]]]:
    """One trade's decision (unsaved) and the orders that carry it out, from the batch's policy."""
    inst = trade.instrument
    stressed = market.stressed
    action = ACTIONS[int(policy.action[k])]
    if change == 0 and desk_change != 0:
        reason = "hold: the trade took the book toward flat (no added inventory to hedge)"
    figures: dict[str, Any] = {"desk_change": desk_change, "effective_change": change, "position_after": position_after,
                               "adv": float(inst.adv), "liquidity_bucket": inst.liquidity_bucket, "stressed": stressed,
                               "participation": float(policy.participation[k])}
    if stressed:
        reason = "stressed market (liquidity evaporating): " + reason
    orders: list[dict[str, Any]] = []
    if action == "proxy":
        try:
            orders, proxy_figures = _proxy_plan(inst, change, proxy, market, now)
            figures.update(proxy_figures)
            reason += f"; proxies {', '.join(p['isin'] for p in proxy_figures['proxies'])}, variance reduction {proxy_figures['variance_reduction']:.0%}"
        except DeskError as exc:
            action = "schedule"
            reason = f"schedule: proxy refused ({exc.message})"
    if action == "schedule":
        orders, plan = _schedule_plan(inst, change, conf, now, market=market)
        figures["schedule"] = plan
    elif action == "offset":
        orders = [{"instrument": inst, "side": "sell" if change > 0 else "buy", "quantity": _q(change), "release_at": now}]
    elif action == "internalize":
        figures["interested_clients"] = interest[1]
        figures["offsetting_interest"] = interest[0]
        reason += f"; offsetting clients {', '.join(interest[1]) or 'with open RFQs'}"
    elif action == "hold":
        figures["axe_face"] = axe
    decision = HedgeDecision(trade=trade, decision=action, reason=reason[:300], figures=figures, decided_at=now)
    return decision, orders


def _proxy_plan(inst: Instrument, change: float, plan: selectors.ProxyPlan | None, market: _Market,
                now: datetime) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    proxies, returns = plan if plan is not None else ([], np.zeros((0, 1)))
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
    target_mid = market.mid(inst)
    target_notional = change * target_mid / 100.0
    orders = []
    described = []
    for proxy, h in zip(proxies, ratios.tolist()):
        per_unit = _per_unit(proxy.asset_class.code, market.mid(proxy))
        units = h * target_notional / per_unit
        qty = _q(units) if proxy.asset_class.code not in SHARE_CLASSES else Decimal(int(abs(units)))
        described.append({"isin": proxy.isin, "description": proxy.description, "ratio": h, "units": units})
        if qty > 0:
            orders.append({"instrument": proxy, "side": "buy" if units > 0 else "sell", "quantity": qty,
                           "release_at": now})
    return orders, {"proxies": described, "variance_reduction": vr, "history_days": int(returns.shape[0])}


def _schedule_plan(inst: Instrument, change: float, conf: HedgeSettings, now: datetime,
                   horizon_hours: float | None = None, *,
                   market: _Market | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    hours = conf.schedule_horizon_hours if horizon_hours is None else horizon_hours
    if not hours or hours <= 0:
        raise DeskError("A schedule needs a horizon greater than zero.", field="hours")
    total = _q(change)
    if total <= 0:
        return [], {"horizon_hours": hours, "steps": 0}
    market = market or _Market()
    mid = market.mid(inst)
    sigma_daily = market.sigma_daily(inst)
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


def _split(instrument: Instrument, qty: Decimal, conf: HedgeSettings, market: _Market) -> list[Decimal]:
    """Split an order so that each piece stays within the per-order notional limit."""
    per_unit = Decimal(repr(_per_unit(instrument.asset_class.code, market.mid(instrument))))
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


def _create_orders(plans: list[tuple[HedgeDecision, list[dict[str, Any]]]], limits: _Limits,
                   parent: HedgeOrder | None = None) -> list[HedgeOrder]:
    """Write the orders of saved decisions (see :func:`_build_orders`)."""
    created = _write_orders(*_build_orders(plans, limits, parent))
    limits.created(created)
    return created


def _build_orders(plans: list[tuple[HedgeDecision, list[dict[str, Any]]]], limits: _Limits,
                  parent: HedgeOrder | None = None) -> tuple[list[HedgeOrder], list[HedgeOrder]]:
    """The orders of the decisions, unsaved: a schedule's parents, and the pieces, each split to
    the per-order limit and admitted against the day's (or rejected with the reason)."""
    parents: list[HedgeOrder] = []
    leaves: list[HedgeOrder] = []

    def add_leaves(decision: HedgeDecision, spec: dict[str, Any], parent: HedgeOrder | None) -> None:
        for qty in _split(spec["instrument"], spec["quantity"], limits.conf, limits.market):
            refused = limits.admit(spec["instrument"], qty)
            leaves.append(HedgeOrder(decision=decision, parent=parent, instrument=spec["instrument"], side=spec["side"],
                                     quantity=qty, status="rejected" if refused else "pending", reason=refused,
                                     release_at=spec["release_at"]))

    for decision, specs in plans:
        for spec in specs:
            children = spec.get("children")
            if children is None:
                add_leaves(decision, spec, parent)
                continue
            p = HedgeOrder(decision=decision, instrument=spec["instrument"], side=spec["side"],
                           quantity=spec["quantity"], status="working", release_at=None)
            parents.append(p)
            for child in children:
                add_leaves(decision, child, p)
    return parents, leaves


def _write_orders(parents: list[HedgeOrder], leaves: list[HedgeOrder]) -> list[HedgeOrder]:
    """Insert the orders of saved decisions in bulk with their history rows, parents first."""
    for batch in (parents, leaves):
        if batch:
            HedgeOrder.objects.bulk_create(batch)
            HedgeOrder.history.bulk_history_create(batch)  # type: ignore[attr-defined]
    return parents + leaves


# --- execution ---------------------------------------------------------------------------------

def due_orders(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(HedgeOrder.objects.filter(status__in=["pending", "working"], release_at__lte=now,
                                          children__isnull=True).values_list("id", flat=True)[:500])


def fill_attempt(*, order_id: int, now: datetime | None = None, venues: list[Any] | None = None,
                 market: _Market | None = None) -> HedgeFill | None:
    """One attempt to fill an order on the venue with the lowest expected all-in cost (`venues`
    and `market`: read once by a caller working many orders)."""
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
        venues = venues if venues is not None else selectors.venues()
        market = market if market is not None else _Market()
        mid = market.mid(inst)
        snap = market.snap
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
                _publish([("desk", events.hedge_order_changed(order, "reject"))])
            else:  # only the attempt count moves: no history row for every miss
                HedgeOrder.objects.filter(id=order.id).update(attempts=attempt)
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
        position = position_apply(instrument_id=inst.id, desk_qty=qty if order.side == "buy" else -qty, price=price,
                                  per_point=money_per_point_decimal(inst.asset_class.code))
        _publish([("desk", events.hedge_filled(order, qty, price)),
                  ("desk", {"type": "position", "position": position_event(position)})])
    return fill


def orders_work(now: datetime | None = None) -> int:
    fills = 0
    due = due_orders(now)
    if not due:
        return 0
    venues, market = selectors.venues(), _Market()
    for order_id in due:
        if fill_attempt(order_id=order_id, now=now, venues=venues, market=market) is not None:
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
        _publish([("desk", events.hedge_order_changed(order, "cancel"))])
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
    conf = _locked_settings()
    market = _Market()
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
            planned, _ = _schedule_plan(inst, signed, conf, now, horizon_hours=hours, market=market)
            specs.extend(planned[0]["children"] if planned else [])
    _create_orders([(decision, specs)], _Limits(conf, market, now), parent=parent)
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
        _publish([("desk", events.hedge_order_changed(parent, "horizon"))])
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
        _publish([("desk", events.hedge_order_changed(parent, "hedge_now"))])
    return parent
