"""Almgren-Chriss, square-root impact, covariance and marginal risk cost."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.impact import almgren_chriss, sqrt_impact
from pricing.risk import (axe_alignment, book_risk, factor_covariance, ledoit_wolf,
                          marginal_risk_cost)

PAPER = dict(X=1e6, T=5.0, N=5, sigma=0.95, eta=2.5e-6, epsilon=0.0625, gamma=2.5e-7)


def ac_reference(X: float, T: float, N: int, sigma: float, eta: float, epsilon: float,
                 gamma: float, lam: float) -> tuple[list[float], float, float]:
    """Almgren & Chriss (2000) closed form, written out with math."""
    tau = T / N
    eta_t = eta - gamma * tau / 2
    kt2 = lam * sigma**2 / eta_t
    kappa = math.acosh(1 + kt2 * tau**2 / 2) / tau
    if kappa == 0:
        x = [X * (1 - j / N) for j in range(N + 1)]
    else:
        x = [math.sinh(kappa * (T - j * tau)) / math.sinh(kappa * T) * X for j in range(N + 1)]
    n = [x[j - 1] - x[j] for j in range(1, N + 1)]
    e = 0.5 * gamma * X**2 + epsilon * sum(abs(v) for v in n) + eta_t / tau * sum(v * v for v in n)
    v = sigma**2 * tau * sum(xx * xx for xx in x[1:])
    return x, e, v


@pytest.mark.parametrize("lam", [0.0, 1e-6])
def test_almgren_chriss_paper_example(lam: float) -> None:
    out = almgren_chriss(lam=lam, **PAPER)  # type: ignore[arg-type]
    x, e, v = ac_reference(lam=lam, **PAPER)  # type: ignore[arg-type]
    np.testing.assert_allclose(out.holdings, x, rtol=1e-3, atol=1e-6)
    assert out.expected_cost == pytest.approx(e, rel=1e-3)
    assert out.variance == pytest.approx(v, rel=1e-3)
    assert out.holdings[0] == 1e6 and out.holdings[-1] == 0.0
    np.testing.assert_allclose(out.trades.sum(), 1e6)


def test_almgren_chriss_straight_line_cost_by_hand() -> None:
    out = almgren_chriss(lam=0.0, **PAPER)  # type: ignore[arg-type]
    X, T, g, eps = 1e6, 5.0, 2.5e-7, 0.0625
    eta_t = 2.5e-6 - g * 1.0 / 2
    assert out.expected_cost == pytest.approx(0.5 * g * X**2 + eps * X + eta_t * X**2 / T,
                                              rel=1e-12)
    np.testing.assert_allclose(out.trades, 2e5)
    assert out.kappa == 0.0


def test_almgren_chriss_risk_aversion_front_loads() -> None:
    lazy = almgren_chriss(lam=0.0, **PAPER)  # type: ignore[arg-type]
    urgent = almgren_chriss(lam=1e-6, **PAPER)  # type: ignore[arg-type]
    assert urgent.trades[0] > lazy.trades[0]
    assert urgent.variance < lazy.variance and urgent.expected_cost > lazy.expected_cost
    assert (np.diff(urgent.trades) < 0).all()


def test_almgren_chriss_rejects_bad_input() -> None:
    for name, bad in (("X", math.nan), ("T", 0.0), ("N", 0), ("sigma", -1.0), ("eta", 0.0),
                      ("epsilon", -1.0), ("gamma", -1.0), ("lam", -1.0)):
        kw = dict(PAPER, lam=0.0)
        kw[name] = bad
        with pytest.raises(ValueError, match=name):
            almgren_chriss(**kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eta"):
        almgren_chriss(1e6, 5.0, 5, 0.95, 1e-7, 0.0, 1e-6, 0.0)


def test_sqrt_impact() -> None:
    np.testing.assert_allclose(sqrt_impact([10.0, 20.0], [-4e6, 0.25e6], 1e6, y=0.5), [10.0, 5.0])
    for kw, name in ((dict(sigma=-1.0), "sigma"), (dict(adv=0.0), "adv"), (dict(q=math.nan), "q"),
                     (dict(y=-1.0), "y"), (dict(q=[1.0, 2.0], adv=[1.0, 2.0, 3.0]), "q")):
        args = dict(sigma=1.0, q=1.0, adv=1.0, y=1.0) | kw
        with pytest.raises(ValueError, match=name):
            sqrt_impact(**args)  # type: ignore[arg-type]


def test_factor_covariance_is_bfb_plus_d_and_positive_definite() -> None:
    rng = np.random.default_rng(0)
    b = rng.normal(size=(30, 3))
    f = np.diag([4.0, 1.0, 0.25])
    d = rng.uniform(0.1, 0.2, 30)
    s = factor_covariance(b, f, d)
    ref = np.array([[sum(b[i, k] * f[k, k] * b[j, k] for k in range(3)) + (d[i] if i == j else 0)
                     for j in range(30)] for i in range(30)])
    np.testing.assert_allclose(s, ref, rtol=1e-12)
    assert np.linalg.eigvalsh(s).min() > 0
    with pytest.raises(ValueError, match="specific_var"):
        factor_covariance(b, f, np.zeros(30))
    with pytest.raises(ValueError, match="factor_cov"):
        factor_covariance(b, -f, d)
    with pytest.raises(ValueError, match="factor_cov"):
        factor_covariance(b, np.eye(2), d)


def test_ledoit_wolf_matches_loop_reference() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))
    cov, delta = ledoit_wolf(x)
    t, m = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / t
    mu = np.trace(s) / m
    d2 = np.sum((s - mu * np.eye(m)) ** 2) / m
    b2 = sum(np.sum((np.outer(r, r) - s) ** 2) for r in xc) / t**2 / m
    ref_delta = min(b2, d2) / d2
    assert delta == pytest.approx(ref_delta, rel=1e-10)
    np.testing.assert_allclose(cov, ref_delta * mu * np.eye(m) + (1 - ref_delta) * s, rtol=1e-10)
    assert np.linalg.eigvalsh(cov).min() > 0
    with pytest.raises(ValueError, match="returns"):
        ledoit_wolf(np.ones((5, 3)))
    with pytest.raises(ValueError, match="returns"):
        ledoit_wolf([[np.nan, 1.0], [1.0, 2.0]])


@settings(max_examples=80, deadline=None)
@given(st.floats(0, 1e-5), st.floats(-1e7, 1e7), st.floats(-1e7, 1e7), st.floats(-1e7, 1e7))
def test_marginal_cost_is_the_change_of_quadratic_cost(g: float, x0: float, x1: float,
                                                       q: float) -> None:
    cov = np.array([[2e-4, 5e-5], [5e-5, 1e-4]])
    x = np.array([x0, x1])
    sx, sd, r0 = book_risk(x, cov, g)
    _, _, r1 = book_risk(x + [q, 0.0], cov, g)
    assert float(marginal_risk_cost(g, sx[0], sd[0], q)) == pytest.approx(r1 - r0, rel=1e-9,
                                                                          abs=1e-6)


def test_book_risk_and_marginal_cost_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="cov"):
        book_risk([1.0, 1.0], [[1.0, 2.0], [2.0, 1.0]], 1.0)
    with pytest.raises(ValueError, match="cov"):
        book_risk([1.0, 1.0], np.eye(3), 1.0)
    with pytest.raises(ValueError, match="position_notional"):
        book_risk([np.nan, 1.0], np.eye(2), 1.0)
    with pytest.raises(ValueError, match="gamma"):
        marginal_risk_cost(-1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="sigma_ii"):
        marginal_risk_cost(1.0, 1.0, -1.0, 1.0)
    with pytest.raises(ValueError, match="q"):
        marginal_risk_cost(1.0, [1.0, 2.0], 1.0, [1.0, 2.0, 3.0])


def test_axe_alignment() -> None:
    np.testing.assert_allclose(axe_alignment([5.0, 5.0, -5.0, 0.0, 3.0], [10.0, 2.0, 2.0, 1.0, 0.0]),
                               [0.5, 1.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="axe"):
        axe_alignment([np.nan], [1.0])
