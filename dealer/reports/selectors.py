"""Reads of the management reports.

Page figures come from the rollups (never a scan of the trade or RFQ table), and from the
smallest rollup that can answer: desk-wide days when no client is involved, client months plus
client days at the edges of the range when one is (client days alone for daily or weekly
periods), and the per-instrument `DailyRollup` only when a client view also needs the sector.
Hit ratios and calibration read the hit rollups over at most `HIT_WINDOW_DAYS`. The few reads
that are not rollups are bounded: the trades behind one drill-down key (paginated), Tier 1
decisions (a small table), and the current positions (and current mids, which mark the hedge
rollups: `hedge_pnl`).

Scoping: management sees everything; a relationship manager the same figures for their own
clients only; traders desk-level figures (no per-client or per-RM grouping); API clients nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, time as dtime, timedelta, timezone as dt_tz
from decimal import Decimal
from typing import Any, Mapping

from django.db.models import (
    Case, DecimalField, ExpressionWrapper, F, FloatField, OuterRef, QuerySet, Subquery, Sum, Value, When,
)
from django.db.models.functions import Coalesce, TruncMonth, TruncQuarter, TruncWeek
from django.utils import timezone

from crm.models import Client
from dealer.desk.models import Decision, Markout, Trade
from dealer.errors import DeskError, Forbidden
from dealer.hedging.models import HedgeFill
from dealer.market.models import AssetClass, Instrument
from dealer.market.units import money_per_point
from dealer.reports.models import (
    DISTANCE_BUCKETS, HORIZONS, P_BINS, SIZE_BUCKETS, ClientDayRollup, ClientMonthRollup, DailyRollup,
    DeskDayRollup, HedgeRollup, HitDeskRollup, HitRollup, RollupState,
)
from dealer.roles import API_CLIENT, MANAGEMENT, RM, SENIOR_TRADER, TRADER, has_role

MAX_RANGE_DAYS = 732
DEFAULT_RANGE_DAYS = 90
HIT_WINDOW_DAYS = 92
GROUPS = ("client", "tier", "rm", "asset_class", "sector", "period")
API_GROUPS = ("client", "tier", "rm", "asset_class")
DESK_GROUPS = ("tier", "asset_class", "sector", "period")
PERIODS = ("day", "week", "month", "quarter")
FILTER_PARAMS = ("tier", "client", "rm", "asset_class", "sector")
HORIZON_LABELS = {60: "1 min", 300: "5 min", 1800: "30 min", 86400: "1 day"}


# --- who sees what ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    kind: str  # "management", "rm" or "desk"
    user: Any

    @property
    def is_desk(self) -> bool:
        return self.kind == "desk"


def scope_for(user: Any) -> Scope:
    """The user's view of the reports; Forbidden for API clients and people without a role."""
    if has_role(user, MANAGEMENT):
        return Scope("management", user)
    if has_role(user, RM):
        return Scope("rm", user)
    if has_role(user, TRADER, SENIOR_TRADER):
        return Scope("desk", user)
    if has_role(user, API_CLIENT):
        raise Forbidden("Reports are not available to API clients.")
    raise Forbidden("Your role does not allow reports.")


# --- filters ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    group_by: str = "tier"
    period: str = "month"
    tier: int | None = None
    client: str | None = None
    rm: str | None = None
    asset_class: str | None = None
    sector: str | None = None

    def query(self, **override: Any) -> dict[str, str]:
        """The filters as query parameters (for links, drill-down and CSV downloads)."""
        f = replace(self, **override) if override else self
        out = {"start": f.start.isoformat(), "end": f.end.isoformat(), "group_by": f.group_by}
        if f.group_by == "period":
            out["period"] = f.period
        for name in FILTER_PARAMS:
            value = getattr(f, name)
            if value is not None:
                out[name] = str(value)
        return out


def _date(params: Mapping[str, str], name: str) -> date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise DeskError(f"{raw!r} is not a date: use YYYY-MM-DD.", field=name) from None


