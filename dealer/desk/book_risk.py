"""Daily risk of the book for the desk pages: per position and the change a trade would make.

Risk is the 1-sigma one-day P&L of the book at the current mids under the simulator's daily
log-return covariance (stressed when the market is): for notionals x (currency, long positive)
and covariance Sigma, book risk = sqrt(x' Sigma x); a position's contribution is
x_i (Sigma x)_i / sqrt(x' Sigma x) (the contributions add up to the book's risk), and its
stand-alone risk is |x_i| sqrt(Sigma_ii).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.conf import settings

from dealer.desk.models import Position
from dealer.market.models import SimulatorState
from dealer.market.selectors import latest_snapshot
from dealer.market.universe_cache import universe

__all__ = ["book_state", "trade_risk_change", "with_risk"]


def book_state() -> dict[str, Any] | None:
    """Notionals, covariance and the index of each instrument id; None without market data."""
    from dealer.desk.pricing_context import static_arrays

    snap = latest_snapshot()
    if snap is None:
        return None
    static = static_arrays()
    m = static.ids.size
    mid = np.asarray(snap.arrays["mid"], dtype=float)[:m]
    if mid.size < m:
        return None
    qty = np.zeros(m)
    for iid, q in Position.objects.values_list("instrument_id", "quantity"):
        i = static.index_of_id.get(iid)
        if i is not None:
            qty[i] = float(q)
    seed = SimulatorState.objects.values_list("seed", flat=True).first() or settings.MARKET_SEED
    uni = universe(seed)
    cov = (uni.cov_stressed if snap.stressed else uni.cov_normal)[:m, :m]
    return {"index": static.index_of_id, "qty": qty, "mid": mid, "cov": cov, "per_point": static.money_per_point}


def _vol(x: np.ndarray, cov: np.ndarray) -> float:
    return math.sqrt(max(float(x @ cov @ x), 0.0))


def with_risk(rows: list[dict[str, Any]], state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Add `notional`, `risk` (stand-alone) and `risk_contribution` to `position_rows` rows."""
    state = state if state is not None else book_state()
    if state is None:
        return {"book_risk": None, "rows": rows}
    from dealer.market.models import Instrument

    x = state["qty"] * state["mid"] * state["per_point"]
    sx = state["cov"] @ x
    total = _vol(x, state["cov"])
    ids = dict(Instrument.objects.filter(isin__in=[r["isin"] for r in rows]).values_list("isin", "id"))
    for r in rows:
        i = state["index"].get(ids.get(r["isin"], -1))
        if i is None:
            r.update(notional=None, risk=None, risk_contribution=None)
            continue
        r["notional"] = round(float(x[i]), 2)
        r["risk"] = round(abs(float(x[i])) * math.sqrt(float(state["cov"][i, i])), 2)
        r["risk_contribution"] = round(float(x[i] * sx[i]) / total, 2) if total > 0 else 0.0
    return {"book_risk": round(total, 2), "rows": rows}


def trade_risk_change(*, instrument_id: int, desk_quantity: float) -> dict[str, float] | None:
    """The book's daily 1-sigma risk before and after the desk's signed `desk_quantity`."""
    state = book_state()
    if state is None:
        return None
    i = state["index"].get(instrument_id)
    if i is None:
        return None
    x = state["qty"] * state["mid"] * state["per_point"]
    after = x.copy()
    after[i] += desk_quantity * state["mid"][i] * state["per_point"][i]
    before_v, after_v = _vol(x, state["cov"]), _vol(after, state["cov"])
    return {"book_risk_before": round(before_v, 2), "book_risk_after": round(after_v, 2),
            "book_risk_change": round(after_v - before_v, 2)}
