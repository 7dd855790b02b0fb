r"""Probability that a client hits a quote, and the price that maximizes expected P&L.

Model
-----
A logistic regression of the hit indicator on the quoted distance to mid in units of
the tier's base spread, the log size and the tier:

.. math::

    P(\mathrm{hit}) = \frac{1}{1 + e^{-z}}, \qquad
    z = \beta_0 + \beta_d\, d + \beta_s \ln n + \beta_2 1_{t=2} + \beta_3 1_{t=3},
    \qquad d = \frac{s\,(P - m)}{b\,m/10^4},

with ``s`` the client's side (+1 buy), ``P`` the quoted price, ``m`` the mid (price
points), ``b`` the tier's base spread (bp) and ``n`` the size (face).

Units: prices in price points; ``risk_cost_bp`` in bp of price (the ``skew`` component
of :mod:`pricing.quoting` is this cost); expected P&L in currency for ``quantity`` face
(``points / 100 * quantity``).

References
----------
.. [1] Fermanian, J.-D., Guéant, O. & Pu, J. (2017), "The behavior of dealers and
   clients on the European corporate bond market: the case of Multi-Dealer-to-Client
   platforms", Market Microstructure and Liquidity 3(2).
.. [2] Bergault, P. & Guéant, O. (2021), "Size matters for OTC market makers: general
   results and dimensionality reduction techniques", Math. Finance 31(1), 279-322.
.. [3] McCullagh, P. & Nelder, J. (1989), *Generalized Linear Models*, 2nd ed. (IRLS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_float, as_int, scalar

__all__ = ["WinProbParams", "Recommendation", "PARAM_NAMES", "fit_winprob", "win_probability",
           "expected_pnl", "recommend"]

FloatArray = NDArray[np.float64]
PARAM_NAMES: tuple[str, ...] = ("intercept", "distance", "log_size", "tier2", "tier3")


@dataclass(frozen=True)
class WinProbParams:
    """Fitted coefficients (order :data:`PARAM_NAMES`), their covariance, convergence."""

    coef: FloatArray
    cov: FloatArray
    converged: bool
    n_iter: int
    log_likelihood: float

    @property
    def stderr(self) -> FloatArray:
        """Standard errors of the coefficients (inverse Fisher information)."""
        out: FloatArray = np.sqrt(np.diag(self.cov))
        return out


def _design(distance: FloatArray, log_size: FloatArray, tier: NDArray[np.intp]) -> FloatArray:
    x = np.empty((distance.size, 5))
    x[:, 0] = 1.0
    x[:, 1] = distance
    x[:, 2] = log_size
    x[:, 3] = tier == 2
    x[:, 4] = tier == 3
    return x


def _inputs(distance: ArrayLike, log_size: ArrayLike,
            tier: ArrayLike) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    d = as_float(distance, "distance", ndim=1)
    ls = as_float(log_size, "log_size", ndim=1)
    t = as_int(tier, "tier", ndim=1, low=1, high=4)
    if ls.shape != d.shape:
        raise ValueError(f"log_size: shape {ls.shape} does not match distance {d.shape}")
    if t.shape != d.shape:
        raise ValueError(f"tier: shape {t.shape} does not match distance {d.shape}")
    return d, ls, t


def fit_winprob(distance: ArrayLike, log_size: ArrayLike, tier: ArrayLike, hit: ArrayLike,
                *, ridge: float = 0.0, max_iter: int = 50, tol: float = 1e-10) -> WinProbParams:
    r"""Maximum-likelihood fit of the logistic hit model by Newton's method (IRLS).

    Parameters
    ----------
    distance, log_size : array_like, shape (n,)
        Quoted distance in base spreads; natural log of the size (face).
    tier : array_like of int, shape (n,)
        1, 2 or 3.
    hit : array_like of bool or 0/1, shape (n,)
    ridge : float, optional
        L2 penalty on the slope coefficients (not the intercept), ``>= 0``; use a small
        value when the data separate.
    max_iter : int
    tol : float
        Convergence on the max absolute Newton step.

    Returns
    -------
    WinProbParams
        ``cov`` is the inverse of the (penalized) observed information.

    Notes
    -----
    Newton step :math:`\beta \leftarrow \beta + (X^\top W X + \Lambda)^{-1}(X^\top(y - p)
    - \Lambda\beta)`, :math:`W = \operatorname{diag}(p(1-p))`, with step halving when the
    penalized log-likelihood does not increase.

    References
    ----------
    .. [1] McCullagh & Nelder (1989), section 4.4; Fermanian, Guéant & Pu (2017).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> d = rng.uniform(0, 4, 4000); ls = rng.uniform(12, 17, 4000); t = rng.integers(1, 4, 4000)
    >>> z = 2.0 - 1.5 * d + 0.0 * ls
    >>> y = rng.random(4000) < 1 / (1 + np.exp(-z))
    >>> p = fit_winprob(d, ls, t, y)
    >>> bool(p.converged and abs(p.coef[1] + 1.5) < 0.2)
    True
    """
    d, ls, t = _inputs(distance, log_size, tier)
    hb = np.asarray(hit)
    if hb.shape != d.shape:
        raise ValueError(f"hit: shape {hb.shape} does not match distance {d.shape}")
    y = as_float(hb, "hit")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("hit: must be 0/1 or boolean")
    if d.size < 5:
        raise ValueError("distance: need at least 5 observations")
    lam = scalar(ridge, "ridge", nonneg=True)
    if int(max_iter) < 1:
        raise ValueError("max_iter: must be >= 1")
    x = _design(d, ls, t)
    # absent tiers leave a zero column: lstsq / pinv keep its coefficient at 0
    return _irls(x, y, lam, int(max_iter), scalar(tol, "tol", positive=True))


def _loglik(x: FloatArray, y: FloatArray, beta: FloatArray, pen: FloatArray) -> float:
    z = x @ beta
    ll = float((y * z - np.logaddexp(0.0, z)).sum())
    return ll - 0.5 * float(beta @ (pen * beta))


def _irls(x: FloatArray, y: FloatArray, lam: float, max_iter: int, tol: float) -> WinProbParams:
    k = x.shape[1]
    pen = np.full(k, lam)
    pen[0] = 0.0
    beta = np.zeros(k)
    ybar = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    beta[0] = np.log(ybar / (1 - ybar))
    ll = _loglik(x, y, beta, pen)
    converged = False
    it = 0
    info = np.eye(k)
    for it in range(1, max_iter + 1):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        grad = x.T @ (y - p) - pen * beta
        info = (x * (p * (1 - p))[:, None]).T @ x + np.diag(pen)
        step = np.linalg.lstsq(info, grad, rcond=None)[0]
        h = 1.0
        while True:
            cand = beta + h * step
            ll_new = _loglik(x, y, cand, pen)
            if ll_new >= ll - 1e-12 * abs(ll) or h < 1e-8:
                break
            h *= 0.5
        beta, ll = cand, ll_new
        if float(np.abs(h * step).max()) < tol:
            converged = True
            break
    if not np.isfinite(beta).all():
        raise ValueError("hit: the fit diverged (separated data?); use ridge > 0")
    p = 1.0 / (1.0 + np.exp(-(x @ beta)))
    info = (x * (p * (1 - p))[:, None]).T @ x + np.diag(pen)
    cov = np.asarray(np.linalg.pinv(info), dtype=np.float64)
    return WinProbParams(beta, cov, converged, it, ll)


def _params(params: WinProbParams) -> FloatArray:
    if not isinstance(params, WinProbParams):
        raise ValueError("params: expected WinProbParams")
    return params.coef


def win_probability(params: WinProbParams, distance: ArrayLike, log_size: ArrayLike,
                    tier: ArrayLike) -> FloatArray:
    """Hit probability; arguments broadcast.

    Examples
    --------
    >>> p = WinProbParams(np.array([0.0, -1.0, 0.0, 0.0, 0.0]), np.eye(5), True, 1, 0.0)
    >>> win_probability(p, [0.0, 1.0], 14.0, 3).round(6).tolist()
    [0.5, 0.268941]
    """
    c = _params(params)
    d = as_float(distance, "distance")
    ls = as_float(log_size, "log_size")
    t = as_int(tier, "tier", low=1, high=4)
    try:
        np.broadcast_shapes(d.shape, ls.shape, t.shape)
    except ValueError:
        raise ValueError("log_size: shapes of distance, log_size, tier do not broadcast") from None
    return _winprob(c, d, ls, t)


def _winprob(c: FloatArray, d: FloatArray, ls: FloatArray, t: NDArray[np.intp]) -> FloatArray:
    z = c[0] + c[1] * d + c[2] * ls + c[3] * (t == 2) + c[4] * (t == 3)
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def _market(mid: ArrayLike, side: ArrayLike, quantity: ArrayLike, base_spread_bp: ArrayLike,
            tier: ArrayLike, risk_cost_bp: ArrayLike) -> tuple[FloatArray, ...]:
    m = as_float(mid, "mid", positive=True)
    s = as_float(side, "side")
    if not (np.abs(s) == 1).all():
        raise ValueError("side: must be +1 (client buys) or -1 (client sells)")
    q = as_float(quantity, "quantity", positive=True)
    b = as_float(base_spread_bp, "base_spread_bp", positive=True)
    t = as_int(tier, "tier", low=1, high=4).astype(np.float64)
    rc = as_float(risk_cost_bp, "risk_cost_bp")
    try:
        out = np.broadcast_arrays(m, s, q, b, t, rc)
    except ValueError:
        raise ValueError("quantity: shapes of the arguments do not broadcast") from None
    return tuple(np.asarray(a, dtype=np.float64) for a in out)


def expected_pnl(params: WinProbParams, price: ArrayLike, *, mid: ArrayLike, side: ArrayLike,
                 quantity: ArrayLike, base_spread_bp: ArrayLike, tier: ArrayLike,
                 risk_cost_bp: ArrayLike = 0.0) -> FloatArray:
    r"""Expected P&L (currency) of quoting ``price``.

    Notes
    -----
    .. math:: E = P(\mathrm{hit})\,\big(s(P - m) - c\,m/10^4\big)\,n/100

    with ``c`` the inventory-risk cost of the trade in bp (the quote's ``skew``).

    References
    ----------
    .. [1] Bergault & Guéant (2021); Fermanian, Guéant & Pu (2017).

    Examples
    --------
    >>> p = WinProbParams(np.array([0.0, -1.0, 0.0, 0.0, 0.0]), np.eye(5), True, 1, 0.0)
    >>> float(expected_pnl(p, 100.1, mid=100.0, side=1, quantity=1e6, base_spread_bp=10.0,
    ...                    tier=3).round(2))
    268.94
    """
    c = _params(params)
    pr = as_float(price, "price", positive=True)
    m, s, q, b, t, rc = _market(mid, side, quantity, base_spread_bp, tier, risk_cost_bp)
    try:
        np.broadcast_shapes(pr.shape, m.shape)
    except ValueError:
        raise ValueError("price: shape does not broadcast with mid") from None
    d = s * (pr - m) / (b * m * 1e-4)
    pw = _winprob(c, d, np.log(q), t.astype(np.intp))
    out: FloatArray = pw * (s * (pr - m) - rc * m * 1e-4) * q / 100.0
    return out


@dataclass(frozen=True)
class Recommendation:
    """Output of :func:`recommend` (arrays of the broadcast shape)."""

    price: FloatArray
    distance: FloatArray
    win_probability: FloatArray
    expected_pnl: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray


def recommend(params: WinProbParams, *, mid: ArrayLike, mid_se: ArrayLike, side: ArrayLike,
              quantity: ArrayLike, base_spread_bp: ArrayLike, tier: ArrayLike,
              risk_cost_bp: ArrayLike = 0.0, z: float = 1.96,
              grid: tuple[float, float, int] = (-3.0, 12.0, 301)) -> Recommendation:
    r"""Price maximizing the expected P&L net of inventory-risk cost, vectorized.

    Parameters
    ----------
    params : WinProbParams
    mid, mid_se : array_like
        Fair value and its standard error (price points).
    side, quantity, base_spread_bp, tier, risk_cost_bp : array_like
        As in :func:`expected_pnl`; all arguments broadcast.
    z : float
        Normal quantile of the confidence interval (1.96: 95 %).
    grid : (low, high, n)
        Distances searched (base spreads); the best grid point is refined by one
        parabolic interpolation step.

    Returns
    -------
    Recommendation
        ``ci_low, ci_high = price -/+ z * mid_se``: the optimal distance is set relative
        to the mid, so the fair-value error moves the optimal price one for one.

    Notes
    -----
    With :math:`u = b m 10^{-4}` the price of one base spread, maximize
    :math:`\pi(d) = \sigma(z(d))\,(d\,u - c\,m 10^{-4})` over ``d``; the first-order
    condition :math:`\beta_d(1-\sigma)(du - c') + u = 0` has no closed form in ``d``
    (Lambert W), hence the grid.

    References
    ----------
    .. [1] Fermanian, Guéant & Pu (2017); Bergault & Guéant (2021).

    Examples
    --------
    >>> p = WinProbParams(np.array([1.0, -2.0, 0.0, 0.0, 0.0]), np.eye(5), True, 1, 0.0)
    >>> r = recommend(p, mid=100.0, mid_se=0.01, side=1, quantity=1e6, base_spread_bp=5.0,
    ...               tier=2)
    >>> bool(r.price > 100.0 and r.ci_low < r.price < r.ci_high)
    True
    """
    c = _params(params)
    se = as_float(mid_se, "mid_se", nonneg=True)
    m, s, q, b, t, rc = _market(mid, side, quantity, base_spread_bp, tier, risk_cost_bp)
    try:
        shape = np.broadcast_shapes(m.shape, se.shape)
    except ValueError:
        raise ValueError("mid_se: shape does not broadcast with mid") from None
    zz = scalar(z, "z", nonneg=True)
    lo, hi, n = float(grid[0]), float(grid[1]), int(grid[2])
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi and n >= 3):
        raise ValueError("grid: expected (low, high, n) with low < high and n >= 3")
    if c[1] >= 0:
        raise ValueError("params: the distance coefficient must be negative")
    m, s, q, b, t, rc, se = (np.broadcast_to(a, shape) for a in (m, s, q, b, t, rc, se))
    return _recommend(c, m, se, s, q, b, t, rc, zz, np.linspace(lo, hi, n))


def _recommend(c: FloatArray, m: FloatArray, se: FloatArray, s: FloatArray, q: FloatArray,
               b: FloatArray, t: FloatArray, rc: FloatArray, z: float,
               dgrid: FloatArray) -> Recommendation:
    u = (b * m * 1e-4)[..., None]
    cost = (rc * m * 1e-4)[..., None]
    z0 = c[0] + c[2] * np.log(q) + c[3] * (t == 2) + c[4] * (t == 3)

    def pnl(d: FloatArray) -> FloatArray:
        pw = 0.5 * (1.0 + np.tanh(0.5 * (z0[..., None] + c[1] * d)))
        out: FloatArray = pw * (d * u - cost)
        return out

    vals = pnl(dgrid)
    j = np.clip(vals.argmax(axis=-1), 1, dgrid.size - 2)
    f0 = np.take_along_axis(vals, (j - 1)[..., None], -1)[..., 0]
    f1 = np.take_along_axis(vals, j[..., None], -1)[..., 0]
    f2 = np.take_along_axis(vals, (j + 1)[..., None], -1)[..., 0]
    h = dgrid[1] - dgrid[0]
    den = f0 - 2 * f1 + f2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(den < 0, 0.5 * h * (f0 - f2) / den, 0.0)
    d = dgrid[j] + np.clip(shift, -h, h)
    best = pnl(d[..., None])[..., 0]
    d = np.where(best >= f1, d, dgrid[j])
    pw = 0.5 * (1.0 + np.tanh(0.5 * (z0 + c[1] * d)))
    price = m + s * d * u[..., 0]
    e = pw * (d * u[..., 0] - cost[..., 0]) * q / 100.0
    return Recommendation(price, d, pw, e, price - z * se, price + z * se)
