"""Tier 1 recommendations and the win-probability model they rest on.

The model (`pricing.winprob`) is fitted by maximum likelihood to the desk's own RFQ outcomes
(quotes that traded against quotes that expired or were rejected) and kept in `WinProbModel`;
it is refitted nightly and on first use. Before any outcome exists the desk starts from a prior
(PRIOR_COEF), stated here rather than hidden.
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np
from django.utils import timezone

from crm.models import TierLimit
from dealer.desk.models import Quote, WinProbModel
from pricing.quoting import RfqArrays
from pricing.winprob import WinProbParams, fit_winprob, recommend

#: intercept, distance (per base spread), log size, tier 2, tier 3: the maximum-likelihood fit to
#: the seeded demo history (72,536 RFQs, `winprob_fit`), used until the desk has outcomes of its own.
PRIOR_COEF = (1.39, -1.16, -0.0125, -0.53, -1.14)
FIT_WINDOW = 100_000
REFIT_WAIT_SECONDS = 600.0
#: Costs the desk bears when it trades: the recommendation maximizes P&L net of these.
COST_COMPONENTS = ("skew", "impact", "hedge", "funding")

_cache: dict[str, Any] = {}
_lock = threading.Lock()


def _prior() -> WinProbParams:
    return WinProbParams(np.array(PRIOR_COEF, dtype=float), np.eye(5), False, 0, float("nan"))


def quote_features(rows: list[tuple[Any, ...]], base: dict[tuple[int, str], float]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's inputs from rows starting (price, mid, quantity, side, tier, asset class):
    the quoted distance to mid in base spreads of the tier, the log size and the tier."""
    price = np.array([float(r[0]) for r in rows])
    mid = np.array([float(r[1]) for r in rows])
    qty = np.array([float(r[2]) for r in rows])
    side = np.array([1.0 if r[3] == "buy" else -1.0 for r in rows])
    tier = np.array([r[4] for r in rows], dtype=np.intp)
    b = np.array([base.get((r[4], r[5]), 5.0) for r in rows])
    return side * (price - mid) / (b * mid * 1e-4), np.log(qty), tier


def winprob_fit() -> WinProbModel | None:
    """Fit the model to the latest RFQ outcomes and store it; None when there are too few."""
    base = {(t, a): b for t, a, b in TierLimit.objects.values_list("tier__number", "asset_class__code", "base_spread_bp")}
    rows = list(
        Quote.objects.filter(status__in=["accepted", "expired", "rejected"], source__in=["auto", "trader"])
        .order_by("-id")
        .values_list("price", "mid", "quantity", "rfq__side", "rfq__tier", "rfq__instrument__asset_class__code", "status")[
            :FIT_WINDOW]
    )
    if len(rows) < 200:
        return None
    distance, log_size, tier = quote_features(rows, base)
    hit = np.array([r[6] == "accepted" for r in rows], dtype=float)
    if hit.min() == hit.max():
        return None
    params = fit_winprob(distance, log_size, tier, hit)
    model = WinProbModel.objects.create(coef=params.coef.tolist(), cov=params.cov.tolist(), n_obs=len(rows),
                                        hit_ratio=float(hit.mean()), fitted_at=timezone.now())
    with _lock:
        _cache.pop("params", None)
    return model


def winprob_params() -> WinProbParams:
    latest = WinProbModel.objects.order_by("-fitted_at").values_list("id", "coef", "cov").first()
    with _lock:
        cached = _cache.get("params")
        if cached is not None and latest is not None and cached[0] == latest[0]:
            return cached[1]
    if latest is None:
        import time

        with _lock:
            if time.monotonic() < _cache.get("no_fit_until", 0.0):
                return _prior()
        model = winprob_fit()
        if model is None:
            with _lock:  # too few outcomes: try again in ten minutes, not on every batch
                _cache["no_fit_until"] = time.monotonic() + REFIT_WAIT_SECONDS
            return _prior()
        latest = (model.id, model.coef, model.cov)
    params = WinProbParams(np.array(latest[1], dtype=float), np.array(latest[2], dtype=float), True, 0, float("nan"))
    if params.coef[1] >= 0:  # a fit that says wider quotes win more is not usable for pricing
        return _prior()
    with _lock:
        _cache["params"] = (latest[0], params)
    return params


def recommend_for_batch(batch: RfqArrays, result: Any, market: Any, book: Any, tiers: Any) -> dict[str, np.ndarray]:
    """Recommended price (with the client's agreement applied), interval, impact, P(win), E[P&L]."""
    inst = batch.instrument
    mid = result.mid
    mid_se = market.mid_se[inst]
    base = tiers.base_spread_bp[batch.tier - 1, market.asset_class[inst]]
    cost = sum(result.components[c] for c in COST_COMPONENTS)
    rec = recommend(winprob_params(), mid=mid, mid_se=mid_se, side=batch.side, quantity=batch.quantity,
                    base_spread_bp=base, tier=batch.tier, risk_cost_bp=cost)
    shift = batch.side * result.components["agreement"] * mid * 1e-4
    return {
        "price": rec.price + shift,
        "ci_low": rec.ci_low + shift,
        "ci_high": rec.ci_high + shift,
        "impact_bp": result.components["impact"],
        "win_probability": rec.win_probability,
        "expected_pnl": rec.expected_pnl,
        "mid_se": mid_se,
    }
