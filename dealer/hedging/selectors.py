"""Reads for hedging: proxies and their ratios from the simulator's history, venues, decisions."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Sequence

import numpy as np
from django.db import connection
from django.db.models import Case, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from crm.models import Client, Interest
from dealer.desk.models import Axe, Position, Rfq, Trade
from dealer.hedging.models import HedgeDecision, HedgeFill, HedgeOrder
from dealer.market.models import AssetClass, DailyClose, Instrument, Venue
from dealer.market.units import SHARE_CLASSES

_lock = threading.Lock()
_proxy_cache: dict[tuple[int, int, int], Any] = {}


ProxyPlan = tuple[list[Instrument], np.ndarray]


def proxy_plan_cached(target: Instrument, days: int) -> ProxyPlan:
    """Proxies of a bond and the closes' returns behind their ratios, kept per process for the
    day (closes are daily: they do not change intraday)."""
    return proxy_plans_cached([target], days)[target.id]


def proxy_plans_cached(targets: Iterable[Instrument], days: int) -> dict[int, ProxyPlan]:
    """:func:`proxy_plan_cached` for many bonds: the ones not in the day's cache are estimated
    together, from two queries (the hedge instruments, the closes) whatever their number."""
    today = date.today().toordinal()
    out: dict[int, ProxyPlan] = {}
    missing: dict[int, Instrument] = {}
    with _lock:
        for t in targets:
            hit = _proxy_cache.get((t.id, days, today))
            if hit is not None:
                out[t.id] = hit
            else:
                missing[t.id] = t
    if not missing:
        return out
    candidates = list(Instrument.objects.select_related("asset_class").filter(
        Q(asset_class__code="rates_future") | Q(asset_class__code="cds_index", liquidity_bucket=1)))
    proxies = {tid: proxy_instruments(t, candidates) for tid, t in missing.items()}
    wanted = {i for tid, ps in proxies.items() if ps for i in [tid, *(p.id for p in ps)]}
    closes = closes_by_instrument(wanted) if wanted else {}
    for tid, ps in proxies.items():
        ids = [tid] + [p.id for p in ps]
        out[tid] = (ps, close_returns(ids, days, closes=closes) if ps else np.zeros((0, 1)))
    with _lock:
        if len(_proxy_cache) > 5000:
            _proxy_cache.clear()
        for tid in missing:
            _proxy_cache[(tid, days, today)] = out[tid]
    return out


def proxy_instruments(target: Instrument, candidates: list[Instrument] | None = None) -> list[Instrument]:
    """The liquid hedges of a bond: a rates future of the nearest duration, and for credit the index.

    govt: the future; ig_corp: future + IG CDS index (CDX IG / iTraxx Main);
    hy_corp: HY CDS index (CDX HY / iTraxx Crossover) + future. `candidates`: the rates futures
    and liquid CDS indices, when the caller has read them already.
    """
    ac = target.asset_class.code
    if ac not in ("govt", "ig_corp", "hy_corp"):
        return []
    if candidates is None:
        candidates = list(Instrument.objects.select_related("asset_class").filter(
            Q(asset_class__code="rates_future") | Q(asset_class__code="cds_index", liquidity_bucket=1)))
    futures = [i for i in candidates if i.asset_class.code == "rates_future" and i.currency == target.currency]
    out: list[Instrument] = []
    if futures:
        out.append(min(futures, key=lambda f: abs(f.duration - target.duration)))
    if ac != "govt":
        words = ("IG", "MAIN") if ac == "ig_corp" else ("HY", "XOVER")
        indices = [i for i in candidates
                   if i.asset_class.code == "cds_index" and i.currency == target.currency and i.liquidity_bucket == 1
                   and any(f" {w} " in f" {i.description} " for w in words)]
        if indices:
            out.insert(0 if ac == "hy_corp" else len(out), indices[0])
    return out


def closes_by_instrument(instrument_ids: Iterable[int]) -> dict[int, dict[date, float]]:
    """Every daily close of the instruments, by instrument and date (one query)."""
    by: dict[int, dict[date, float]] = {}
    for iid, d, c in DailyClose.objects.filter(instrument_id__in=set(instrument_ids)).order_by().values_list(
            "instrument_id", "date", "close"):
        by.setdefault(iid, {})[d] = c
    return by


def close_returns(instrument_ids: list[int], days: int, *,
                  closes: dict[int, dict[date, float]] | None = None) -> np.ndarray:
    """(T, K) daily log returns of the instruments over their last `days` common closes
    (`closes`: from :func:`closes_by_instrument`, when the caller has read them already)."""
    if closes is None:
        closes = closes_by_instrument(instrument_ids)
    by = {i: closes.get(i, {}) for i in instrument_ids}
    common = sorted(set.intersection(*(set(v) for v in by.values()))) if by else []
    common = common[-(days + 1):]
    if len(common) < 3:
        return np.zeros((0, len(instrument_ids)))
    table = np.array([[by[i][d] for i in instrument_ids] for d in common])
    return np.diff(np.log(table), axis=0)


def latest_close(instrument_id: int) -> float | None:
    return DailyClose.objects.filter(instrument_id=instrument_id).order_by("-date").values_list("close", flat=True).first()


def axe_faces(instrument_ids: Iterable[int]) -> dict[int, float]:
    """Signed face the desk wants on each instrument (buy +), zero where it has no active axe."""
    ids = sorted(set(instrument_ids))
    totals = {i: 0.0 for i in ids}
    if not ids:
        return totals
    with connection.cursor() as cursor:  # plain SQL: one of the hedge decision batch's statements
        cursor.execute(f"SELECT instrument_id, side, quantity FROM {Axe._meta.db_table}"
                       f" WHERE active AND instrument_id IN ({', '.join(['%s'] * len(ids))}) ORDER BY id", ids)
        for iid, side, qty in cursor.fetchall():
            totals[iid] += float(qty) if side == "buy" else -float(qty)
    return totals


NATURAL_SIZE = 1_000_000.0


def offsetting_interests(wants: Sequence[tuple[Instrument, float, int]]) -> list[tuple[float, list[str]]]:
    """For each (instrument, desk change, client id): the face other clients would take off the
    desk's hands, their open opposite RFQs on the instrument plus a natural size per client whose
    interest (instrument, issuer or sector) matches, and those clients' codes. Two queries for
    the whole list."""
    out: list[tuple[float, list[str]]] = [(0.0, []) for _ in wants]
    live = [k for k, (_, change, _) in enumerate(wants) if change != 0]
    if not live:
        return out
    insts = {wants[k][0].id: wants[k][0] for k in live}
    open_rfqs: dict[tuple[int, str], list[tuple[int, Decimal]]] = {}
    # Plain SQL: on the hedge decision path the ORM spent more CPU building these two statements
    # than the database did running them.
    isins = sorted({i.isin for i in insts.values()})
    issuers = sorted({i.issuer for i in insts.values()})
    sectors = sorted({i.sector for i in insts.values()})

    def marks(values: Sequence[Any]) -> str:
        return ", ".join(["%s"] * len(values))

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT instrument_id, side, client_id, SUM(quantity) FROM {Rfq._meta.db_table}"
            f" WHERE instrument_id IN ({marks(insts)}) AND status IN ('quoted', 'pending_review')"
            f" GROUP BY instrument_id, side, client_id", list(insts))
        for iid, side, cid, q in cursor.fetchall():
            open_rfqs.setdefault((iid, side), []).append((cid, _dec(q)))
        cursor.execute(
            f"SELECT i.client_id, c.code, i.scope, i.value, i.side FROM {Interest._meta.db_table} i"
            f" JOIN {Client._meta.db_table} c ON c.id = i.client_id"
            f" WHERE (i.scope = 'instrument' AND i.value IN ({marks(isins)}))"
            f" OR (i.scope = 'issuer' AND i.value IN ({marks(issuers)}))"
            f" OR (i.scope = 'sector' AND i.value IN ({marks(sectors)}))", [*isins, *issuers, *sectors])
        interests = cursor.fetchall()
    for k in live:
        inst, change, exclude = wants[k]
        wanted = "buy" if change > 0 else "sell"  # a long desk needs client buyers
        rfq_face = sum((q for cid, q in open_rfqs.get((inst.id, wanted), []) if cid != exclude), Decimal(0))
        of_inst = {"instrument": inst.isin, "issuer": inst.issuer, "sector": inst.sector}
        codes = sorted({code for cid, code, scope, value, side in interests
                        if side == wanted and cid != exclude and of_inst[scope] == value})
        out[k] = (float(rfq_face) + NATURAL_SIZE * len(codes), codes)
    return out


def positions_after(trades: Sequence[Trade]) -> dict[int, float]:
    """The desk's position in each trade's instrument just after that trade booked.

    The position now, less the trades booked after it on the instrument (by id) and the hedge
    fills booked after it, in one statement, so that it reads one consistent snapshot.
    """
    if not trades:
        return {}
    qn = connection.ops.quote_name
    position, trade = qn(Position._meta.db_table), qn(Trade._meta.db_table)
    fill, order = qn(HedgeFill._meta.db_table), qn(HedgeOrder._meta.db_table)
    # A later trade's booked_at can precede an earlier one's by the length of a booking
    # transaction at most; the bound lets the (instrument, booked_at) index do the work.
    since = connection.ops.adapt_datetimefield_value(min(t.booked_at for t in trades) - timedelta(minutes=1))
    marks = ", ".join(["%s"] * len(trades))
    sql = (
        f"SELECT t.id,"
        f" COALESCE((SELECT p.quantity FROM {position} p WHERE p.instrument_id = t.instrument_id), 0),"
        f" COALESCE((SELECT SUM(CASE WHEN l.side = 'buy' THEN -l.quantity ELSE l.quantity END) FROM {trade} l"
        f"  WHERE l.instrument_id = t.instrument_id AND l.booked_at >= %s AND l.id > t.id), 0),"
        f" COALESCE((SELECT SUM(CASE WHEN o.side = 'buy' THEN f.quantity ELSE -f.quantity END) FROM {fill} f"
        f"  JOIN {order} o ON o.id = f.order_id"
        f"  WHERE o.instrument_id = t.instrument_id AND f.filled_at > t.booked_at), 0)"
        f" FROM {trade} t WHERE t.id IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [since, *[t.id for t in trades]])
        rows = cursor.fetchall()
    cents = Decimal("0.01")
    return {tid: float((_dec(now) - _dec(later) - _dec(fills)).quantize(cents)) for tid, now, later, fills in rows}


def _dec(x: Any) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


FILLS_SETTLED = timedelta(seconds=30)
_settled_fills: dict[tuple[datetime, int], tuple[datetime, Decimal]] = {}
_settled_lock = threading.Lock()


def daily_fills_notional(start: datetime, now: datetime, *, version: int | None = None) -> Decimal:
    """The notional of the fills since `start` (the day's), in one query over the last half
    minute or so: the fills older than `FILLS_SETTLED` are summed once per process and kept (a
    fill commits within milliseconds of its `filled_at`), so a decision late in a busy day does not
    add up every fill of the day again."""
    from dealer.desk.context_versions import versions

    # A reset of the reference data (a reseed, a restore) starts afresh.
    key = (start, versions.read()[0] if version is None else version)
    with _settled_lock:
        for old in [k for k in _settled_fills if k != key]:
            del _settled_fills[old]
        upto, settled = _settled_fills.get(key, (start, Decimal(0)))
    settle_to = max(upto, now - FILLS_SETTLED)
    if connection.vendor == "postgresql":  # plain SQL (exact numeric sums): one of the decision batch's statements
        per_point = "CASE WHEN ac.code = ANY(%s) THEN 1 ELSE 0.01 END"  # dealer.market.units
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT SUM(f.quantity * f.price * {per_point}) FILTER (WHERE f.filled_at < %s),"
                f" SUM(f.quantity * f.price * {per_point}) FILTER (WHERE f.filled_at >= %s)"
                f" FROM {HedgeFill._meta.db_table} f JOIN {HedgeOrder._meta.db_table} o ON o.id = f.order_id"
                f" JOIN {Instrument._meta.db_table} i ON i.id = o.instrument_id"
                f" JOIN {AssetClass._meta.db_table} ac ON ac.id = i.asset_class_id WHERE f.filled_at >= %s",
                [list(SHARE_CLASSES), settle_to, list(SHARE_CLASSES), settle_to, upto])
            newly_settled, recent = cursor.fetchone()
        got = {"newly_settled": newly_settled, "recent": recent}
    else:
        notional = F("quantity") * F("price") * Case(
            When(order__instrument__asset_class__code__in=SHARE_CLASSES, then=Value(Decimal(1))),
            default=Value(Decimal("0.01")), output_field=DecimalField(max_digits=30, decimal_places=8))
        got = HedgeFill.objects.filter(filled_at__gte=upto).aggregate(
            newly_settled=Sum(notional, filter=Q(filled_at__lt=settle_to)),
            recent=Sum(notional, filter=Q(filled_at__gte=settle_to)))
    settled += _dec(got["newly_settled"] or 0)
    with _settled_lock:
        held = _settled_fills.get(key)
        if held is None or held[0] < settle_to:
            _settled_fills[key] = (settle_to, settled)
    return settled + _dec(got["recent"] or 0)


def _live_faces(start: datetime, after_id: int = 0) -> dict[tuple[int, str], Decimal]:
    """Per instrument (sim index, asset class) the unfilled face of the live orders made since
    `start` (and with an id above `after_id`)."""
    live = (HedgeOrder.objects.filter(status__in=["pending", "working"], release_at__isnull=False,
                                      created_at__gte=start, id__gt=after_id)
            .order_by().values("instrument_id")
            .annotate(face=Sum(F("quantity") - F("filled")))
            .values_list("instrument__sim_index", "instrument__asset_class__code", "face"))
    return {(idx, code): _dec(face) for idx, code, face in live if face}


# Per process, for each day (and reference version): the newest order id read and the live faces
# as of then plus those of every order created since.
_live_bound: dict[tuple[datetime, int], tuple[int, dict[tuple[int, str], Decimal]]] = {}
_live_lock = threading.Lock()


def daily_hedge_usage(start: datetime, now: datetime | None = None, *,
                      exact: bool = True) -> tuple[Decimal, list[tuple[int, str, Decimal]]]:
    """What the day's hedge notional limit has used since `start`: the notional of today's fills,
    and per instrument (sim index, asset class, face) the unfilled part of live orders made today.

    Not `exact`: an upper bound of the live part, for a caller holding the hedge settings' lock
    (every order is created under it): the faces of the last exact reading plus those of every
    order created since, read from the orders with a newer id (one index probe when there are
    none) instead of every live order of the day (1.7 ms and growing through the day, at each
    hedge decision batch). Fills, cancels and rejections since only lower the truth: an order
    that fits the bound fits the limit; one that does not is checked again exactly.
    """
    from dealer.desk.context_versions import versions

    version = versions.read()[0]
    fills = daily_fills_notional(start, now or timezone.now(), version=version)
    newest = HedgeOrder.objects.order_by("-id").values_list("id", flat=True).first() or 0
    key = (start, version)
    with _live_lock:
        for old in [k for k in _live_bound if k != key]:
            del _live_bound[old]
        held = _live_bound.get(key)
    if exact or held is None or held[0] > newest:
        faces = _live_faces(start)
    else:
        faces = dict(held[1])
        for k, face in (_live_faces(start, held[0]) if newest > held[0] else {}).items():
            faces[k] = faces.get(k, Decimal(0)) + face
    with _live_lock:
        _live_bound[key] = (newest, faces)
    return fills, [(idx, code, face) for (idx, code), face in faces.items()]


def live_bound_created(start: datetime, orders: Sequence[HedgeOrder]) -> None:
    """Add the orders a transaction holding the hedge settings' lock just wrote, after reading
    `daily_hedge_usage` in it, to the day's bound: the next batch then reads no order back (a
    rollback leaves the bound above the truth, which a refusal recounts)."""
    if not orders:
        return
    top = max(o.id for o in orders)
    with _live_lock:
        for key, (seen, faces) in list(_live_bound.items()):
            if key[0] != start or seen > top:
                continue
            faces = dict(faces)
            for o in orders:
                if o.status in ("pending", "working") and o.release_at is not None and o.quantity > o.filled:
                    k = (o.instrument.sim_index, o.instrument.asset_class.code)
                    faces[k] = faces.get(k, Decimal(0)) + (o.quantity - o.filled)
            _live_bound[key] = (top, faces)


def venues() -> list[Venue]:
    return list(Venue.objects.order_by("id"))


def position_quantity(instrument_id: int) -> float:
    """The desk's position now (manual steps; hedge decisions use :func:`positions_after`)."""
    q = Position.objects.filter(instrument_id=instrument_id).values_list("quantity", flat=True).first()
    return float(q or 0)


