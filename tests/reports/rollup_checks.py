"""References for the rollups, recomputed in Python from the rows underneath (trades, markouts,
RFQs and quotes), and assertions that the rollup tables equal them."""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import timezone as dt_tz
from typing import Any

import numpy as np
from django.db.models import Sum

from dealer.desk.models import Rfq
from dealer.market.models import Instrument
from dealer.reports.models import (
    DISTANCE_BUCKETS,
    SIZE_BUCKETS,
    ClientDayRollup,
    ClientMonthRollup,
    DeskDayRollup,
    HitDeskRollup,
    HitRollup,
)

RTOL = 1e-9
COARSE = {
    DeskDayRollup: ("day", "tier", "asset_class", "sector"),
    ClientDayRollup: ("day", "client_id", "tier", "asset_class"),
    ClientMonthRollup: ("month", "client_id", "tier", "asset_class"),
}
_SUMMED = ("trades", "volume", "net_qty", "spread_pnl", "pnl", "mo_n_86400", "mo_bp_86400", "mo_n_60", "mo_bp_60")


def close(a: float, b: float) -> bool:
    return abs(a - b) <= RTOL * max(1.0, abs(a), abs(b)) + 0.02


def direct_coarse(cells: dict[tuple[Any, ...], dict[str, Any]]) -> dict[type, dict[tuple[Any, ...], dict[str, Any]]]:
    """The coarser tables summed from the per-trade reference cells of `direct_cells()`."""
    inst = {i.id: (i.asset_class.code, i.sector) for i in Instrument.objects.select_related("asset_class")}
    out: dict[type, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for model, keys in COARSE.items():
        acc: dict[tuple[Any, ...], dict[str, Any]] = {}
        for (day, client_id, instrument_id, tier), c in cells.items():
            ac, sector = inst[instrument_id]
            v = {"day": day, "month": day.replace(day=1), "client_id": client_id, "tier": tier,
                 "asset_class": ac, "sector": sector}
            a = acc.setdefault(tuple(v[k] for k in keys), {m: 0 for m in _SUMMED})
            for m in _SUMMED:
                a[m] += c[m]
        out[model] = acc
    return out


def assert_coarse_equal(cells: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    for model, expected in direct_coarse(cells).items():
        keys = [("day" if k == "month" else k) for k in COARSE[model]]
        got = {tuple(r[k] for k in keys): r for r in model.objects.values(*keys, *_SUMMED)}
        assert set(got) == set(expected), model.__name__
        for key, e in expected.items():
            r = got[key]
            for m in ("trades", "mo_n_86400", "mo_n_60"):
                assert r[m] == e[m], (model.__name__, key, m)
            assert r["volume"] == e["volume"] and r["net_qty"] == e["net_qty"], (model.__name__, key)
            for m in ("spread_pnl", "pnl", "mo_bp_86400", "mo_bp_60"):
                assert close(r[m], e[m]), (model.__name__, key, m, r[m], e[m])


def _bucket(x: float, buckets: list[tuple[float, float | None, str]]) -> int:
    for k, (lo, hi, _) in enumerate(buckets):
        if x >= lo and (hi is None or x < hi):
            return k
    return -1


def direct_hits() -> dict[tuple[Any, ...], list[float]]:
    """(day, client, tier, asset class, sector, size bucket, distance bucket, decile) ->
    [quoted, won, sum of predicted probabilities], from the RFQs, their quotes and the current
    model through the pricing library (the same inputs as the model's own fit)."""
    from crm.models import TierLimit
    from dealer.desk.recommend import quote_features, winprob_params
    from pricing.winprob import win_probability

    rows = list(Rfq.objects.filter(status__in=["booked", "expired", "rejected"], quote__isnull=False).values_list(
        "quote__price", "quote__mid", "quantity", "side", "tier", "instrument__asset_class__code", "status",
        "quote__win_probability", "received_at", "client_id", "instrument__sector", "quote__half_spread_bp"))
    out: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    if not rows:
        return out
    base = {(t, a): b for t, a, b in TierLimit.objects.values_list("tier__number", "asset_class__code", "base_spread_bp")}
    distance, log_size, tier = quote_features(rows, base)
    model = np.asarray(win_probability(winprob_params(), distance, log_size, tier), dtype=float)
    for r, pm in zip(rows, model):
        p = float(r[7]) if r[7] is not None else float(pm)
        key = (r[8].astimezone(dt_tz.utc).date(), r[9], r[4], r[5], r[10], _bucket(float(r[2]), SIZE_BUCKETS),
               _bucket(r[11], DISTANCE_BUCKETS), min(max(math.floor(p * 10), 0), 9))
        acc = out[key]
        acc[0] += 1
        acc[1] += int(r[6] == "booked")
        acc[2] += p
    return out


def assert_hits_equal_rfqs() -> None:
    expected = direct_hits()
    assert expected, "the book has quoted RFQs with outcomes"
    keys = ("day", "client_id", "tier", "asset_class", "sector", "size_bucket", "distance_bucket", "p_bin")
    # A key may have several rows (each catch-up adds its own): readers sum them, and so do we.
    got = {tuple(r[k] for k in keys): r for r in HitRollup.objects.values(*keys).annotate(
        quoted=Sum("quoted"), won=Sum("won"), p_sum=Sum("p_sum"))}
    assert set(got) == set(expected)
    for key, (q, w, p) in expected.items():
        assert (got[key]["quoted"], got[key]["won"]) == (q, w), key
        assert abs(got[key]["p_sum"] - p) <= 1e-9 * max(1.0, p), (key, got[key]["p_sum"], p)
    desk: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for key, (q, w, p) in expected.items():
        d = desk[key[:1] + key[2:]]
        d[0] += q
        d[1] += w
        d[2] += p
    dkeys = tuple(k for k in keys if k != "client_id")
    got_desk = {tuple(r[k] for k in dkeys): r for r in HitDeskRollup.objects.values(*dkeys, "quoted", "won", "p_sum")}
    assert set(got_desk) == set(desk)
    for key, (q, w, p) in desk.items():
        assert (got_desk[key]["quoted"], got_desk[key]["won"]) == (q, w), key
        assert abs(got_desk[key]["p_sum"] - p) <= 1e-9 * max(1.0, p), key


__all__ = ["assert_coarse_equal", "assert_hits_equal_rfqs", "close", "direct_coarse", "direct_hits"]
