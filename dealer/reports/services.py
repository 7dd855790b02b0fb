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
from django.db.models import Max
from django.utils import timezone

from crm.models import Tier, TierLimit
from dealer.desk.models import Markout, Quote, Rfq, Trade
from dealer.hedging.models import HedgeDecision, HedgeFill, HedgeOrder
from dealer.market.models import AssetClass, Instrument
from dealer.reports.models import (
    DISTANCE_BUCKETS, HORIZONS, MEASURES, SIZE_BUCKETS, ClientDayRollup, ClientMonthRollup, DailyRollup, DeskDayRollup, HedgeRollup,
    HitDeskRollup, HitRollup, RollupState,
)

#: Markouts arrive up to one day after booking: the nightly refresh recomputes this many days.
REFRESH_DAYS = 3

_COLUMNS = ["day", "client_id", "instrument_id", "tier", "asset_class", "sector", "trades", "volume", "notional",
            "net_qty", "net_dv01", "spread_pnl", "pnl"] + [
    f"mo_{k}_{h}" for h in HORIZONS for k in ("n", "bp", "sq")]


#: One advisory lock key for every writer of the rollups ("reports" in ASCII).
LOCK_KEY = 0x7265706F727473
#: The hit ratios count each RFQ once, by the time its outcome was stamped (`updated_at`): every
#: outcome stamped before the watermark `RollupState.hits_updated_at` is in, none after it. The
#: catch-up moves the watermark to `settings.HITS_SETTLED_SECONDS` ago (30: a transaction that
#: stamped `updated_at` commits within milliseconds; half a minute leaves no outcome behind) and
#: adds what lies in between.
def _hits_settled() -> timedelta:
    from django.conf import settings

    return timedelta(seconds=settings.HITS_SETTLED_SECONDS)


#: An RFQ reaches its outcome within minutes of arriving: the catch-up reads RFQs received this
#: long before the watermark (the bound lets an index do the work).
CATCH_UP_LOOKBACK = timedelta(days=1)
#: RFQ outcomes the hit ratios count (quoted, then traded or not).
HIT_STATUSES = ("booked", "expired", "rejected")