def parse_filters(params: Mapping[str, str], *, scope: Scope, groups: tuple[str, ...] = GROUPS,
                  default_group: str = "tier", allowed: tuple[str, ...] = (), today: date | None = None) -> Filters:
    """Validate report query parameters; DeskError naming the parameter, Forbidden for the role.

    `allowed` lists further parameters the caller handles itself (others are refused as unknown).
    """
    known = {"start", "end", "group_by", "period", "format", *FILTER_PARAMS, *allowed}
    unknown = sorted(set(params) - known)
    if unknown:
        raise DeskError(f"Unknown parameter; use {', '.join(sorted(known))}.", field=unknown[0])
    today = today or timezone.now().date()
    end = _date(params, "end") or today
    start = _date(params, "start") or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise DeskError(f"The range is reversed: start {start} is after end {end}.", field="start")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise DeskError(f"The range is {(end - start).days + 1} days; at most {MAX_RANGE_DAYS} days (two years).",
                        field="end")
    group_by = (params.get("group_by") or default_group).strip()
    if group_by not in groups:
        raise DeskError(f"Unknown group_by {group_by!r}: use one of {', '.join(groups)}.", field="group_by")
    if scope.is_desk and group_by not in DESK_GROUPS:
        raise Forbidden(f"Traders see desk-level figures: group_by {', '.join(g for g in groups if g in DESK_GROUPS)}.")
    period = (params.get("period") or "month").strip()
    if period not in PERIODS:
        raise DeskError(f"Unknown period {period!r}: use one of {', '.join(PERIODS)}.", field="period")
    f = Filters(start=start, end=end, group_by=group_by, period=period)
    tier_raw = (params.get("tier") or "").strip()
    if tier_raw:
        if tier_raw not in ("1", "2", "3"):
            raise DeskError(f"Unknown tier {tier_raw!r}: use 1, 2 or 3.", field="tier")
        f = replace(f, tier=int(tier_raw))
    client = (params.get("client") or "").strip()
    if client:
        if scope.is_desk:
            raise Forbidden("Traders see desk-level figures, not single clients.")
        qs = Client.objects.filter(code=client)
        if scope.kind == "rm":
            qs = qs.filter(rm=scope.user)
        if not qs.exists():
            raise DeskError(f"No client {client!r} among yours." if scope.kind == "rm" else f"No client {client!r}.",
                            field="client")
        f = replace(f, client=client)
    rm = (params.get("rm") or "").strip()
    if rm:
        if scope.is_desk:
            raise Forbidden("Traders see desk-level figures, not relationship managers.")
        if scope.kind == "rm" and rm != scope.user.username:
            raise DeskError(f"You see your own clients only: rm must be {scope.user.username!r}.", field="rm")
        if not Client.objects.filter(rm__username=rm).exists():
            raise DeskError(f"No relationship manager {rm!r} with clients.", field="rm")
        f = replace(f, rm=rm)
    ac = (params.get("asset_class") or "").strip()
    if ac:
        if not AssetClass.objects.filter(code=ac).exists():
            raise DeskError(f"Unknown asset_class {ac!r}.", field="asset_class")
        f = replace(f, asset_class=ac)
    sector = (params.get("sector") or "").strip()
    if sector:
        if not Instrument.objects.filter(sector=sector).exists():
            raise DeskError(f"Unknown sector {sector!r}.", field="sector")
        f = replace(f, sector=sector)
    return f


# --- rollups ------------------------------------------------------------------------------------

def rollups(*, scope: Scope, f: Filters) -> QuerySet[DailyRollup]:
    """The per-instrument rollup cells in range and scope (the finest rollup)."""
    return _scoped(DailyRollup.objects.filter(day__gte=f.start, day__lte=f.end), scope=scope, f=f, denormalized=True)


def _client_needed(scope: Scope, f: Filters) -> bool:
    return scope.kind == "rm" or bool(f.client) or bool(f.rm)