def decision_for_trade(trade_id: int) -> HedgeDecision | None:
    return HedgeDecision.objects.filter(trade_id=trade_id).prefetch_related("orders__instrument").first()


def decision_payload(decision: HedgeDecision) -> dict[str, Any]:
    return {
        "decision": decision.decision,
        "reason": decision.reason,
        "figures": decision.figures,
        "decided_at": decision.decided_at.isoformat(),
        "orders": [order_payload(o) for o in decision.orders.all().order_by("id")],
    }


def order_payload(o: HedgeOrder) -> dict[str, Any]:
    return {
        "id": o.id, "isin": o.instrument.isin, "side": o.side, "quantity": f"{o.quantity:.2f}",
        "filled": f"{o.filled:.2f}", "status": o.status, "parent_id": o.parent_id,
        "release_at": o.release_at.isoformat() if o.release_at else None, "reason": o.reason,
    }


def working_orders() -> QuerySet[HedgeOrder]:
    return HedgeOrder.objects.filter(status__in=["pending", "working"]).select_related("instrument", "decision")


def axe_offers() -> list[dict[str, Any]]:
    """Open axes with the clients whose interests match them (for sales)."""
    out = []
    interests = list(Interest.objects.select_related("client"))
    for axe in Axe.objects.filter(active=True).select_related("instrument"):
        inst = axe.instrument
        want = "sell" if axe.side == "buy" else "buy"  # the desk buys from client sellers
        clients = sorted({i.client.code for i in interests if i.side == want and (
            (i.scope == "instrument" and i.value == inst.isin) or (i.scope == "issuer" and i.value == inst.issuer)
            or (i.scope == "sector" and i.value == inst.sector))})
        out.append({"axe_id": axe.id, "isin": inst.isin, "description": inst.description, "desk_side": axe.side,
                    "quantity": f"{axe.quantity:.2f}", "clients": clients})
    return out


