"""Book risk: covariance estimates, marginal inventory-risk cost, axe alignment.

Units
-----
Covariances are of *returns* (fractions of price) over the desk's risk horizon
(typically one day), so ``Sigma`` is dimensionless squared.  Positions passed to
:func:`book_risk` are currency notionals (face x price / 100).  With ``gamma`` in
1 / currency, :func:`marginal_risk_cost` is in currency.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_float, check_pd, scalar

__all__ = [
    "factor_covariance",
    "ledoit_wolf",
    "book_risk",
    "marginal_risk_cost",
    "axe_alignment",
]


def factor_covariance(loadings: ArrayLike, factor_cov: ArrayLike,
                      specific_var: ArrayLike) -> NDArray[np.float64]:
    r"""Factor-model covariance :math:`B F B^\top + \operatorname{diag}(D)`.

    Parameters
    ----------
    loadings : array_like, shape (M, K)
        Exposures :math:`B` of M instruments to K factors.
    factor_cov : array_like, shape (K, K)
        Factor covariance :math:`F`, symmetric positive semi-definite.
    specific_var : array_like, shape (M,)
        Specific (idiosyncratic) variances :math:`D`, ``> 0``.

    Returns
    -------
    ndarray, shape (M, M)
        Positive definite by construction (``D > 0`` and ``F`` PSD).

    Notes
    -----
    .. math:: \Sigma = B F B^\top + \operatorname{diag}(D)

    References
    ----------
    .. [1] Grinold, R. & Kahn, R. (2000), *Active Portfolio Management*, ch. 3.

    Examples
    --------
    >>> factor_covariance([[1.0], [0.5]], [[4e-4]], [1e-4, 1e-4]).round(6).tolist()
    [[0.0005, 0.0002], [0.0002, 0.0002]]
    """
    b = as_float(loadings, "loadings", ndim=2)
    f = as_float(factor_cov, "factor_cov", ndim=2)
    d = as_float(specific_var, "specific_var", ndim=1, positive=True)
    if f.shape != (b.shape[1], b.shape[1]):
        raise ValueError(f"factor_cov: expected shape {(b.shape[1], b.shape[1])}, got {f.shape}")
    if d.shape != (b.shape[0],):
        raise ValueError(f"specific_var: expected shape ({b.shape[0]},), got {d.shape}")
    if not np.allclose(f, f.T):
        raise ValueError("factor_cov: not symmetric")
    if f.size and np.linalg.eigvalsh(f).min() < -1e-12 * max(1.0, float(np.abs(f).max())):
        raise ValueError("factor_cov: not positive semi-definite")
    return _factor_covariance(b, f, d)


def _factor_covariance(b: NDArray[np.float64], f: NDArray[np.float64],
                       d: NDArray[np.float64]) -> NDArray[np.float64]:
    s: NDArray[np.float64] = b @ f @ b.T
    s = 0.5 * (s + s.T)
    s[np.diag_indices_from(s)] += d
    return s


def ledoit_wolf(returns: ArrayLike) -> tuple[NDArray[np.float64], float]:
    r"""Ledoit-Wolf shrinkage of the sample covariance towards a scaled identity.

    Parameters
    ----------
    returns : array_like, shape (T, M)
        Returns, T >= 2 observations of M instruments; demeaned internally.

    Returns
    -------
    cov : ndarray, shape (M, M)
        :math:`(1-\delta) S + \delta \mu I`, positive definite whenever ``S`` is not zero.
    shrinkage : float
        :math:`\delta \in [0, 1]`.

    Notes
    -----
    With :math:`S = X^\top X / T` (X demeaned), :math:`\mu = \operatorname{tr} S / M`,
    :math:`d^2 = \lVert S - \mu I\rVert_F^2 / M`,
    :math:`\bar b^2 = \frac{1}{T^2}\sum_t \lVert x_t x_t^\top - S\rVert_F^2 / M`,
    :math:`b^2 = \min(\bar b^2, d^2)`, :math:`\delta = b^2 / d^2`.

    References
    ----------
    .. [1] Ledoit, O. & Wolf, M. (2004), "A well-conditioned estimator for
       large-dimensional covariance matrices", J. Multivariate Anal. 88, 365-411.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cov, delta = ledoit_wolf(rng.standard_normal((50, 5)))
    >>> bool(0 <= delta <= 1)
    True
    """
    x = as_float(returns, "returns", ndim=2)
    if x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"returns: need at least 2 rows and 1 column, got {x.shape}")
    cov, delta = _ledoit_wolf(x)
    if not float(np.trace(cov)) > 0:
        raise ValueError("returns: all returns are constant; covariance would be singular")
    return cov, delta


def _ledoit_wolf(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    t, m = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / t
    mu = float(np.trace(s)) / m
    d2 = float(((s - mu * np.eye(m)) ** 2).sum()) / m
    # sum_t ||x_t x_t' - S||^2 = sum_t ||x_t||^4 - T ||S||^2
    x2 = (xc * xc).sum(axis=1)
    bbar2 = (float((x2 * x2).sum()) / t - float((s * s).sum())) / t / m
    b2 = min(max(bbar2, 0.0), d2)
    delta = b2 / d2 if d2 > 0 else 1.0
    cov = (1.0 - delta) * s
    cov[np.diag_indices_from(cov)] += delta * mu
    return cov, delta


def book_risk(position_notional: ArrayLike, cov: ArrayLike,
              gamma: float) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    r"""Book terms needed by the quote skew: :math:`\Sigma x`, :math:`\operatorname{diag}\Sigma`, risk.

    Parameters
    ----------
    position_notional : array_like, shape (M,)
        Signed currency notional per instrument (long positive).
    cov : array_like, shape (M, M)
        Return covariance, symmetric positive definite.
    gamma : float
        Risk aversion, 1 / currency, ``>= 0``.

    Returns
    -------
    sigma_x : ndarray, shape (M,)
        :math:`\Sigma x` (currency).
    sigma_diag : ndarray, shape (M,)
        :math:`\Sigma_{ii}`.
    risk_cost : float
        :math:`\frac{\gamma}{2} x^\top\Sigma x` (currency).

    Notes
    -----
    The quadratic value-function approximation of multi-asset market making:
    the inventory-risk cost of holding ``x`` is :math:`\frac{\gamma}{2}x^\top\Sigma x`.

    References
    ----------
    .. [1] Bergault, P., Evangelista, D., Guéant, O. & Vieira, D. (2021), "Closed-form
       approximations in multi-asset market making", Appl. Math. Finance 28(2).

    Examples
    --------
    >>> sx, sd, r = book_risk([1e6, 0.0], [[1e-4, 0.0], [0.0, 1e-4]], 1e-6)
    >>> float(sx[0]), float(r)
    (100.0, 50.0)
    """
    x = as_float(position_notional, "position_notional", ndim=1)
    c = as_float(cov, "cov", ndim=2)
    if c.shape != (x.size, x.size):
        raise ValueError(f"cov: expected shape {(x.size, x.size)}, got {c.shape}")
    check_pd(c, "cov")
    g = scalar(gamma, "gamma", nonneg=True)
    sx = c @ x
    return sx, np.diag(c).copy(), 0.5 * g * float(x @ sx)


def marginal_risk_cost(gamma: ArrayLike, sigma_x_i: ArrayLike, sigma_ii: ArrayLike,
                       q: ArrayLike) -> NDArray[np.float64]:
    r"""Change of the book's inventory-risk cost when the position in ``i`` changes by ``q``.

    Parameters
    ----------
    gamma : array_like
        Risk aversion (1 / currency), ``>= 0``.
    sigma_x_i : array_like
        :math:`(\Sigma x)_i` (currency).
    sigma_ii : array_like
        :math:`\Sigma_{ii}`, ``>= 0``.
    q : array_like
        Signed change of the desk's position (currency notional): ``-size`` when a
        client buys from the desk, ``+size`` when a client sells to it.

    Returns
    -------
    ndarray
        Cost in currency (negative when the trade reduces risk); arrays broadcast.

    Notes
    -----
    .. math:: \Delta C = \gamma(\Sigma x)_i q + \frac{\gamma}{2}\Sigma_{ii} q^2

    which is exact for the quadratic cost :math:`\frac{\gamma}{2}x^\top\Sigma x`.

    References
    ----------
    .. [1] Guéant, O. (2017), "Optimal market making", Appl. Math. Finance 24(2), 112-154.
    .. [2] Bergault, Evangelista, Guéant & Vieira (2021), see :func:`book_risk`.

    Examples
    --------
    >>> float(marginal_risk_cost(1e-6, 100.0, 1e-4, -1e6))
    -50.0
    """
    g = as_float(gamma, "gamma", nonneg=True)
    sx = as_float(sigma_x_i, "sigma_x_i")
    sd = as_float(sigma_ii, "sigma_ii", nonneg=True)
    qq = as_float(q, "q")
    try:
        np.broadcast_shapes(g.shape, sx.shape, sd.shape, qq.shape)
    except ValueError:
        raise ValueError("q: shape does not broadcast with gamma, sigma_x_i, sigma_ii") from None
    return _marginal_risk_cost(g, sx, sd, qq)


def _marginal_risk_cost(g: NDArray[np.float64], sx: NDArray[np.float64],
                        sd: NDArray[np.float64], q: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = g * q * (sx + 0.5 * sd * q)
    return out


def axe_alignment(axe: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    r"""Fraction of a desk position change ``q`` that fills the desk's axe.

    Parameters
    ----------
    axe : array_like
        Signed size the desk wants to buy (+) or sell (-); 0 for none.
    q : array_like
        Signed change of the desk's position (same units as ``axe``).

    Returns
    -------
    ndarray
        :math:`\min(\max(\operatorname{sign}(q)\,a, 0), |q|) / |q|` in [0, 1]
        (0 where ``q == 0``).

    Notes
    -----
    A trade moves the book toward the axe when ``axe * q > 0``; only the part up to
    ``|axe|`` counts.

    References
    ----------
    .. [1] Bergault, P. & Guéant, O. (2021), "Size matters for OTC market makers",
       Math. Finance 31(1), 279-322 (axes as inventory targets).

    Examples
    --------
    >>> axe_alignment([5.0, 5.0, -5.0], [10.0, 2.0, 2.0]).tolist()
    [0.5, 1.0, 0.0]
    """
    a = as_float(axe, "axe")
    qq = as_float(q, "q")
    try:
        np.broadcast_shapes(a.shape, qq.shape)
    except ValueError:
        raise ValueError("q: shape does not broadcast with axe") from None
    aq = np.abs(qq)
    filled = np.minimum(np.maximum(np.sign(qq) * a, 0.0), aq)
    out: NDArray[np.float64] = np.divide(filled, aq, out=np.zeros_like(filled), where=aq > 0)
    return out
