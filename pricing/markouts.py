r"""Markouts of trades and the clients' adverse-selection (toxicity) scores.

Units
-----
Times in seconds, prices in price points, quantities in face.  A markout at horizon
``h`` is signed by the *dealer's* side (``+1`` the dealer bought, ``-1`` it sold):

.. math:: M_h^{bp} = s_D\,\frac{m_{t+h} - P}{P}\,10^4, \qquad
          M_h^{ccy} = s_D\,(m_{t+h} - P)\,n / 100,

positive when the trade made money for the dealer.  A client's toxicity is the
notional-weighted mean of :math:`-M_h^{bp}` over its trades (positive = adverse
selection against the dealer).

References
----------
.. [1] Glosten, L. & Milgrom, P. (1985), "Bid, ask and transaction prices in a
   specialist market with heterogeneously informed traders", J. Financ. Econ. 14.
.. [2] Cartea, Á., Jaimungal, S. & Penalva, J. (2015), *Algorithmic and
   High-Frequency Trading*, ch. 10 (markouts and toxicity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_float, as_int, check_len, scalar

__all__ = ["DEFAULT_HORIZONS_S", "Markouts", "mids_at_horizons", "compute_markouts",
           "toxicity_scores"]

FloatArray = NDArray[np.float64]
DEFAULT_HORIZONS_S: tuple[float, ...] = (60.0, 300.0, 1800.0, 86400.0)


@dataclass(frozen=True)
class Markouts:
    """Markouts, shape (n, H): ``bp`` and ``money`` (currency); ``horizons`` (s)."""

    bp: FloatArray
    money: FloatArray
    horizons: FloatArray


def mids_at_horizons(trade_time: ArrayLike, trade_instrument: ArrayLike, tick_time: ArrayLike,
                     tick_instrument: ArrayLike, tick_mid: ArrayLike,
                     horizons: ArrayLike = DEFAULT_HORIZONS_S) -> FloatArray:
    """Last mid of the trade's instrument at or before ``t + h`` for every horizon.

    Returns an (n, H) array, NaN where the instrument has no tick by then.

    Examples
    --------
    >>> mids_at_horizons([0.0], [1], [0.0, 30.0, 100.0, 50.0], [1, 1, 1, 0],
    ...                  [100.0, 100.2, 100.5, 7.0], [60.0, 300.0]).tolist()
    [[100.2, 100.5]]
    """
    tt = as_float(trade_time, "trade_time", ndim=1)
    ti = as_int(trade_instrument, "trade_instrument", ndim=1, low=0)
    check_len(ti, "trade_instrument", tt.size)
    kt = as_float(tick_time, "tick_time", ndim=1)
    ki = as_int(tick_instrument, "tick_instrument", ndim=1, low=0)
    km = as_float(tick_mid, "tick_mid", ndim=1, positive=True)
    check_len(ki, "tick_instrument", kt.size)
    check_len(km, "tick_mid", kt.size)
    h = as_float(horizons, "horizons", ndim=1, nonneg=True)
    if kt.size == 0:
        return np.full((tt.size, h.size), np.nan)
    lo = min(float(kt.min()), float(tt.min(initial=0.0)))
    span = max(float(kt.max()), float(tt.max(initial=0.0)) + float(h.max(initial=0.0))) - lo + 1
    order = np.lexsort((kt, ki))
    key = ki[order] * span + (kt[order] - lo)
    mids = km[order]
    kinst = ki[order]
    q = (ti * span + (tt - lo))[:, None] + h[None, :]
    pos = np.searchsorted(key, q, side="right") - 1
    posc = np.clip(pos, 0, None)
    ok = (pos >= 0) & (kinst[posc] == ti[:, None])
    return np.where(ok, mids[posc], np.nan)


def compute_markouts(trade_price: ArrayLike, dealer_side: ArrayLike, quantity: ArrayLike,
                     mid_after: ArrayLike,
                     horizons: ArrayLike = DEFAULT_HORIZONS_S) -> Markouts:
    """Markouts in bp and money (see the module docstring).

    Parameters
    ----------
    trade_price : array_like, shape (n,)
    dealer_side : array_like, shape (n,)
        +1 dealer bought, -1 dealer sold.
    quantity : array_like, shape (n,)
        Face, ``> 0``.
    mid_after : array_like, shape (n, H)
        Mid at each horizon (NaN allowed: unknown yet).
    horizons : array_like, shape (H,)

    Examples
    --------
    >>> m = compute_markouts([100.0], [1], [1e6], [[100.1, 99.9]], [60, 300])
    >>> m.bp.round(6).tolist(), m.money.round(6).tolist()
    ([[10.0, -10.0]], [[1000.0, -1000.0]])
    """
    p = as_float(trade_price, "trade_price", ndim=1, positive=True)
    n = p.size
    s = as_float(dealer_side, "dealer_side", ndim=1)
    check_len(s, "dealer_side", n)
    if not (np.abs(s) == 1).all():
        raise ValueError("dealer_side: must be +1 or -1")
    q = as_float(quantity, "quantity", ndim=1, positive=True)
    check_len(q, "quantity", n)
    h = as_float(horizons, "horizons", ndim=1, nonneg=True)
    ma = as_float(mid_after, "mid_after", ndim=2, allow_nan=True)
    if ma.shape != (n, h.size):
        raise ValueError(f"mid_after: expected shape {(n, h.size)}, got {ma.shape}")
    diff = s[:, None] * (ma - p[:, None])
    return Markouts(diff / p[:, None] * 1e4, diff * q[:, None] / 100.0, h)


def toxicity_scores(client_idx: ArrayLike, markout_bp: ArrayLike, notional: ArrayLike,
                    n_clients: int, prior_notional: float = 0.0) -> FloatArray:
    r"""Per-client adverse-selection score (bp): notional-weighted mean of ``-markout_bp``.

    Notes
    -----
    .. math:: \tau_c = \frac{\sum_{j\in c} N_j(-M_j)}{\sum_{j\in c} N_j + N_0}

    ``prior_notional`` :math:`N_0` shrinks clients with little flow toward 0; trades with
    a NaN markout (horizon not reached) are skipped.

    Examples
    --------
    >>> toxicity_scores([0, 0, 1], [-2.0, 4.0, 1.0], [3.0, 1.0, 1.0], 3).tolist()
    [0.5, -1.0, 0.0]
    """
    nc = int(scalar(n_clients, "n_clients", nonneg=True))
    ci = as_int(client_idx, "client_idx", ndim=1, low=0, high=max(nc, 1))
    mb = as_float(markout_bp, "markout_bp", ndim=1, allow_nan=True)
    check_len(mb, "markout_bp", ci.size)
    w = as_float(notional, "notional", ndim=1)
    check_len(w, "notional", ci.size)
    w = np.abs(w)
    n0 = scalar(prior_notional, "prior_notional", nonneg=True)
    ok = ~np.isnan(mb)
    num = np.bincount(ci[ok], weights=-(w[ok] * mb[ok]), minlength=nc)
    den = np.bincount(ci[ok], weights=w[ok], minlength=nc) + n0
    out: FloatArray = np.divide(num, den, out=np.zeros(nc), where=den > 0)
    return out