def recent_decisions(limit: int = 50) -> list[dict[str, Any]]:
    """The latest hedge decisions with their orders, fills and residual risk, for the book page."""
    decisions = list(HedgeDecision.objects.select_related("trade__instrument", "trade__client")
                     .prefetch_related("orders__instrument", "orders__fills").order_by("-decided_at")[:limit])
    out = []
    for d in decisions:
        orders = list(d.orders.all())
        leaves = [o for o in orders if not any(c.parent_id == o.id for c in orders)]
        total = sum((o.quantity for o in leaves if o.status != "cancelled"), Decimal(0))
        filled = sum((o.filled for o in leaves), Decimal(0))
        change = abs(Decimal(str(d.figures.get("effective_change", 0))))
        vr = d.figures.get("variance_reduction")
        if d.decision == "proxy" and vr is not None:
            residual = f"{(1 - vr) ** 0.5:.0%} of the unhedged volatility once filled"
        elif change:
            residual = f"{max(change - filled, Decimal(0)):,.0f} face unhedged"
        else:
            residual = "none"
        out.append({
            "id": d.id, "trade_id": d.trade_id, "isin": d.trade.instrument.isin, "client": d.trade.client.code,
            "decision": d.decision, "reason": d.reason, "decided_at": d.decided_at.isoformat(),
            "progress": float(filled / total) if total else (1.0 if d.decision in ("hold", "internalize") else 0.0),
            "residual": residual,
            "orders": [{**order_payload(o), "is_schedule": any(c.parent_id == o.id for c in orders),
                        "fills": [{"venue": f.venue_id, "quantity": f"{f.quantity:.2f}", "price": f"{f.price:.6f}"}
                                  for f in o.fills.all()]} for o in orders],
        })
    return out