def _month_split(start: date, end: date) -> tuple[date, date] | None:
    """The whole calendar months inside start..end, as (first day of the first, first day of the
    last), or None."""
    m0 = start if start.day == 1 else (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    after = end + timedelta(days=1)
    m_end = after.replace(day=1)  # first day of the month after the last whole one
    if m0 >= m_end:
        return None
    last = (m_end - timedelta(days=1)).replace(day=1)
    return m0, last


def rollup_parts(*, scope: Scope, f: Filters, client: bool = False, sector: bool = False,
                 daily: bool = False) -> list[QuerySet[Any]]:
    """Querysets whose rows together cover exactly the range and scope of `f`, from the smallest
    rollups that carry what is asked: `client` (grouping by client or RM), `sector` (grouping by
    sector) and `daily` (grouping by day or week). Sum each and add the results."""
    client = client or _client_needed(scope, f)
    sector = sector or bool(f.sector)
    if not client:
        return [_scoped(DeskDayRollup.objects.filter(day__gte=f.start, day__lte=f.end), scope=scope, f=f,
                        denormalized=True)]
    if sector:
        return [rollups(scope=scope, f=f)]
    months = None if daily else _month_split(f.start, f.end)
    if months is None:
        return [_scoped(ClientDayRollup.objects.filter(day__gte=f.start, day__lte=f.end), scope=scope, f=f,
                        denormalized=True)]
    m0, m1 = months
    parts = [ClientMonthRollup.objects.filter(day__gte=m0, day__lte=m1)]
    m_after = (m1 + timedelta(days=32)).replace(day=1)
    if f.start < m0:
        parts.append(ClientDayRollup.objects.filter(day__gte=f.start, day__lt=m0))
    if m_after <= f.end:
        parts.append(ClientDayRollup.objects.filter(day__gte=m_after, day__lte=f.end))
    return [_scoped(qs, scope=scope, f=f, denormalized=True) for qs in parts]


def rollup_sums(parts: list[QuerySet[Any]], keys: dict[str, Any], sums: dict[str, str]) -> list[dict[str, Any]]:
    """GROUP BY `keys` (alias -> field path or expression) of each part, summing the columns of
    `sums` (alias -> column), added up across the parts in Python (one query per part)."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for qs in parts:
        if keys:
            exprs = {a: (F(e) if isinstance(e, str) else e) for a, e in keys.items() if e != a}
            rows = list((qs.annotate(**exprs) if exprs else qs).values(*keys).annotate(
                **{a: Sum(c) for a, c in sums.items()}))
        else:
            rows = [qs.aggregate(**{a: Sum(c) for a, c in sums.items()})]
        for r in rows:
            k = tuple(r[a] for a in keys)
            acc = merged.get(k)
            if acc is None:
                merged[k] = dict(r)
                continue
            for a in sums:
                if r[a] is not None:
                    acc[a] = r[a] if acc[a] is None else acc[a] + r[a]
    if not keys and not merged:
        return [{a: None for a in sums}]
    return list(merged.values())


def _key_expr(f: Filters) -> Any:
    if f.group_by == "client":
        return F("client__code")
    if f.group_by == "rm":
        return Coalesce(F("client__rm__username"), Value("(none)"))
    if f.group_by == "period":
        return {"day": F("day"), "week": TruncWeek("day"), "month": TruncMonth("day"),
                "quarter": TruncQuarter("day")}[f.period]
    return F(f.group_by)


def _key_out(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _money(x: float | None) -> float:
    return round(float(x or 0.0), 2)


def profitability(*, scope: Scope, f: Filters, hedges: bool = True) -> dict[str, Any]:
    """P&L, volume and trade counts grouped by `f.group_by`, with the attribution of the P&L.

    `pnl` is the client trades' P&L (spread capture + inventory, as the rollups define it);
    `hedge_pnl` the P&L of the hedges those trades caused (`hedge_pnl()`, 0 with `hedges=False`)
    and `net_pnl` their sum. `unmarked_hedges` lists hedge instruments without a current mid
    (their fills are left out of `hedge_pnl`)."""
    parts = rollup_parts(scope=scope, f=f, client=f.group_by in ("client", "rm"), sector=f.group_by == "sector",
                         daily=f.group_by == "period" and f.period in ("day", "week"))
    rows = rollup_sums(parts, {"key": _key_expr(f)}, {"trades": "trades", "volume": "volume", "pnl": "pnl",
                                                      "spread_pnl": "spread_pnl", "notional": "notional"})
    rows.sort(key=lambda r: (r["key"] is None, r["key"]))
    hedge, unmarked = hedge_pnl(scope=scope, f=f) if hedges else ({}, [])
    results = []
    for r in rows:
        pnl, spread = _money(r["pnl"]), _money(r["spread_pnl"])
        key = _key_out(r["key"])
        h = _money(hedge.pop(key, 0.0))
        results.append({
            "key": key, "trades": int(r["trades"] or 0), "volume": Decimal(r["volume"] or 0),
            "pnl": pnl, "spread_pnl": spread, "inventory_pnl": round(pnl - spread, 2), "hedge_pnl": h,
            "net_pnl": round(pnl + h, 2), "notional": _money(r["notional"]),
            "pnl_bp": round(pnl / r["notional"] * 1e4, 2) if r["notional"] else 0.0,
        })
    for key, v in hedge.items():  # hedges of trades the rollups have not taken in yet
        h = _money(v)
        results.append({"key": key, "trades": 0, "volume": Decimal(0), "pnl": 0.0, "spread_pnl": 0.0,
                        "inventory_pnl": 0.0, "hedge_pnl": h, "net_pnl": h, "notional": 0.0, "pnl_bp": 0.0})
    if f.group_by in ("client", "rm", "sector"):
        results.sort(key=lambda r: -r["net_pnl"])  # league tables: best first
    total = {
        "trades": sum(r["trades"] for r in results),
        "volume": sum((r["volume"] for r in results), Decimal(0)),
        "pnl": round(sum(r["pnl"] for r in results), 2),
        "spread_pnl": round(sum(r["spread_pnl"] for r in results), 2),
        "inventory_pnl": round(sum(r["inventory_pnl"] for r in results), 2),
        "hedge_pnl": round(sum(r["hedge_pnl"] for r in results), 2),
        "net_pnl": round(sum(r["net_pnl"] for r in results), 2),
    }
    return {"results": results, "total": total, "unmarked_hedges": unmarked}


# --- hedge P&L -----------------------------------------------------------------------------------
# A hedge order belongs to the hedge decision of one client trade (HedgeOrder.decision.trade), so
# each hedge fill is attributed to the trade that caused it, and through the trade to its client,
# tier, RM, asset class, sector and booking day: the keys of `HedgeRollup`.
#
# Hedge P&L of a fill = desk-signed quantity x (current mid - fill price) x money per unit, where
# desk-signed is + for a hedge buy and - for a sell, and money per unit is 1/100 (face quoted per
# 100) or 1 for credit ETFs (shares): dealer.market.units. Summed over the fills of a
# trade this is the realized plus unrealized P&L of its hedges marked at the current mid: a pair of
# offsetting fills leaves (p_sell - p_buy) x q, realized; an open remainder is marked to mid. The
# rollup keeps sum(qty) and sum(qty x price) per hedge instrument; the mark is applied on reading.

def _hedge_marked(rows: list[dict[str, Any]], group: str) -> tuple[dict[Any, float], list[str]]:
    """Sum the (group, inst, qty, cost) rows (desk-signed quantity and quantity x price of the
    fills) to P&L per group, marked at the current mids; also the ISINs that could not be marked."""
    if not rows:
        return {}, []
    from dealer.market.selectors import current_mids

    mids = current_mids()
    classes = dict(Instrument.objects.filter(id__in={r["inst"] for r in rows}).values_list("id", "asset_class__code"))
    out: dict[Any, float] = {}
    unmarked: set[int] = set()
    for r in rows:
        mid = mids.get(r["inst"])
        if mid is None:
            unmarked.add(r["inst"])
            continue
        pnl = (float(r["qty"] or 0) * mid - float(r["cost"] or 0)) * money_per_point(classes.get(r["inst"], ""))
        out[r[group]] = out.get(r[group], 0.0) + pnl
    isins = sorted(Instrument.objects.filter(id__in=unmarked).values_list("isin", flat=True)) if unmarked else []
    return out, isins


def hedge_pnl(*, scope: Scope, f: Filters) -> tuple[dict[Any, float], list[str]]:
    """Hedge P&L (realized + unrealized at the current mid) of the trades in range and scope, by
    the report key of `f.group_by` (the keys of `profitability`), from the hedge rollups; and the
    ISINs left unmarked."""
    qs = _scoped(HedgeRollup.objects.filter(day__gte=f.start, day__lte=f.end), scope=scope, f=f, denormalized=True)
    rows = list(qs.annotate(key=_key_expr(f), inst=F("instrument_id")).values("key", "inst").annotate(
        qty=Sum("qty"), cost=Sum("cost")))
    pnl, unmarked = _hedge_marked(rows, "key")
    return {_key_out(k): v for k, v in pnl.items()}, unmarked


def hedge_pnl_of_trades(trade_ids: list[int]) -> dict[int, float]:
    """Hedge P&L (realized + unrealized at the current mid) of each of these trades' hedges."""
    if not trade_ids:
        return {}
    sign = Case(When(order__side="buy", then=Value(1)), default=Value(-1))
    money = DecimalField(max_digits=30, decimal_places=8)
    rows = list(HedgeFill.objects.filter(order__decision__trade_id__in=trade_ids).annotate(
        trade=F("order__decision__trade_id"), inst=F("order__instrument_id")).values("trade", "inst").annotate(
        qty=Sum(ExpressionWrapper(sign * F("quantity"), output_field=money)),
        cost=Sum(ExpressionWrapper(sign * F("quantity") * F("price"), output_field=money))))
    return _hedge_marked(rows, "trade")[0]


def drill_filters(f: Filters, key: str) -> Filters:
    """The filters that select what is behind one bar of `f` (the clients, then their trades)."""
    if f.group_by == "period":
        start = date.fromisoformat(key)
        months = {"month": 1, "quarter": 3}.get(f.period)
        if months:
            m = start.month + months
            nxt = date(start.year + (m - 1) // 12, (m - 1) % 12 + 1, 1)
        else:
            nxt = start + timedelta(days=1 if f.period == "day" else 7)
        return replace(f, start=max(start, f.start), end=min(nxt - timedelta(days=1), f.end), group_by="client")
    if f.group_by == "tier":
        return replace(f, tier=int(key), group_by="client")
    return replace(f, **{f.group_by: key, "group_by": "client"})


def _scoped(qs: QuerySet[Any], *, scope: Scope, f: Filters, denormalized: bool = False) -> QuerySet[Any]:
    """Rollups, trades or RFQs narrowed to what the viewer may see and the filters ask for
    (rollups carry asset class and sector themselves; trades and RFQs reach them by instrument)."""
    if scope.kind == "rm":
        qs = qs.filter(client__rm=scope.user)
    if f.tier is not None:
        qs = qs.filter(tier=f.tier)
    if f.client:
        qs = qs.filter(client__code=f.client)
    if f.rm:
        qs = qs.filter(client__rm__username=f.rm)
    if f.asset_class:
        qs = qs.filter(**{"asset_class" if denormalized else "instrument__asset_class__code": f.asset_class})
    if f.sector:
        qs = qs.filter(**{"sector" if denormalized else "instrument__sector": f.sector})
    return qs


def trades_behind(*, scope: Scope, f: Filters, limit: int = 50, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """The trades behind a drill-down (one key and range), paginated, with their P&L attribution."""
    start = datetime.combine(f.start, dtime.min, tzinfo=dt_tz.utc)
    end = datetime.combine(f.end + timedelta(days=1), dtime.min, tzinfo=dt_tz.utc)
    qs = Trade.objects.filter(booked_at__gte=start, booked_at__lt=end)
    qs = _scoped(qs, scope=scope, f=f)
    count = qs.count()
    pnl_1d = Markout.objects.filter(trade=OuterRef("pk"), horizon_seconds=86400).values("pnl")[:1]
    page = qs.select_related("client", "instrument").annotate(pnl_1d=Subquery(pnl_1d, output_field=FloatField())).order_by(
        "-booked_at", "-id")[offset:offset + limit]
    page = list(page)
    hedge = hedge_pnl_of_trades([t.id for t in page])
    rows = []
    for t in page:
        sign = 1 if t.side == "buy" else -1
        spread = float((t.price - t.mid_at_booking) * sign * t.quantity / 100)
        pnl = t.pnl_1d if t.pnl_1d is not None else spread
        rows.append({"id": t.id, "booked_at": t.booked_at.isoformat(), "client": t.client.code, "tier": t.tier,
                     "isin": t.instrument.isin, "side": t.side, "quantity": t.quantity, "price": t.price,
                     "mid_at_booking": t.mid_at_booking, "spread_pnl": round(spread, 2),
                     "inventory_pnl": round(pnl - spread, 2), "pnl": round(pnl, 2),
                     "hedge_pnl": round(hedge.get(t.id, 0.0), 2), "net_pnl": round(pnl + hedge.get(t.id, 0.0), 2)})
    return count, rows


# --- flow quality -------------------------------------------------------------------------------

def _curve(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for h in HORIZONS:
        n = int(row[f"n{h}"] or 0)
        s, sq = float(row[f"bp{h}"] or 0.0), float(row[f"sq{h}"] or 0.0)
        mean = s / n if n else None
        if n > 1:
            var = max(sq / n - mean * mean, 0.0) * n / (n - 1)
            half = 1.96 * math.sqrt(var / n)
        else:
            half = None
        out.append({"horizon": h, "label": HORIZON_LABELS[h], "n": n,
                    "mean_bp": round(mean, 3) if mean is not None else None,
                    "low_bp": round(mean - half, 3) if half is not None else None,
                    "high_bp": round(mean + half, 3) if half is not None else None})
    return out


def _markout_sums() -> dict[str, str]:
    agg: dict[str, str] = {}
    for h in HORIZONS:
        agg[f"n{h}"] = f"mo_n_{h}"
        agg[f"bp{h}"] = f"mo_bp_{h}"
        agg[f"sq{h}"] = f"mo_sq_{h}"
    return agg


def flow_quality(*, scope: Scope, f: Filters, min_trades: int = 5, top: int = 10) -> dict[str, Any]:
    """Markout curves (dealer-signed bp, mean with a 95 % band) by tier and by client; the most
    toxic (most negative 1-day markout) and most benign clients."""
    desk = rollup_parts(scope=scope, f=f)
    by_tier = [{"key": r["k"], "trades": int(r["trades"] or 0), "curve": _curve(r)}
               for r in sorted(rollup_sums(desk, {"k": "tier"}, {"trades": "trades", **_markout_sums()}),
                               key=lambda r: r["k"])]
    total_row = rollup_sums(desk, {}, {"trades": "trades", **_markout_sums()})[0]
    clients: list[dict[str, Any]] = []
    if not scope.is_desk:
        for r in rollup_sums(rollup_parts(scope=scope, f=f, client=True), {"client__code": "client__code"},
                             {"trades": "trades", "pnl": "pnl", **_markout_sums()}):
            if (r["trades"] or 0) < min_trades or not r["n86400"]:
                continue
            curve = _curve(r)
            clients.append({"key": r["client__code"], "trades": int(r["trades"]), "pnl": _money(r["pnl"]),
                            "markout_1d_bp": curve[-1]["mean_bp"], "curve": curve})
    ranked = sorted(clients, key=lambda c: c["markout_1d_bp"])
    return {
        "by_tier": by_tier,
        "total": {"trades": int(total_row["trades"] or 0), "curve": _curve(total_row)},
        "clients": sorted(clients, key=lambda c: c["key"]),
        "toxic": ranked[:top],
        "benign": list(reversed(ranked[-top:])) if ranked else [],
    }


# --- hit ratios ---------------------------------------------------------------------------------

def hit_window(f: Filters) -> tuple[date, date, bool]:
    """Hit ratios are bounded to the last HIT_WINDOW_DAYS of the range."""
    start = max(f.start, f.end - timedelta(days=HIT_WINDOW_DAYS - 1))
    return start, f.end, start != f.start


def _label(buckets: list[tuple[float, float | None, str]], k: int) -> str:
    return buckets[k][2] if 0 <= k < len(buckets) else "?"


def hit_ratios(*, scope: Scope, f: Filters) -> dict[str, Any]:
    """Quoted RFQs with an outcome that traded, by tier, asset class, size bucket and quoted
    distance to mid (the quote's half spread, bp); and the win-probability model against realized
    hits (calibration), all from the hit rollups over the hit window (one query)."""
    start, end, _ = hit_window(f)
    model = HitRollup if _client_needed(scope, f) else HitDeskRollup
    qs = _scoped(model.objects.filter(day__gte=start, day__lte=end), scope=scope, f=f, denormalized=True)
    cells = list(qs.values("tier", "asset_class", "size_bucket", "distance_bucket", "p_bin").annotate(
        quoted=Sum("quoted"), won=Sum("won"), p_sum=Sum("p_sum")))
    dims: dict[str, Any] = {
        "tier": lambda c: c["tier"], "asset_class": lambda c: c["asset_class"],
        "size": lambda c: _label(SIZE_BUCKETS, c["size_bucket"]),
        "distance": lambda c: _label(DISTANCE_BUCKETS, c["distance_bucket"]),
    }
    order = {"size": [b[2] for b in SIZE_BUCKETS], "distance": [b[2] for b in DISTANCE_BUCKETS]}
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, keyf in dims.items():
        acc: dict[Any, list[int]] = {}
        for c in cells:
            a = acc.setdefault(keyf(c), [0, 0])
            a[0] += int(c["quoted"] or 0)
            a[1] += int(c["won"] or 0)
        rows = [{"key": k, "quoted": q, "won": w, "hit_ratio": round(w / q, 4) if q else 0.0}
                for k, (q, w) in acc.items() if q]
        if name in order:
            rows.sort(key=lambda r: order[name].index(r["key"]) if r["key"] in order[name] else 99)
        else:
            rows.sort(key=lambda r: r["key"])
        tables[name] = rows
    return {"tables": tables, "calibration": calibration(cells)}


def calibration(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Predicted win probability (the quote's own where stored, else the fitted model when the
    RFQ's outcome was rolled up) in deciles against the realized hit ratio of the same quotes."""
    bins: dict[int, list[float]] = {}
    for c in cells:
        b = bins.setdefault(int(c["p_bin"]), [0, 0, 0.0])
        b[0] += int(c["quoted"] or 0)
        b[1] += int(c["won"] or 0)
        b[2] += float(c["p_sum"] or 0.0)
    out = []
    for k in range(P_BINS):
        n, won, p_sum = bins.get(k, [0, 0, 0.0])
        if n <= 0:
            continue
        realized = won / n
        half = 1.96 * math.sqrt(max(realized * (1 - realized), 1e-12) / n)
        out.append({"bin": f"{k / P_BINS:.1f}-{(k + 1) / P_BINS:.1f}", "n": int(n), "predicted": round(p_sum / n, 4),
                    "realized": round(realized, 4), "low": round(max(realized - half, 0.0), 4),
                    "high": round(min(realized + half, 1.0), 4)})
    return out


# --- human judgment -----------------------------------------------------------------------------

def judgment(*, scope: Scope, f: Filters, limit: int = 200) -> dict[str, Any]:
    """Tier 1 decisions: the trader's price against the recommendation and what departures earned.

    departure_bp is dealer-signed (positive: the trader quoted wider than recommended, more for
    the desk per trade). For a traded decision, departure_pnl = what the departure added to the
    trade's P&L (dealer-signed (price - recommendation) * face / 100); markout_pnl = the trade's
    P&L after markouts (1-day markout, spread capture until it lands); pnl_at_recommendation =
    markout_pnl - departure_pnl, what the same trade would have made at the recommended price.
    """
    qs = Decision.objects.filter(
        rfq__tier=1,
        decided_at__gte=datetime.combine(f.start, dtime.min, tzinfo=dt_tz.utc),
        decided_at__lt=datetime.combine(f.end + timedelta(days=1), dtime.min, tzinfo=dt_tz.utc))
    if scope.kind == "rm":
        qs = qs.filter(rfq__client__rm=scope.user)
    if f.client:
        qs = qs.filter(rfq__client__code=f.client)
    if f.rm:
        qs = qs.filter(rfq__client__rm__username=f.rm)
    if f.asset_class:
        qs = qs.filter(rfq__instrument__asset_class__code=f.asset_class)
    if f.sector:
        qs = qs.filter(rfq__instrument__sector=f.sector)
    pnl_1d = Markout.objects.filter(trade__rfq=OuterRef("rfq_id"), horizon_seconds=86400).values("pnl")[:1]
    rows = list(qs.select_related("rfq", "rfq__client", "rfq__instrument", "decided_by", "rfq__trade").annotate(
        pnl_1d=Subquery(pnl_1d, output_field=FloatField())).order_by("-decided_at")[:limit])
    decisions = []
    summary: dict[str, dict[str, Any]] = {}
    for d in rows:
        rfq = d.rfq
        sign = 1 if rfq.side == "buy" else -1
        trade = getattr(rfq, "trade", None) if rfq.status == "booked" else None
        dep_bp = None
        if d.price is not None and d.recommended_price:
            dep_bp = round(float(sign * (d.price - d.recommended_price) / d.recommended_price * 10_000), 2)
        row = {"rfq_id": rfq.id, "decided_at": d.decided_at.isoformat(), "client": rfq.client.code,
               "isin": rfq.instrument.isin, "side": rfq.side, "action": d.action, "trader": d.decided_by.username,
               "recommended_price": d.recommended_price, "price": d.price, "departure_bp": dep_bp,
               "traded": trade is not None, "departure_pnl": None, "markout_pnl": None, "pnl_at_recommendation": None,
               "reason": d.reason}
        if trade is not None and d.recommended_price is not None:
            spread = float((trade.price - trade.mid_at_booking) * sign * trade.quantity / 100)
            pnl = d.pnl_1d if d.pnl_1d is not None else spread
            dep = float((trade.price - d.recommended_price) * sign * trade.quantity / 100)
            row.update(departure_pnl=round(dep, 2), markout_pnl=round(pnl, 2), pnl_at_recommendation=round(pnl - dep, 2))
        decisions.append(row)
        s = summary.setdefault(d.action, {"action": d.action, "decisions": 0, "traded": 0, "departure_bp_sum": 0.0,
                                          "departure_pnl": 0.0, "markout_pnl": 0.0})
        s["decisions"] += 1
        s["traded"] += int(row["traded"])
        s["departure_bp_sum"] += dep_bp or 0.0
        s["departure_pnl"] += row["departure_pnl"] or 0.0
        s["markout_pnl"] += row["markout_pnl"] or 0.0
    actions = []
    for a in ("send", "improve", "worsen", "decline"):
        if a in summary:
            s = summary[a]
            actions.append({"action": a, "decisions": s["decisions"], "traded": s["traded"],
                            "hit_ratio": round(s["traded"] / s["decisions"], 4) if s["decisions"] else 0.0,
                            "avg_departure_bp": round(s["departure_bp_sum"] / s["decisions"], 2),
                            "departure_pnl": round(s["departure_pnl"], 2), "markout_pnl": round(s["markout_pnl"], 2)})
    return {"actions": actions, "decisions": decisions,
            "overrides": [r for r in decisions if r["action"] in ("improve", "worsen") and r["traded"]]}


# --- inventory and capital ----------------------------------------------------------------------

_CAPITAL = {"trades": "trades", "notional": "notional", "net": "net_qty", "dv01": "net_dv01"}
AGE_BUCKETS = [(0, 1, "0-1 d"), (2, 7, "2-7 d"), (8, 30, "8-30 d"), (31, 90, "31-90 d"), (91, None, "> 90 d")]


def inventory(*, scope: Scope, f: Filters, top: int = 25) -> dict[str, Any]:
    """Positions and risk over time (cumulative desk-signed flow from the rollups), capital used by
    tier and client (gross notional traded and net DV01), and ageing of the open inventory (days
    since the desk last traded each instrument it holds)."""
    parts = rollup_parts(scope=scope, f=f, daily=True)
    flow = sorted(rollup_sums(parts, {"day": "day", "asset_class": "asset_class"}, {"net": "net_qty", "dv01": "net_dv01"}),
                  key=lambda r: (r["day"], r["asset_class"]))
    series: dict[str, dict[str, list[Any]]] = {}
    running: dict[str, list[float]] = {}
    for r in flow:
        s = series.setdefault(r["asset_class"], {"day": [], "position": [], "dv01": []})
        acc = running.setdefault(r["asset_class"], [0.0, 0.0])
        acc[0] += float(r["net"] or 0)
        acc[1] += float(r["dv01"] or 0)
        s["day"].append(r["day"].isoformat())
        s["position"].append(round(acc[0], 2))
        s["dv01"].append(round(acc[1], 2))
    by_tier = [{"key": r["tier"], "trades": int(r["trades"]), "notional": _money(r["notional"]),
                "net_qty": Decimal(r["net"] or 0), "net_dv01": _money(r["dv01"])}
               for r in sorted(rollup_sums(rollup_parts(scope=scope, f=f), {"tier": "tier"}, _CAPITAL),
                               key=lambda r: r["tier"])]
    by_client: list[dict[str, Any]] = []
    if not scope.is_desk:
        by_client = [{"key": r["client__code"], "tier": r["client__tier__number"], "trades": int(r["trades"]),
                      "notional": _money(r["notional"]), "net_qty": Decimal(r["net"] or 0),
                      "net_dv01": _money(r["dv01"])}
                     for r in sorted(rollup_sums(rollup_parts(scope=scope, f=f, client=True),
                                                 {"client__code": "client__code",
                                                  "client__tier__number": "client__tier__number"}, _CAPITAL),
                                     key=lambda r: (-(r["notional"] or 0.0), r["client__code"]))[:top]]
    positions: list[dict[str, Any]] = []
    ageing: list[dict[str, Any]] = []
    if scope.kind != "rm":
        from dealer.desk.book import position_rows

        positions = position_rows()
        if f.asset_class:
            positions = [p for p in positions if p["asset_class"] == f.asset_class]
        isins = [p["isin"] for p in positions]
        last_day = DailyRollup.objects.filter(instrument=OuterRef("pk")).order_by("-day").values("day")[:1]
        last = {isin: d for isin, d in Instrument.objects.filter(isin__in=isins).annotate(
            last=Subquery(last_day)).values_list("isin", "last") if d is not None}
        today = timezone.now().date()
        buckets = {label: {"bucket": label, "positions": 0, "gross_face": 0.0, "unrealized_pnl": 0.0}
                   for _, _, label in AGE_BUCKETS}
        buckets["never traded"] = {"bucket": "never traded", "positions": 0, "gross_face": 0.0, "unrealized_pnl": 0.0}
        for p in positions:
            d = last.get(p["isin"])
            age = (today - d).days if d else None
            p["age_days"] = age
            label = "never traded"
            if age is not None:
                label = next(lab for lo, hi, lab in AGE_BUCKETS if age >= lo and (hi is None or age <= hi))
            b = buckets[label]
            b["positions"] += 1
            b["gross_face"] = round(b["gross_face"] + abs(float(p["quantity"])), 2)
            b["unrealized_pnl"] = round(b["unrealized_pnl"] + float(p["unrealized_pnl"]), 2)
        ageing = list(buckets.values())
    return {"series": series, "by_tier": by_tier, "by_client": by_client, "positions": positions, "ageing": ageing}


def state() -> dict[str, Any]:
    s = RollupState.objects.order_by("id").values("rebuilt_at", "updated_at", "refreshed_at").first()
    return s or {"rebuilt_at": None, "updated_at": None, "refreshed_at": None}
