r"""Short-term signals, vectorized over instruments.

Units
-----
Returns are fractions; volatilities are in the same unit per period (daily returns
give a daily volatility).  Prices in price points, sizes in face, signals in bp of
price (positive = price expected up) or dimensionless imbalances in [-1, 1].

References
----------
.. [1] J.P. Morgan/Reuters (1996), *RiskMetrics - Technical Document*, 4th ed.
.. [2] Stoikov, S. (2018), "The micro-price: a high-frequency estimator of future
   prices", Quantitative Finance 18(12), 1959-1966.
.. [3] Cartea, Á., Jaimungal, S. & Penalva, J. (2015), *Algorithmic and
   High-Frequency Trading*, ch. 4 (order-flow imbalance).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import lfilter  # type: ignore[import-untyped]

from ._validation import as_float, as_int, check_len, scalar

__all__ = ["ewma_volatility", "order_book_imbalance", "microprice", "microprice_signal_bp",
           "client_flow_imbalance"]

FloatArray = NDArray[np.float64]


def ewma_volatility(returns: ArrayLike, lam: float = 0.94,
                    initial_var: ArrayLike | None = None) -> FloatArray:
    r"""RiskMetrics exponentially weighted volatility.

    Parameters
    ----------
    returns : array_like, shape (T,) or (T, M)
        Returns, oldest first.
    lam : float
        Decay :math:`\lambda \in (0, 1)`; 0.94 for daily data.
    initial_var : array_like, shape (M,), optional
        :math:`\sigma_0^2`; defaults to the first squared return.

    Returns
    -------
    ndarray, same shape as ``returns``
        :math:`\sigma_t`, including the return of period ``t``.

    Notes
    -----
    .. math:: \sigma_t^2 = \lambda\sigma_{t-1}^2 + (1-\lambda) r_t^2

    References
    ----------
    .. [1] RiskMetrics Technical Document (1996), section 5.2.

    Examples
    --------
    >>> ewma_volatility([0.01, 0.0], lam=0.5, initial_var=0.0).round(8).tolist()
    [0.00707107, 0.005]
    """
    r = as_float(returns, "returns")
    if r.ndim not in (1, 2) or r.shape[0] < 1:
        raise ValueError(f"returns: expected shape (T,) or (T, M) with T >= 1, got {r.shape}")
    la = scalar(lam, "lam")
    if not 0 < la < 1:
        raise ValueError("lam: must be in (0, 1)")
    v0 = r[0] ** 2 if initial_var is None else as_float(initial_var, "initial_var", nonneg=True)
    try:
        v0 = np.broadcast_to(v0, r.shape[1:])
    except ValueError:
        raise ValueError(f"initial_var: expected shape {r.shape[1:]}") from None
    return _ewma(r, la, np.asarray(v0, dtype=np.float64))


def _ewma(r: FloatArray, lam: float, v0: FloatArray) -> FloatArray:
    zi = (lam * v0)[None, ...]
    var, _ = lfilter([1.0 - lam], [1.0, -lam], r * r, axis=0, zi=zi)
    out: FloatArray = np.sqrt(np.maximum(var, 0.0))
    return out


def _book(bid: ArrayLike, ask: ArrayLike, bid_size: ArrayLike,
          ask_size: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    b = as_float(bid, "bid")
    a = as_float(ask, "ask")
    qb = as_float(bid_size, "bid_size", nonneg=True)
    qa = as_float(ask_size, "ask_size", nonneg=True)
    try:
        np.broadcast_shapes(b.shape, a.shape, qb.shape, qa.shape)
    except ValueError:
        raise ValueError("ask: shapes of bid, ask, bid_size, ask_size do not broadcast") from None
    if (a < b).any():
        raise ValueError("ask: below bid (crossed book)")
    if not (qb + qa > 0).all():
        raise ValueError("bid_size: bid_size + ask_size must be > 0")
    return b, a, qb, qa


def order_book_imbalance(bid_size: ArrayLike, ask_size: ArrayLike) -> FloatArray:
    r"""Top-of-book imbalance :math:`\rho = (Q_b - Q_a)/(Q_b + Q_a) \in [-1, 1]`.

    Positive when buyers dominate (price pressure up).

    References
    ----------
    .. [1] Cartea, Jaimungal & Penalva (2015), ch. 4.

    Examples
    --------
    >>> order_book_imbalance([3.0, 1.0], [1.0, 1.0]).tolist()
    [0.5, 0.0]
    """
    _, _, qb, qa = _book(0.0, 0.0, bid_size, ask_size)
    out: FloatArray = (qb - qa) / (qb + qa)
    return out


def microprice(bid: ArrayLike, ask: ArrayLike, bid_size: ArrayLike,
               ask_size: ArrayLike) -> FloatArray:
    r"""Imbalance-weighted mid (the first-order micro-price of Stoikov 2018).

    Notes
    -----
    With :math:`I = Q_b/(Q_b+Q_a)`: :math:`P_{micro} = I\,P_a + (1-I)\,P_b`.

    References
    ----------
    .. [1] Stoikov (2018), "The micro-price", Quant. Finance 18(12).

    Examples
    --------
    >>> microprice(99.0, 101.0, 3.0, 1.0).tolist()
    100.5
    """
    b, a, qb, qa = _book(bid, ask, bid_size, ask_size)
    i = qb / (qb + qa)
    out: FloatArray = i * a + (1.0 - i) * b
    return out


def microprice_signal_bp(bid: ArrayLike, ask: ArrayLike, bid_size: ArrayLike,
                         ask_size: ArrayLike, weight: float = 1.0) -> FloatArray:
    r"""Expected drift over the quote's life in bp: ``weight * (micro - mid) / mid * 1e4``.

    ``weight`` in [0, 1] is the share of the micro-price deviation expected to be
    realized within the quote's life (calibrate on markouts).

    Examples
    --------
    >>> microprice_signal_bp(99.0, 101.0, 3.0, 1.0).round(6).tolist()
    50.0
    """
    w = scalar(weight, "weight", nonneg=True)
    b, a, qb, qa = _book(bid, ask, bid_size, ask_size)
    mid = 0.5 * (a + b)
    if not (mid > 0).all():
        raise ValueError("bid: mid must be > 0")
    i = qb / (qb + qa)
    out: FloatArray = w * (i * a + (1.0 - i) * b - mid) / mid * 1e4
    return out


def client_flow_imbalance(instrument: ArrayLike, side: ArrayLike, notional: ArrayLike,
                          t: ArrayLike, now: float, half_life_s: float,
                          n_instruments: int) -> FloatArray:
    r"""Exponentially decayed client-flow imbalance per instrument in [-1, 1].

    Parameters
    ----------
    instrument : array_like of int, shape (n,)
    side : array_like, shape (n,)
        Client side, +1 buy, -1 sell.
    notional : array_like, shape (n,)
        ``>= 0``.
    t : array_like, shape (n,)
        Trade or RFQ times (s), ``<= now``.
    now : float
    half_life_s : float
        ``> 0``.
    n_instruments : int

    Returns
    -------
    ndarray, shape (n_instruments,)
        0 where there is no flow.  Positive = clients buying (price pressure up).

    Notes
    -----
    .. math:: F_i = \frac{\sum_j w_j s_j N_j}{\sum_j w_j N_j}, \quad
              w_j = 2^{-(now - t_j)/h}

    Examples
    --------
    >>> client_flow_imbalance([0, 0, 1], [1, -1, -1], [3.0, 1.0, 2.0], [0.0, 0.0, 0.0],
    ...                       0.0, 60.0, 3).tolist()
    [0.5, -1.0, 0.0]
    """
    n = int(scalar(n_instruments, "n_instruments", nonneg=True))
    inst = as_int(instrument, "instrument", ndim=1, low=0, high=max(n, 1))
    k = inst.size
    s = as_float(side, "side", ndim=1)
    check_len(s, "side", k)
    if not (np.abs(s) == 1).all():
        raise ValueError("side: must be +1 or -1")
    nn = as_float(notional, "notional", ndim=1, nonneg=True)
    check_len(nn, "notional", k)
    tt = as_float(t, "t", ndim=1)
    check_len(tt, "t", k)
    nw = scalar(now, "now")
    if (tt > nw).any():
        raise ValueError("t: later than now")
    h = scalar(half_life_s, "half_life_s", positive=True)
    w = nn * np.exp2(-(nw - tt) / h)
    num = np.bincount(inst, weights=w * s, minlength=n)
    den = np.bincount(inst, weights=w, minlength=n)
    out: FloatArray = np.divide(num, den, out=np.zeros(n), where=den > 0)
    return out
