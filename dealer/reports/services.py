"""The only writer of the rollups: recompute cells from the trades underneath.

Every path (one trade's cell after booking, a range of days nightly, everything at once) runs the
same INSERT ... SELECT over `desk_trade` joined to its markouts, so a rollup cell is by
construction the direct sum over its trades. Definitions of the P&L columns: `models.py`.
"""
from __future__ import annotations

import time
from datetime import date, datetime, time as dtime, timedelta, timezone as dt_tz
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from dealer.desk.models import Markout, Trade
from dealer.market.models import AssetClass, Instrument
from dealer.reports.models import HORIZONS, DailyRollup, RollupState

#: Markouts arrive up to one day after booking: the nightly refresh recomputes this many days.
REFRESH_DAYS = 3

_COLUMNS = ["day", "client_id", "instrument_id", "tier", "asset_class", "sector", "trades", "volume", "notional",
            "net_qty", "net_dv01", "spread_pnl", "pnl"] + [
    f"mo_{k}_{h}" for h in HORIZONS for k in ("n", "bp", "sq")]


def _day_sql(col: str) -> str:
    if connection.vendor == "postgresql":
        return f"(({col}) AT TIME ZONE 'UTC')::date"
    return f"date({col})"


def _select_sql(where: str) -> str:
    qn = connection.ops.quote_name
    spread = ("(CASE WHEN t.side = 'buy' THEN t.price - t.mid_at_booking ELSE t.mid_at_booking - t.price END)"
              " * t.quantity / 100.0")
    desk_sign = "(CASE WHEN t.side = 'buy' THEN -1 ELSE 1 END)"
    markout_cols = []
    joins = []
    for h in HORIZONS:
        joins.append(f"LEFT JOIN {qn(Markout._meta.db_table)} m{h} ON m{h}.trade_id = t.id AND m{h}.horizon_seconds = {h}")
        markout_cols += [f"COUNT(m{h}.id)", f"COALESCE(SUM(m{h}.markout_bp), 0)",
                         f"COALESCE(SUM(m{h}.markout_bp * m{h}.markout_bp), 0)"]
    day = _day_sql("t.booked_at")
    return (
        f"SELECT {day}, t.client_id, t.instrument_id, t.tier, ac.code, i.sector, COUNT(*), SUM(t.quantity), "
        f"SUM(t.price * t.quantity / 100.0), SUM({desk_sign} * t.quantity), "
        f"SUM({desk_sign} * t.quantity * t.price / 100.0 * i.duration * 0.0001), "
        f"SUM({spread}), SUM(COALESCE(m86400.pnl, {spread})), " + ", ".join(markout_cols) +
        f" FROM {qn(Trade._meta.db_table)} t"
        f" JOIN {qn(Instrument._meta.db_table)} i ON i.id = t.instrument_id"
        f" JOIN {qn(AssetClass._meta.db_table)} ac ON ac.id = i.asset_class_id "
        + " ".join(joins) +
        f" WHERE {where} GROUP BY {day}, t.client_id, t.instrument_id, t.tier, ac.code, i.sector"
    )


def _insert(where: str, params: list[Any]) -> int:
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in _COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {qn(DailyRollup._meta.db_table)} ({cols}) {_select_sql(where)}", params)
        return max(cursor.rowcount, 0)


def _dt(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _day_bounds(d0: date, d1: date) -> tuple[datetime, datetime]:
    """[start of d0, start of d1 + 1 day) in UTC."""
    return (datetime.combine(d0, dtime.min, tzinfo=dt_tz.utc),
            datetime.combine(d1 + timedelta(days=1), dtime.min, tzinfo=dt_tz.utc))


def _state() -> RollupState:
    state = RollupState.objects.order_by("id").first()
    return state if state is not None else RollupState.objects.create()


def _touch(**fields: Any) -> None:
    state = _state()
    RollupState.objects.filter(pk=state.pk).update(**fields)


@transaction.atomic
def rollups_rebuild() -> float:
    """Recompute every rollup from the trades (seeding writes trades directly). Returns seconds."""
    started = time.perf_counter()
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Deferred foreign-key checks queued earlier in this transaction would block TRUNCATE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {qn(DailyRollup._meta.db_table)}")
        else:
            cursor.execute(f"DELETE FROM {qn(DailyRollup._meta.db_table)}")
    _insert("1 = 1", [])
    seconds = time.perf_counter() - started
    now = timezone.now()
    _touch(rebuilt_at=now, rebuild_seconds=seconds, updated_at=now, refreshed_at=now)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {qn(DailyRollup._meta.db_table)}")
    return seconds


@transaction.atomic
def rollups_refresh(*, days: int = REFRESH_DAYS, today: date | None = None) -> int:
    """Recompute the last `days` UTC days (so markouts recorded since booking land in the P&L)."""
    today = today or timezone.now().date()
    d0 = today - timedelta(days=days - 1)
    start, end = _day_bounds(d0, today)
    DailyRollup.objects.filter(day__gte=d0, day__lte=today).delete()
    n = _insert("t.booked_at >= %s AND t.booked_at < %s", [_dt(start), _dt(end)])
    now = timezone.now()
    _touch(updated_at=now, refreshed_at=now)
    return n


def rollups_apply_trade(trade_id: int) -> DailyRollup | None:
    """Recompute the (day, client, instrument, tier) cell of one trade; safe to run twice.

    The cell is locked (an advisory lock on PostgreSQL; SQLite serializes writers) so that two
    workers recomputing the same cell cannot both insert it.
    """
    with transaction.atomic():
        row = Trade.objects.filter(pk=trade_id).values("client_id", "instrument_id", "tier", "booked_at").first()
        if row is None:
            return None
        day = row["booked_at"].astimezone(dt_tz.utc).date()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [row["client_id"], row["instrument_id"]])
        DailyRollup.objects.filter(day=day, client_id=row["client_id"], instrument_id=row["instrument_id"],
                                   tier=row["tier"]).delete()
        start, end = _day_bounds(day, day)
        _insert("t.client_id = %s AND t.instrument_id = %s AND t.tier = %s AND t.booked_at >= %s AND t.booked_at < %s",
                [row["client_id"], row["instrument_id"], row["tier"], _dt(start), _dt(end)])
        _touch(updated_at=timezone.now())
        return DailyRollup.objects.filter(day=day, client_id=row["client_id"], instrument_id=row["instrument_id"],
                                          tier=row["tier"]).first()
