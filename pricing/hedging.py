r"""Hedging policy (DESIGN.md section 6), minimum-variance hedge ratios, venue routing.

Units
-----
Sizes in face (signed: the change of the desk's position, long +), ``adv`` in face per
day, prices in price points, fees and costs in bp of price.

Policy, first matching rule per trade (:func:`decide_hedges`):

1. no position change -> ``hold`` (``no_change``);
2. Tier 2 flow with enough offsetting client interest -> ``internalize``;
3. the change moves the book toward a desk axe -> ``hold`` (``matches_axe``);
4. illiquid bond with a proxy (CDS index, rates future, credit ETF) -> ``proxy``
   (ratios from :func:`min_variance_hedge_ratios`);
5. illiquid without proxy, or large versus ADV -> ``schedule`` (Almgren-Chriss, see
   :func:`pricing.impact.almgren_chriss`);
6. otherwise (small and liquid) -> ``offset`` now on the best venue (:func:`route_order`).

References
----------
.. [1] Almgren, R. & Chriss, N. (2000), "Optimal execution of portfolio transactions".
.. [2] Ederington, L. (1979), "The hedging performance of the new futures markets",
   J. Finance 34(1), 157-170 (minimum-variance hedge ratio).
.. [3] Barzykin, A., Bergault, P. & Guéant, O. (2023), "Algorithmic market making in
   dealer markets with hedging and market impact", Math. Finance 33(1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_bool, as_float, as_int, scalar

__all__ = ["ACTIONS", "HEDGE_REASONS", "HedgeDecisions", "decide_hedges",
           "min_variance_hedge_ratios", "route_order"]

FloatArray = NDArray[np.float64]

ACTIONS: tuple[str, ...] = ("offset", "schedule", "proxy", "internalize", "hold")
HEDGE_REASONS: tuple[str, ...] = ("small_liquid", "large_vs_adv", "illiquid_no_proxy",
                                  "illiquid_proxy", "tier2_internal_match", "matches_axe",
                                  "no_change")
_ACTION_OF_REASON = np.array([0, 1, 1, 2, 3, 4, 4], dtype=np.int8)


@dataclass(frozen=True)
class HedgeDecisions:
    """Per trade: ``action`` (index into :data:`ACTIONS`), ``reason`` (index into
    :data:`HEDGE_REASONS`) and the figures behind them."""

    action: NDArray[np.int8]
    reason: NDArray[np.int8]
    participation: FloatArray
    position_change: FloatArray
    small_fraction: float

    def action_names(self) -> list[str]:
        """Actions as strings."""
        return [ACTIONS[a] for a in self.action.tolist()]

    def explain(self) -> list[str]:
        """A reason string with the figures for every trade (stored with the decision)."""
        out = []
        for a, r, p, q in zip(self.action.tolist(), self.reason.tolist(),
                              self.participation.tolist(), self.position_change.tolist()):
            out.append(f"{ACTIONS[a]}: {HEDGE_REASONS[r]} (change {q:+,.0f} face, "
                       f"{100 * p:.2f}% of ADV, threshold {100 * self.small_fraction:.2f}%)")
        return out


def decide_hedges(position_change: ArrayLike, adv: ArrayLike, liquid: ArrayLike,
                  tier: ArrayLike, *, axe: ArrayLike = 0.0, internal_interest: ArrayLike = 0.0,
                  has_proxy: ArrayLike = False, small_fraction: float = 0.05) -> HedgeDecisions:
    """Vectorized hedge decision for each trade (see the module docstring for the rules).

    Parameters
    ----------
    position_change : array_like, shape (n,)
        Signed change of the desk's position (face).
    adv : array_like
        Average daily volume (face / day), ``> 0``.
    liquid : array_like of bool
    tier : array_like of int
        Client tier 1..3.
    axe : array_like, optional
        Desk axe (signed face, + = wants to buy).
    internal_interest : array_like, optional
        Face of offsetting client interest available to internalize, ``>= 0``.
    has_proxy : array_like of bool, optional
    small_fraction : float
        ``|change| / adv`` above which a trade is large.

    Returns
    -------
    HedgeDecisions

    Examples
    --------
    >>> h = decide_hedges([1e5, 5e6, 1e6, 1e6], 1e7, [True, True, False, True], [3, 3, 3, 2],
    ...                   has_proxy=[False, False, True, False], internal_interest=[0, 0, 0, 2e6])
    >>> h.action_names()
    ['offset', 'schedule', 'proxy', 'internalize']
    """
    q = as_float(position_change, "position_change", ndim=1)
    n = q.size
    shape = (n,)

    def bc(a: NDArray[np.generic], name: str) -> None:
        try:
            np.broadcast_shapes(a.shape, shape)
        except ValueError:
            raise ValueError(f"{name}: shape {a.shape} does not match position_change {shape}")\
                from None

    def fl(x: ArrayLike, name: str) -> FloatArray:
        a = as_float(x, name)
        bc(a, name)
        return np.broadcast_to(a, shape)

    def bo(x: ArrayLike, name: str) -> NDArray[np.bool_]:
        a = as_bool(x, name)
        bc(a, name)
        return np.broadcast_to(a, shape)

    ad = fl(adv, "adv")
    if not (ad > 0).all():
        raise ValueError("adv: must be > 0")
    liq = bo(liquid, "liquid")
    t0 = as_int(tier, "tier", low=1, high=4)
    bc(t0, "tier")
    t = np.broadcast_to(t0, shape)
    ax = fl(axe, "axe")
    ii = fl(internal_interest, "internal_interest")
    if (ii < 0).any():
        raise ValueError("internal_interest: must be >= 0")
    px = bo(has_proxy, "has_proxy")
    sf = scalar(small_fraction, "small_fraction", positive=True)
    aq = np.abs(q)
    part = aq / ad
    reason = np.zeros(n, dtype=np.int8)
    np.copyto(reason, 1, where=part > sf)
    np.copyto(reason, 2, where=~liq)
    np.copyto(reason, 3, where=~liq & px)
    np.copyto(reason, 5, where=ax * q > 0)
    np.copyto(reason, 4, where=(t == 2) & (ii >= aq))
    np.copyto(reason, 6, where=q == 0)
    return HedgeDecisions(_ACTION_OF_REASON.take(reason), reason, part, q, sf)


def min_variance_hedge_ratios(target_returns: ArrayLike,
                              hedge_returns: ArrayLike) -> tuple[FloatArray, float]:
    r"""Minimum-variance hedge ratios by least squares without intercept.

    Parameters
    ----------
    target_returns : array_like, shape (T,)
    hedge_returns : array_like, shape (T, K) or (T,) for one hedge

    Returns
    -------
    ratios : ndarray, shape (K,)
        Hedge positions per unit of target (short negative): a target whose returns are
        1.3 times its one hedge's gives ``[-1.3]``.
    variance_reduction : float
        :math:`1 - \operatorname{Var}(r_T + H h)/\operatorname{Var}(r_T)`.

    Notes
    -----
    :math:`\beta = \arg\min_b \lVert r_T - H b\rVert^2`, ratios :math:`h = -\beta`.

    References
    ----------
    .. [1] Ederington (1979), J. Finance 34(1).

    Examples
    --------
    >>> h = np.array([0.01, -0.02, 0.015, 0.003])
    >>> r, vr = min_variance_hedge_ratios(1.3 * h, h)
    >>> r.round(12).tolist(), round(vr, 12)
    ([-1.3], 1.0)
    """
    y = as_float(target_returns, "target_returns", ndim=1)
    h = as_float(hedge_returns, "hedge_returns")
    if h.ndim == 1:
        h = h[:, None]
    if h.ndim != 2 or h.shape[0] != y.size:
        raise ValueError(f"hedge_returns: expected shape ({y.size}, K) or ({y.size},), "
                         f"got {np.shape(hedge_returns)}")
    if y.size < 2 or h.shape[1] < 1:
        raise ValueError("target_returns: need at least 2 observations and one hedge")
    if not float(np.var(y)) > 0:
        raise ValueError("target_returns: zero variance")
    beta = np.linalg.lstsq(h, y, rcond=None)[0]
    ratios = np.asarray(-beta, dtype=np.float64)
    resid = y + h @ ratios
    vr = 1.0 - float(np.var(resid)) / float(np.var(y))
    if not (np.isfinite(ratios).all() and np.isfinite(vr)):
        raise ValueError("hedge_returns: ratios are not finite")
    return ratios, vr


def route_order(side: ArrayLike, mid: ArrayLike, price: ArrayLike, fee_bp: ArrayLike,
                fill_prob: ArrayLike, miss_cost_bp: ArrayLike = 0.0
                ) -> tuple[NDArray[np.intp], FloatArray]:
    r"""Pick the venue with the lowest expected all-in cost for each order.

    Parameters
    ----------
    side : array_like, shape (n,)
        +1 the desk buys, -1 it sells.
    mid : array_like, shape (n,)
        Fair value (price points), ``> 0``.
    price : array_like, shape (n, V)
        Executable price per venue; NaN = venue not available.
    fee_bp : array_like, shape (V,) or (n, V)
    fill_prob : array_like, shape (V,) or (n, V)
        In [0, 1].
    miss_cost_bp : array_like, shape () or (n,)
        Expected cost of not filling (re-hedging later), bp.

    Returns
    -------
    venue : ndarray of int, shape (n,)
        Best venue, -1 when none is available.
    cost_bp : ndarray, shape (n, V)
        Expected cost per venue (inf where unavailable).

    Notes
    -----
    .. math:: C_v = p_v\big(s(P_v - m)/m\cdot 10^4 + f_v\big) + (1 - p_v)\,c_{miss}

    Examples
    --------
    >>> v, c = route_order([1], [100.0], [[100.02, 100.01]], [0.5, 2.0], [0.9, 0.9])
    >>> int(v[0])
    0
    """
    s = as_float(side, "side", ndim=1)
    if not (np.abs(s) == 1).all():
        raise ValueError("side: must be +1 or -1")
    n = s.size
    m = as_float(mid, "mid", ndim=1, positive=True)
    if m.shape != (n,):
        raise ValueError(f"mid: expected shape ({n},), got {m.shape}")
    p = as_float(price, "price", ndim=2, allow_nan=True)
    if p.shape[0] != n or p.shape[1] < 1:
        raise ValueError(f"price: expected shape ({n}, V), got {p.shape}")
    shp = p.shape
    try:
        f = np.broadcast_to(as_float(fee_bp, "fee_bp"), shp)
    except ValueError:
        raise ValueError(f"fee_bp: does not broadcast to {shp}") from None
    try:
        fp = np.broadcast_to(as_float(fill_prob, "fill_prob"), shp)
    except ValueError:
        raise ValueError(f"fill_prob: does not broadcast to {shp}") from None
    if ((fp < 0) | (fp > 1)).any():
        raise ValueError("fill_prob: must be in [0, 1]")
    mc = as_float(miss_cost_bp, "miss_cost_bp")
    try:
        mc = np.broadcast_to(mc, (n,))
    except ValueError:
        raise ValueError(f"miss_cost_bp: expected a scalar or shape ({n},)") from None
    cost = fp * (s[:, None] * (p - m[:, None]) / m[:, None] * 1e4 + f) + (1 - fp) * mc[:, None]
    cost = np.where(np.isnan(p), np.inf, cost)
    venue = np.where(np.isfinite(cost).any(axis=1), cost.argmin(axis=1), -1).astype(np.intp)
    return venue, cost
