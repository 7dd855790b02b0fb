"""Hit probability model and hedging."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from pricing.hedging import (ACTIONS, decide_hedges, min_variance_hedge_ratios, route_order)
from pricing.winprob import (WinProbParams, expected_pnl, fit_winprob, recommend,
                             win_probability)

TRUE = np.array([1.5, -1.2, -0.15, -0.4, -0.8])


def simulate(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    d = rng.uniform(-0.5, 4.0, n)
    ls = rng.uniform(11.0, 17.0, n)
    t = rng.integers(1, 4, n)
    z = TRUE[0] + TRUE[1] * d + TRUE[2] * (ls - 0) + TRUE[3] * (t == 2) + TRUE[4] * (t == 3)
    z = z + 0.15 * 14  # keep the hit rate moderate
    hit = rng.random(n) < 1 / (1 + np.exp(-z))
    return d, ls, t, hit


def test_fit_recovers_known_parameters() -> None:
    rng = np.random.default_rng(42)
    d, ls, t, hit = simulate(rng, 40_000)
    p = fit_winprob(d, ls, t, hit)
    truth = TRUE.copy()
    truth[0] += 0.15 * 14
    assert p.converged
    assert (np.abs(p.coef - truth) < 4 * p.stderr).all()
    np.testing.assert_allclose(p.coef, truth, rtol=0.15, atol=0.1)


def test_win_probability_formula() -> None:
    p = WinProbParams(TRUE, np.eye(5), True, 1, 0.0)
    z = TRUE[0] + TRUE[1] * 2.0 + TRUE[2] * 14.0 + TRUE[4]
    assert float(win_probability(p, 2.0, 14.0, 3)) == pytest.approx(1 / (1 + np.exp(-z)),
                                                                     rel=1e-12)


def test_recommend_matches_scalar_optimizer() -> None:
    p = WinProbParams(np.array([2.0, -1.5, 0.0, -0.2, -0.5]), np.eye(5), True, 1, 0.0)
    kw = dict(mid=100.0, side=-1, quantity=2e6, base_spread_bp=5.0, tier=2, risk_cost_bp=1.0)
    r = recommend(p, mid_se=0.02, **kw)  # type: ignore[arg-type]
    res = minimize_scalar(lambda price: -float(expected_pnl(p, price, **kw)),  # type: ignore
                          bounds=(99.0, 100.2), method="bounded", options={"xatol": 1e-9})
    assert float(r.price) == pytest.approx(res.x, abs=2e-4)
    assert float(r.expected_pnl) == pytest.approx(-res.fun, rel=1e-5)
    assert float(r.ci_low) == pytest.approx(float(r.price) - 1.96 * 0.02)
    assert float(r.ci_high) == pytest.approx(float(r.price) + 1.96 * 0.02)
    assert float(r.price) < 100.0  # a bid


def test_recommend_vectorized_and_inventory_cost_widens() -> None:
    p = WinProbParams(np.array([2.0, -1.5, 0.0, 0.0, 0.0]), np.eye(5), True, 1, 0.0)
    r = recommend(p, mid=[100.0, 100.0], mid_se=0.0, side=1, quantity=1e6, base_spread_bp=5.0,
                  tier=3, risk_cost_bp=[0.0, 5.0])
    assert r.price.shape == (2,) and r.price[1] > r.price[0]


def test_winprob_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="hit"):
        fit_winprob([0.0] * 6, [1.0] * 6, [1] * 6, [0, 1, 2, 0, 1, 0])
    with pytest.raises(ValueError, match="log_size"):
        fit_winprob([0.0] * 6, [1.0] * 5, [1] * 6, [0] * 6)
    with pytest.raises(ValueError, match="distance"):
        fit_winprob([np.nan] * 6, [1.0] * 6, [1] * 6, [0] * 6)
    with pytest.raises(ValueError, match="tier"):
        fit_winprob([0.0] * 6, [1.0] * 6, [4] * 6, [0] * 6)
    p = WinProbParams(TRUE, np.eye(5), True, 1, 0.0)
    with pytest.raises(ValueError, match="params"):
        win_probability("x", 1.0, 1.0, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quantity"):
        recommend(p, mid=100.0, mid_se=0.0, side=1, quantity=-1.0, base_spread_bp=1.0, tier=1)
    with pytest.raises(ValueError, match="side"):
        expected_pnl(p, 100.0, mid=100.0, side=0, quantity=1.0, base_spread_bp=1.0, tier=1)
    with pytest.raises(ValueError, match="mid_se"):
        recommend(p, mid=100.0, mid_se=-1.0, side=1, quantity=1.0, base_spread_bp=1.0, tier=1)


def test_hedge_ratio_of_a_scaled_hedge_is_minus_the_scale() -> None:
    h = np.random.default_rng(0).normal(0, 0.01, 250)
    ratios, vr = min_variance_hedge_ratios(1.3 * h, h)
    np.testing.assert_allclose(ratios, [-1.3], rtol=1e-12)
    assert vr == pytest.approx(1.0)


def test_hedge_ratios_two_hedges_and_variance_reduction() -> None:
    rng = np.random.default_rng(1)
    hed = rng.normal(0, 0.01, (500, 2))
    y = hed @ np.array([0.8, -0.5]) + rng.normal(0, 0.002, 500)
    ratios, vr = min_variance_hedge_ratios(y, hed)
    beta = np.linalg.solve(hed.T @ hed, hed.T @ y)
    np.testing.assert_allclose(ratios, -beta, rtol=1e-10)
    resid = y - hed @ beta
    assert vr == pytest.approx(1 - resid.var() / y.var(), rel=1e-12)
    with pytest.raises(ValueError, match="hedge_returns"):
        min_variance_hedge_ratios(y, hed[:-1])
    with pytest.raises(ValueError, match="target_returns"):
        min_variance_hedge_ratios(np.full(500, np.nan), hed)
    with pytest.raises(ValueError, match="hedge_returns"):
        min_variance_hedge_ratios(y, np.full((500, 2), np.inf))


def test_decide_hedges_policy() -> None:
    h = decide_hedges([1e5, 5e6, 1e6, 1e6, 1e6, -1e6, 0.0, 1e5],
                      adv=1e7, liquid=[True, True, False, False, True, True, True, True],
                      tier=[3, 3, 3, 3, 2, 3, 3, 2], axe=[0, 0, 0, 0, 0, -5e6, 0, 0],
                      internal_interest=[0, 0, 0, 0, 2e6, 0, 0, 5e4],
                      has_proxy=[False, False, True, False, False, False, False, False])
    assert h.action_names() == ["offset", "schedule", "proxy", "schedule", "internalize", "hold",
                                "hold", "offset"]
    text = h.explain()
    assert text[1].startswith("schedule: large_vs_adv") and "50.00% of ADV" in text[1]
    assert len(ACTIONS) == 5
    with pytest.raises(ValueError, match="adv"):
        decide_hedges([1.0], 0.0, True, 3)
    with pytest.raises(ValueError, match="position_change"):
        decide_hedges([np.nan], 1.0, True, 3)
    with pytest.raises(ValueError, match="liquid"):
        decide_hedges([1.0, 2.0], 1.0, [True, False, True], 3)
    with pytest.raises(ValueError, match="tier"):
        decide_hedges([1.0], 1.0, True, 5)


def test_route_order_picks_lowest_all_in_cost() -> None:
    venue, cost = route_order([1, -1, 1], [100.0, 100.0, 100.0],
                              [[100.02, 100.01, np.nan], [99.99, 99.98, 99.995],
                               [np.nan, np.nan, np.nan]],
                              [0.5, 2.0, 0.1], [0.9, 0.9, 0.2], miss_cost_bp=5.0)
    c00 = 0.9 * (2.0 + 0.5) + 0.1 * 5.0
    assert cost[0, 0] == pytest.approx(c00)
    assert venue.tolist() == [0, 0, -1]
    with pytest.raises(ValueError, match="fill_prob"):
        route_order([1], [100.0], [[100.0]], [0.0], [1.5])
    with pytest.raises(ValueError, match="price"):
        route_order([1], [100.0], [[100.0], [100.0]], [0.0], [1.0])