def _lock() -> None:
    """Serialize the writers of the rollups (held to the end of the transaction)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def _month_sql(col: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('month', {col}) AS date)"
    return f"date({col}, 'start of month')"


def _float(expr: str) -> str:
    return f"CAST({expr} AS {'DOUBLE PRECISION' if connection.vendor == 'postgresql' else 'REAL'})"


def _day_sql(col: str) -> str:
    if connection.vendor == "postgresql":
        return f"(({col}) AT TIME ZONE 'UTC')::date"
    return f"date({col})"


def _markouts_sql() -> tuple[str, dict[int, str], str]:
    """(FROM clause part, SQL of each horizon's markout in bp, SQL of the 1-day P&L) of the trade
    alias t: NULL where the markout is not recorded. A trade has at most one markout per horizon
    (`markout_unique`), so both forms give each trade the very same values."""
    qn = connection.ops.quote_name
    table = qn(Markout._meta.db_table)
    if connection.vendor == "postgresql":
        # One probe of the markout index per trade picks all four horizons; four joins to the
        # markout table (4 rows a trade) cost four hash tables of a million rows in a rebuild.
        picks = ", ".join(f"MAX(mk.markout_bp) FILTER (WHERE mk.horizon_seconds = {h}) AS bp_{h}" for h in HORIZONS)
        join = (f"LEFT JOIN LATERAL (SELECT {picks}, MAX(mk.pnl) FILTER (WHERE mk.horizon_seconds = 86400) AS pnl_1d"
                f" FROM {table} mk WHERE mk.trade_id = t.id) m ON TRUE")
        return join, {h: f"m.bp_{h}" for h in HORIZONS}, "m.pnl_1d"
    join = " ".join(f"LEFT JOIN {table} m{h} ON m{h}.trade_id = t.id AND m{h}.horizon_seconds = {h}"
                    for h in HORIZONS)
    return join, {h: f"m{h}.markout_bp" for h in HORIZONS}, "m86400.pnl"


def _select_sql(where: str) -> str:
    qn = connection.ops.quote_name
    spread = ("(CASE WHEN t.side = 'buy' THEN t.price - t.mid_at_booking ELSE t.mid_at_booking - t.price END)"
              " * t.quantity / 100.0")
    desk_sign = "(CASE WHEN t.side = 'buy' THEN -1 ELSE 1 END)"
    join, bp, pnl_1d = _markouts_sql()
    markout_cols = []
    for h in HORIZONS:  # markout_bp is NOT NULL: COUNT of it counts the recorded markouts
        markout_cols += [f"COUNT({bp[h]})", f"COALESCE(SUM({bp[h]}), 0)", f"COALESCE(SUM({bp[h]} * {bp[h]}), 0)"]
    day = _day_sql("t.booked_at")
    return (
        f"SELECT {day}, t.client_id, t.instrument_id, t.tier, ac.code, i.sector, COUNT(*), SUM(t.quantity), "
        f"SUM(t.price * t.quantity / 100.0), SUM({desk_sign} * t.quantity), "
        f"SUM({desk_sign} * t.quantity * t.price / 100.0 * i.duration * 0.0001), "
        f"SUM({spread}), SUM(COALESCE({pnl_1d}, {spread})), " + ", ".join(markout_cols) +
        f" FROM {qn(Trade._meta.db_table)} t"
        f" JOIN {qn(Instrument._meta.db_table)} i ON i.id = t.instrument_id"
        f" JOIN {qn(AssetClass._meta.db_table)} ac ON ac.id = i.asset_class_id {join}"
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


# --- the coarser tables, sums of DailyRollup -----------------------------------------------------

def _derived() -> list[tuple[type, list[str], list[str]]]:
    """(model, key columns, SQL of each key over DailyRollup alias d) of each coarser table."""
    return [
        (DeskDayRollup, ["day", "tier", "asset_class", "sector"], ["d.day", "d.tier", "d.asset_class", "d.sector"]),
        (ClientDayRollup, ["day", "client_id", "tier", "asset_class"],
         ["d.day", "d.client_id", "d.tier", "d.asset_class"]),
        (ClientMonthRollup, ["day", "client_id", "tier", "asset_class"],
         [_month_sql("d.day"), "d.client_id", "d.tier", "d.asset_class"]),
    ]


def _derive(model: type, keys: list[str], key_sql: list[str], where: str, params: list[Any]) -> None:
    """INSERT the model's rows summed from the DailyRollup rows matching `where` (alias d); the
    monthly table sums the client days instead (the same sums, a third of the rows to read)."""
    qn = connection.ops.quote_name
    source = ClientDayRollup if model is ClientMonthRollup else DailyRollup
    cols = ", ".join(qn(c) for c in [*keys, *MEASURES])
    sums = ", ".join(f"SUM(d.{qn(m)})" for m in MEASURES)
    group = ", ".join(str(k + 1) for k in range(len(keys)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(model._meta.db_table)} ({cols}) SELECT {', '.join(key_sql)}, {sums}"
            f" FROM {qn(source._meta.db_table)} d WHERE {where} GROUP BY {group}", params)


def _cell_key(model: type, keys: list[str], cell: dict[str, Any]) -> tuple[Any, ...]:
    out = []
    for k in keys:
        v = cell[k]
        if k == "day" and model is ClientMonthRollup:
            v = v.replace(day=1)
        out.append(v)
    return tuple(out)


def _apply_delta(old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    """Move the coarser tables by (new cell - old cell): INSERT ... ON CONFLICT DO UPDATE adds."""
    qn = connection.ops.quote_name
    for model, keys, _ in _derived():
        moves: dict[tuple[Any, ...], dict[str, Any]] = {}
        for cell, sign in ((old, -1), (new, 1)):
            if cell is None:
                continue
            acc = moves.setdefault(_cell_key(model, keys, cell), {m: 0 for m in MEASURES})
            for m in MEASURES:
                acc[m] = acc[m] + sign * (cell[m] or 0)
        table = qn(model._meta.db_table)
        cols = [*keys, *MEASURES]
        sql = (f"INSERT INTO {table} ({', '.join(qn(c) for c in cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
               f" ON CONFLICT ({', '.join(qn(k) for k in keys)}) DO UPDATE SET "
               + ", ".join(f"{qn(m)} = {table}.{qn(m)} + excluded.{qn(m)}" for m in MEASURES))
        with connection.cursor() as cursor:
            for key, acc in moves.items():
                if all(not acc[m] for m in MEASURES):
                    continue
                cursor.execute(sql, [*key, *(acc[m] for m in MEASURES)])
                cursor.execute(f"DELETE FROM {table} WHERE {' AND '.join(f'{qn(k)} = %s' for k in keys)}"
                               f" AND {qn('trades')} = 0", list(key))


def _derive_days(d0: date, d1: date) -> None:
    """Recompute the coarser tables over the days d0..d1 (whole months for the monthly table)."""
    m0 = d0.replace(day=1)
    m1 = (d1.replace(day=1) + timedelta(days=32)).replace(day=1)  # first day after d1's month
    for model, keys, key_sql in _derived():  # client days before client months
        lo, hi = (m0, m1 - timedelta(days=1)) if model is ClientMonthRollup else (d0, d1)
        model.objects.filter(day__gte=lo, day__lte=hi).delete()
        _derive(model, keys, key_sql, "d.day >= %s AND d.day <= %s", [lo, hi])


# --- hit ratios -----------------------------------------------------------------------------------

def _bucket_sql(expr: str, buckets: list[tuple[float, float | None, str]]) -> str:
    whens = []
    for k, (lo, hi, _) in enumerate(buckets):
        cond = f"{expr} >= {lo}" + (f" AND {expr} < {hi}" if hi is not None else "")
        whens.append(f"WHEN {cond} THEN {k}")
    return f"(CASE {' '.join(whens)} ELSE -1 END)"


def _hit_select(where: str) -> tuple[str, list[Any]]:
    """Per (day, client, tier, asset class, sector, size, distance, probability decile): quoted,
    won and the sum of predicted win probabilities, over quoted RFQs with an outcome (`where` on
    RFQ alias r). Predicted: the quote's stored win probability, else the fitted model now
    (pricing.winprob: logistic in the distance to mid in base spreads, log size and tier)."""
    from dealer.desk.recommend import winprob_params

    qn = connection.ops.quote_name
    c = [float(x) for x in winprob_params().coef]
    side = f"(CASE WHEN r.side = 'buy' THEN {_float('1.0')} ELSE {_float('-1.0')} END)"
    price, mid = _float("q.price"), _float("q.mid")
    distance = f"{side} * ({price} - {mid}) / (COALESCE(tl.base_spread_bp, 5.0) * {mid} * 0.0001)"
    z = (f"({_float('%s')} + {_float('%s')} * {distance} + {_float('%s')} * LN({_float('r.quantity')})"
         f" + (CASE WHEN r.tier = 2 THEN {_float('%s')} ELSE 0.0 END)"
         f" + (CASE WHEN r.tier = 3 THEN {_float('%s')} ELSE 0.0 END))")
    statuses = ", ".join(f"'{x}'" for x in HIT_STATUSES)
    inner = (
        f"SELECT {_day_sql('r.received_at')} AS day, r.client_id AS client_id, r.tier AS tier, ac.code AS asset_class,"
        f" i.sector AS sector, {_bucket_sql(_float('r.quantity'), SIZE_BUCKETS)} AS size_bucket,"
        f" {_bucket_sql('q.half_spread_bp', DISTANCE_BUCKETS)} AS distance_bucket,"
        f" (CASE WHEN r.status = 'booked' THEN 1 ELSE 0 END) AS won, q.win_probability AS stored, {z} AS z"
        f" FROM {qn(Rfq._meta.db_table)} r"
        f" JOIN {qn(Quote._meta.db_table)} q ON q.id = r.quote_id"
        f" JOIN {qn(Instrument._meta.db_table)} i ON i.id = r.instrument_id"
        f" JOIN {qn(AssetClass._meta.db_table)} ac ON ac.id = i.asset_class_id"
        f" LEFT JOIN {qn(Tier._meta.db_table)} ct ON ct.number = r.tier"
        f" LEFT JOIN {qn(TierLimit._meta.db_table)} tl ON tl.tier_id = ct.id AND tl.asset_class_id = i.asset_class_id"
        f" WHERE r.status IN ({statuses}) AND {where}")
    # OFFSET 0 keeps PostgreSQL from inlining the subqueries, which would evaluate z and p once
    # per reference (some fifteen times a row) instead of once.
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    p = ("COALESCE(a.stored, CASE WHEN a.z < -40 THEN 0.0 WHEN a.z > 40 THEN 1.0"
         " ELSE 1.0 / (1.0 + EXP(-a.z)) END)")
    mid_sel = (f"SELECT a.day, a.client_id, a.tier, a.asset_class, a.sector, a.size_bucket, a.distance_bucket,"
               f" a.won, {p} AS p FROM ({inner}{fence}) a{fence}")
    pbin = "(CASE WHEN b.p >= 1.0 THEN 9 WHEN b.p < 0.0 THEN 0 ELSE CAST(FLOOR(b.p * 10) AS INTEGER) END)"
    sql = (f"SELECT b.day, b.client_id, b.tier, b.asset_class, b.sector, b.size_bucket, b.distance_bucket, {pbin},"
           f" COUNT(*), SUM(b.won), SUM(b.p) FROM ({mid_sel}) b GROUP BY 1, 2, 3, 4, 5, 6, 7, 8")
    return sql, c


_HIT_KEYS = ["day", "client_id", "tier", "asset_class", "sector", "size_bucket", "distance_bucket", "p_bin"]
_HIT_SUMS = ["quoted", "won", "p_sum"]


def _hit_insert(where: str, params: list[Any]) -> None:
    qn = connection.ops.quote_name
    sql, coef = _hit_select(where)
    cols = ", ".join(qn(x) for x in [*_HIT_KEYS, *_HIT_SUMS])
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {qn(HitRollup._meta.db_table)} ({cols}) {sql}", [*coef, *params])


def _hit_desk(sign: int, where: str, params: list[Any], *, upsert: bool = True) -> None:
    """Add (sign 1) or take away (sign -1) the HitRollup rows matching `where` (alias h) to or from
    the desk-wide table (`upsert=False`: into an empty table, plain INSERT, no unique index needed)."""
    qn = connection.ops.quote_name
    keys = [k for k in _HIT_KEYS if k != "client_id"]
    table = qn(HitDeskRollup._meta.db_table)
    cols = ", ".join(qn(x) for x in [*keys, *_HIT_SUMS])
    group = ", ".join(str(k + 1) for k in range(len(keys)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {', '.join('h.' + qn(k) for k in keys)}, "
            + ", ".join(f"{sign} * SUM(h.{qn(x)})" for x in _HIT_SUMS)
            + f" FROM {qn(HitRollup._meta.db_table)} h WHERE {where} GROUP BY {group}"
            + (f" ON CONFLICT ({', '.join(qn(k) for k in keys)}) DO UPDATE SET "
               + ", ".join(f"{qn(x)} = {table}.{qn(x)} + excluded.{qn(x)}" for x in _HIT_SUMS) if upsert else ""),
            params)


def _hits_days(d0: date, d1: date, before: datetime) -> None:
    """Recompute the hit rollups of the days d0..d1 from the RFQs whose outcome was stamped
    before the watermark `before`. Caller holds the lock."""
    start, end = _day_bounds(d0, d1)
    HitRollup.objects.filter(day__gte=d0, day__lte=d1).delete()
    HitDeskRollup.objects.filter(day__gte=d0, day__lte=d1).delete()
    _hit_insert("r.received_at >= %s AND r.received_at < %s AND r.updated_at < %s", [_dt(start), _dt(end), _dt(before)])
    _hit_desk(1, "h.day >= %s AND h.day <= %s", [d0, d1])


def _catch_up_span() -> timedelta:
    from django.conf import settings

    return timedelta(seconds=3 * max(float(getattr(settings, "HITS_CATCH_UP_SECONDS", 5.0)), 1.0))


def _hits_watermark(now: datetime) -> datetime:
    """The hit rollups' watermark, set (to `HITS_SETTLED_SECONDS` before `now`, the days before it
    recomputed) the first time it is asked for. Caller holds the lock."""
    mark = _state().hits_updated_at
    if mark is None:
        mark = now - _hits_settled()
        _hits_days((mark - CATCH_UP_LOOKBACK).date(), mark.date(), mark)
        _touch(hits_updated_at=mark)
    return mark


@transaction.atomic
def hits_catch_up(*, now: datetime | None = None) -> int:
    """Add to the hit rollups the RFQs whose outcome (expired, rejected, booked) was stamped
    between the watermark and `HITS_SETTLED_SECONDS` ago, and move the watermark there (every
    `HITS_CATCH_UP_SECONDS`); each RFQ is counted once, so a run costs the outcomes since the last
    one, not the day's RFQs. A run takes at most three periods of outcomes: a backlog (after a
    restart) is caught up at three times the pace it came, in bursts no bigger than that.
    Returns the number of RFQs added."""
    now = now or timezone.now()
    _lock()
    mark = _hits_watermark(now)
    upto = min(now - _hits_settled(), mark + _catch_up_span())
    if upto <= mark:
        return 0
    where = "r.updated_at >= %s AND r.updated_at < %s AND r.received_at >= %s"
    params = [_dt(mark), _dt(upto), _dt(mark - CATCH_UP_LOOKBACK)]
    n = Rfq.objects.filter(updated_at__gte=mark, updated_at__lt=upto, received_at__gte=mark - CATCH_UP_LOOKBACK,
                           status__in=HIT_STATUSES, quote__isnull=False).count()
    if n:
        last = HitRollup.objects.aggregate(last=Max("id"))["last"] or 0
        _hit_insert(where, params)  # rows of their own: readers sum the rows of a key
        _hit_desk(1, "h.id > %s", [last])  # the rows just added (writers hold the lock)
    _touch(hits_updated_at=upto, updated_at=timezone.now())
    return n


# --- hedges --------------------------------------------------------------------------------------
# Each hedge fill is counted once, by the time it was stamped (`filled_at`, set inside the
# transaction that books it): every fill stamped before the watermark `RollupState.hedges_updated_at`
# is in, none after it; the catch-up moves the watermark to `HITS_SETTLED_SECONDS` ago.

_HEDGE_COLS = ["day", "client_id", "tier", "asset_class", "sector", "instrument_id", "fills", "qty", "cost"]


def _hedge_insert(where: str, params: list[Any]) -> None:
    """INSERT the hedge rollup rows of the fills matching `where` (fill alias f, client trade t):
    per trade day, client, tier, asset class, sector and hedge instrument, the desk-signed sums."""
    qn = connection.ops.quote_name
    sign = "(CASE WHEN o.side = 'buy' THEN 1 ELSE -1 END)"
    day = _day_sql("t.booked_at")
    sql = (f"SELECT {day}, t.client_id, t.tier, ac.code, i.sector, o.instrument_id, COUNT(*),"
           f" SUM({sign} * f.quantity), SUM({sign} * {_float('f.quantity')} * {_float('f.price')})"
           f" FROM {qn(HedgeFill._meta.db_table)} f"
           f" JOIN {qn(HedgeOrder._meta.db_table)} o ON o.id = f.order_id"
           f" JOIN {qn(HedgeDecision._meta.db_table)} hd ON hd.id = o.decision_id"
           f" JOIN {qn(Trade._meta.db_table)} t ON t.id = hd.trade_id"
           f" JOIN {qn(Instrument._meta.db_table)} i ON i.id = t.instrument_id"
           f" JOIN {qn(AssetClass._meta.db_table)} ac ON ac.id = i.asset_class_id"
           f" WHERE {where} GROUP BY {day}, t.client_id, t.tier, ac.code, i.sector, o.instrument_id")
    cols = ", ".join(qn(c) for c in _HEDGE_COLS)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {qn(HedgeRollup._meta.db_table)} ({cols}) {sql}", params)


def _hedges_days(d0: date, d1: date, before: datetime) -> None:
    """Recompute the hedge rollups of the trade days d0..d1 from the fills stamped before the
    watermark `before`. Caller holds the lock."""
    start, end = _day_bounds(d0, d1)
    HedgeRollup.objects.filter(day__gte=d0, day__lte=d1).delete()
    _hedge_insert("t.booked_at >= %s AND t.booked_at < %s AND f.filled_at < %s", [_dt(start), _dt(end), _dt(before)])


def _hedges_watermark(now: datetime) -> datetime:
    """The hedge rollups' watermark, set the first time it is asked for (every fill stamped
    `HITS_SETTLED_SECONDS` before `now` taken in). Caller holds the lock."""
    mark = _state().hedges_updated_at
    if mark is None:
        mark = now - _hits_settled()
        HedgeRollup.objects.all().delete()
        _hedge_insert("f.filled_at < %s", [_dt(mark)])
        _touch(hedges_updated_at=mark)
    return mark


@transaction.atomic
def hedges_catch_up(*, now: datetime | None = None) -> int:
    """Add to the hedge rollups the fills stamped between the watermark and `HITS_SETTLED_SECONDS`
    ago, and move the watermark there (with the hit ratios' catch-up, every few seconds); each
    fill is counted once. Returns the number of fills added."""
    now = now or timezone.now()
    _lock()
    mark = _hedges_watermark(now)
    upto = now - _hits_settled()
    if upto <= mark:
        return 0
    n = HedgeFill.objects.filter(filled_at__gte=mark, filled_at__lt=upto).count()
    if n:
        _hedge_insert("f.filled_at >= %s AND f.filled_at < %s", [_dt(mark), _dt(upto)])
    _touch(hedges_updated_at=upto)
    return n


# --- bulk loading ----------------------------------------------------------------------------------

def _drop_indexes(tables: list[type]) -> list[str]:
    """PostgreSQL: drop every index of `tables` but the primary key (unique constraints included)
    and return the statements that recreate them as they were (same names and definitions).

    Filling a million rows through seven B-trees costs several times the rows themselves; one
    sorted build per index afterwards is a fraction of that. Only the tables' own indexes go: their
    foreign keys stay, as dropping one would lock the referenced table (clients, instruments)
    against every reader until commit. Run after TRUNCATE (the tables are locked already)."""
    names = [m._meta.db_table for m in tables]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.oid::regclass::text, x.indexrelid::regclass::text, pg_get_indexdef(x.indexrelid),"
            " quote_ident(c.conname), pg_get_constraintdef(c.oid)"
            " FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid"
            " LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid"
            " WHERE t.relname = ANY(%s) AND pg_table_is_visible(t.oid) AND NOT x.indisprimary"
            " ORDER BY 1, 2", [names])
        found = cursor.fetchall()
        drops, creates = [], []
        for table, index, index_def, con, con_def in found:
            if con is not None:  # the index of a unique (or exclusion) constraint
                drops.append(f"ALTER TABLE {table} DROP CONSTRAINT {con}")
                creates.append(f"ALTER TABLE {table} ADD CONSTRAINT {con} {con_def}")
            else:
                drops.append(f"DROP INDEX {index}")
                creates.append(index_def)
        for sql in drops:
            cursor.execute(sql)
    return creates


# --- the entry points -----------------------------------------------------------------------------

@transaction.atomic
def rollups_rebuild() -> float:
    """Recompute every rollup from the trades and RFQs (seeding writes them directly). Returns seconds."""
    started = time.perf_counter()
    began = timezone.now()
    _lock()
    qn = connection.ops.quote_name
    tables = [DailyRollup, *(m for m, _, _ in _derived()), HitRollup, HitDeskRollup, HedgeRollup]
    indexes: list[str] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Deferred foreign-key checks queued earlier in this transaction would block TRUNCATE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(qn(m._meta.db_table) for m in tables)}")
            # The GROUP BYs over a million rows hash in memory instead of sorting on disk, and the
            # index builds sort in memory; JIT compiling these statements cost more than it saved
            # (8 s of a 21 s DailyRollup SELECT); and the planner needs statistics of the rows read
            # (seeding writes millions just before the first rebuild, ahead of autovacuum), or it
            # picks nested loops over a million rows.
            cursor.execute("SET LOCAL work_mem = '128MB'")
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("ANALYZE " + ", ".join(qn(m._meta.db_table) for m in (Trade, Markout, Rfq, Quote)))
            indexes = _drop_indexes(tables)
        else:
            for m in tables:
                cursor.execute(f"DELETE FROM {qn(m._meta.db_table)}")
    _insert("1 = 1", [])
    for model, keys, key_sql in _derived():
        _derive(model, keys, key_sql, "1 = 1", [])
    mark = began - _hits_settled()  # the hit ratios' watermark: the catch-up adds what came after it
    _hit_insert("r.updated_at < %s", [_dt(mark)])
    _hit_desk(1, "1 = 1", [], upsert=False)  # into the empty table: each key once (GROUP BY)
    _hedge_insert("f.filled_at < %s", [_dt(mark)])  # the hedges' watermark: the same as the hits'
    with connection.cursor() as cursor:
        for sql in indexes:  # the unique constraints check the rows as they are rebuilt
            cursor.execute(sql)
    seconds = time.perf_counter() - started
    now = timezone.now()
    _touch(rebuilt_at=now, rebuild_seconds=seconds, updated_at=now, refreshed_at=now, hits_updated_at=mark,
           hedges_updated_at=mark)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for m in tables:
                cursor.execute(f"ANALYZE {qn(m._meta.db_table)}")
    return seconds


@transaction.atomic
def rollups_refresh(*, days: int = REFRESH_DAYS, today: date | None = None) -> int:
    """Recompute the last `days` UTC days (so markouts recorded since booking land in the P&L, and
    RFQ outcomes the catch-up missed land in the hit ratios)."""
    began = timezone.now()
    today = today or began.date()
    d0 = today - timedelta(days=days - 1)
    start, end = _day_bounds(d0, today)
    _lock()
    DailyRollup.objects.filter(day__gte=d0, day__lte=today).delete()
    n = _insert("t.booked_at >= %s AND t.booked_at < %s", [_dt(start), _dt(end)])
    _derive_days(d0, today)
    _hits_days(d0, today, _hits_watermark(began))
    _hedges_days(d0, today, _hedges_watermark(began))
    now = timezone.now()
    _touch(updated_at=now, refreshed_at=now)
    return n


_CELL = ["day", "client_id", "instrument_id", "tier", "asset_class", "sector", *MEASURES]


def rollups_apply_trade(trade_id: int) -> DailyRollup | None:
    """Recompute the (day, client, instrument, tier) cell of one trade and move the coarser tables
    by the cell's change; safe to run twice.

    The hit ratios are not touched here: recomputing the RFQ's (day, client) slice reads every
    RFQ the client sent that day (tens of thousands for a client streaming RFQs), far too much
    for every trade. The minutely catch-up (`hits_catch_up`) takes booked RFQs with the expired
    and rejected ones, so a trade reaches the hit ratios within a minute, as they do."""
    with transaction.atomic():
        _lock()
        row = Trade.objects.filter(pk=trade_id).values("client_id", "instrument_id", "tier", "booked_at").first()
        if row is None:
            return None
        day = row["booked_at"].astimezone(dt_tz.utc).date()
        key = {"day": day, "client_id": row["client_id"], "instrument_id": row["instrument_id"], "tier": row["tier"]}
        old = DailyRollup.objects.filter(**key).values(*_CELL).first()
        DailyRollup.objects.filter(**key).delete()
        start, end = _day_bounds(day, day)
        _insert("t.client_id = %s AND t.instrument_id = %s AND t.tier = %s AND t.booked_at >= %s AND t.booked_at < %s",
                [row["client_id"], row["instrument_id"], row["tier"], _dt(start), _dt(end)])
        new = DailyRollup.objects.filter(**key).values(*_CELL).first()
        _apply_delta(old, new)
        _touch(updated_at=timezone.now())
        return DailyRollup.objects.filter(**key).first()
