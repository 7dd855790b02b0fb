"""Market impact: the square-root law and Almgren-Chriss optimal execution.

Units
-----
``sqrt_impact`` returns impact in the units of ``sigma`` (pass ``sigma`` as a
daily return volatility in bp to get bp; as a fraction to get a fraction).
``q`` and ``adv`` are in the same size units (face).

``almgren_chriss`` follows the notation of Almgren & Chriss (2000): ``X`` shares
(or face), ``T`` total time in the time unit of ``sigma`` (e.g. days),
``sigma`` price volatility in currency per share per sqrt(time unit), ``eta``
temporary impact in currency per share per (share / time unit), ``epsilon``
fixed cost per share, ``gamma`` permanent impact in currency per share per
share, ``lam`` risk aversion in 1 / currency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_float, scalar

__all__ = ["sqrt_impact", "almgren_chriss", "ExecutionSchedule"]


def sqrt_impact(sigma: ArrayLike, q: ArrayLike, adv: ArrayLike, y: float = 0.5) -> NDArray[np.float64]:
    r"""Square-root market impact of a trade of size ``q``.

    Parameters
    ----------
    sigma : array_like
        Daily volatility (bp or fraction of price), ``>= 0``.
    q : array_like
        Trade size; the sign is ignored.
    adv : array_like
        Average daily volume in the units of ``q``, ``> 0``.
    y : float, optional
        Dimensionless prefactor :math:`Y` (order one), ``>= 0``.

    Returns
    -------
    ndarray
        Impact in the units of ``sigma``; arrays broadcast.

    Notes
    -----
    .. math:: I(q) = Y \sigma \sqrt{|q| / \mathrm{ADV}}

    References
    ----------
    .. [1] Tóth, B. et al. (2011), "Anomalous price impact and the critical
       nature of liquidity in financial markets", Phys. Rev. X 1, 021006.
    .. [2] Bouchaud, Bonart, Donier & Gould (2018), *Trades, Quotes and Prices*, ch. 12.

    Examples
    --------
    >>> float(sqrt_impact(100.0, 1e6, 4e6, y=1.0))
    50.0
    """
    s = as_float(sigma, "sigma", nonneg=True)
    qq = as_float(q, "q")
    a = as_float(adv, "adv", positive=True)
    yy = scalar(y, "y", nonneg=True)
    try:
        np.broadcast_shapes(s.shape, qq.shape, a.shape)
    except ValueError:
        raise ValueError("q: shape does not broadcast with sigma and adv") from None
    return _sqrt_impact(s, qq, a, yy)


def _sqrt_impact(s: NDArray[np.float64], q: NDArray[np.float64], adv: NDArray[np.float64],
                 y: float) -> NDArray[np.float64]:
    out: NDArray[np.float64] = y * s * np.sqrt(np.abs(q) / adv)
    return out


@dataclass(frozen=True)
class ExecutionSchedule:
    """Result of :func:`almgren_chriss`.

    Attributes
    ----------
    times : ndarray, shape (N+1,)
        :math:`t_j = j\\tau`.
    holdings : ndarray, shape (N+1,)
        Remaining position :math:`x_j`, ``holdings[0] = X``, ``holdings[-1] = 0``.
    trades : ndarray, shape (N,)
        :math:`n_j = x_{j-1} - x_j`, positive = sold.
    expected_cost : float
        :math:`E[x]`.
    variance : float
        :math:`V[x]`.
    kappa : float
        Urgency :math:`\\kappa` (1 / time unit); 0 for the straight line.
    """

    times: NDArray[np.float64]
    holdings: NDArray[np.float64]
    trades: NDArray[np.float64]
    expected_cost: float
    variance: float
    kappa: float


def almgren_chriss(X: float, T: float, N: int, sigma: float, eta: float, epsilon: float,
                   gamma: float, lam: float) -> ExecutionSchedule:
    r"""Optimal liquidation trajectory of Almgren & Chriss (2000).

    Parameters
    ----------
    X : float
        Initial holding to liquidate (a negative ``X`` buys back a short).
    T : float
        Horizon, ``> 0``.
    N : int
        Number of intervals, ``>= 1``.
    sigma : float
        Price volatility per sqrt(time unit), ``>= 0``.
    eta : float
        Temporary impact coefficient, ``> 0``.
    epsilon : float
        Fixed cost per unit traded, ``>= 0``.
    gamma : float
        Permanent impact coefficient, ``>= 0``.
    lam : float
        Risk aversion :math:`\lambda`, ``>= 0``; ``0`` gives the straight line.

    Returns
    -------
    ExecutionSchedule

    Notes
    -----
    With :math:`\tau = T/N`, :math:`\tilde\eta = \eta - \gamma\tau/2 > 0`,
    :math:`\tilde\kappa^2 = \lambda\sigma^2/\tilde\eta` and :math:`\kappa` from
    :math:`\cosh(\kappa\tau) = 1 + \tilde\kappa^2\tau^2/2`,

    .. math::

        x_j = \frac{\sinh(\kappa(T - t_j))}{\sinh(\kappa T)} X, \qquad
        E = \tfrac12\gamma X^2 + \epsilon\sum_k |n_k| + \frac{\tilde\eta}{\tau}\sum_k n_k^2,
        \qquad V = \sigma^2\tau\sum_{k=1}^{N} x_k^2.

    :math:`\kappa` is computed as :math:`\operatorname{log1p}(a + \sqrt{a(a+2)})/\tau`,
    :math:`a = \tilde\kappa^2\tau^2/2`, which is accurate for small :math:`a`;
    :math:`\kappa = 0` gives :math:`x_j = (1 - t_j/T)X`.

    References
    ----------
    .. [1] Almgren, R. & Chriss, N. (2000), "Optimal execution of portfolio
       transactions", Journal of Risk 3(2), 5-39.

    Examples
    --------
    >>> s = almgren_chriss(1e6, 5, 5, 0.95, 2.5e-6, 0.0625, 2.5e-7, 0.0)
    >>> s.trades.round(6).tolist()
    [200000.0, 200000.0, 200000.0, 200000.0, 200000.0]
    """
    Xv = scalar(X, "X")
    Tv = scalar(T, "T", positive=True)
    if isinstance(N, bool) or int(N) != N or N < 1:
        raise ValueError("N: must be an integer >= 1")
    sg = scalar(sigma, "sigma", nonneg=True)
    et = scalar(eta, "eta", positive=True)
    ep = scalar(epsilon, "epsilon", nonneg=True)
    ga = scalar(gamma, "gamma", nonneg=True)
    la = scalar(lam, "lam", nonneg=True)
    tau = Tv / int(N)
    if not et - ga * tau / 2 > 0:
        raise ValueError("eta: eta - gamma*tau/2 must be > 0 (temporary impact too small)")
    return _almgren_chriss(Xv, Tv, int(N), sg, et, ep, ga, la)


def _almgren_chriss(X: float, T: float, N: int, sigma: float, eta: float, epsilon: float,
                    gamma: float, lam: float) -> ExecutionSchedule:
    tau = T / N
    eta_t = eta - gamma * tau / 2.0
    a = lam * sigma * sigma / eta_t * tau * tau / 2.0
    kappa = float(np.log1p(a + np.sqrt(a * (a + 2.0)))) / tau
    times = np.arange(N + 1, dtype=np.float64) * tau
    if kappa * T > 0.0 and np.isfinite(np.sinh(kappa * T)):
        x = np.sinh(kappa * (T - times)) / np.sinh(kappa * T) * X
    elif kappa * T > 0.0:  # very urgent: use exp form to avoid overflow
        x = np.exp(-kappa * times) * (1 - np.exp(-2 * kappa * (T - times))) / (
            1 - np.exp(-2 * kappa * T)) * X
    else:
        x = (1.0 - times / T) * X
    x[-1] = 0.0
    n = x[:-1] - x[1:]
    e = 0.5 * gamma * X * X + epsilon * float(np.abs(n).sum()) + eta_t / tau * float((n * n).sum())
    v = sigma * sigma * tau * float((x[1:] ** 2).sum())
    if not (np.isfinite(e) and np.isfinite(v)):
        raise ValueError("X: schedule is not finite for these inputs")
    return ExecutionSchedule(times, x, n, e, v, kappa)
