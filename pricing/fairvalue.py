r"""Composite fair value: a vectorized local-level Kalman filter over instruments.

Units
-----
Prices (``mid``, ``obs_price``) in price points; variances (``var``, ``obs_var``) in
price points squared; times in seconds; ``q_per_s`` the random-walk variance rate of
the fair value, price points squared per second.  The standard error of the mid at
time ``t`` is :math:`\sqrt{P + q\,(t - t_{last})}`: it grows with the time since the
last observation and shrinks after one.  In stress use a bigger ``q_per_s``; with
fewer prints the error widens further.

Observations of differing quality enter through ``obs_var``: a trade print of size
``n`` has variance ``trade_var * ref_size / n`` and a venue quote of half-spread ``h``
and quality ``w`` in (0, 1] has variance ``h^2 / w`` (:func:`observation_variance`).

References
----------
.. [1] Harvey, A. C. (1989), *Forecasting, Structural Time Series Models and the
   Kalman Filter*, ch. 3 (the local-level model).
.. [2] Durbin, J. & Koopman, S. J. (2012), *Time Series Analysis by State Space
   Methods*, 2nd ed., ch. 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_float, as_int, check_len

__all__ = ["FairValueState", "kalman_update", "standard_error", "filter_observations",
           "observation_variance"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class FairValueState:
    """Filter state per instrument (arrays of length M).

    Attributes
    ----------
    mid : fair value (price points).
    var : its variance at ``t_last`` (price points squared).
    t_last : time of the last update (s).
    """

    mid: FloatArray
    var: FloatArray
    t_last: FloatArray


def _check_state(mid: ArrayLike, var: ArrayLike, t_last: ArrayLike) -> tuple[FloatArray, ...]:
    m = as_float(mid, "mid", ndim=1, allow_nan=True)
    v = as_float(var, "var", ndim=1, allow_inf=True, nonneg=True)
    t = as_float(t_last, "t_last", ndim=1)
    check_len(v, "var", m.size)
    check_len(t, "t_last", m.size)
    return m, v, t


def kalman_update(mid: ArrayLike, var: ArrayLike, t_last: ArrayLike, obs_price: ArrayLike,
                  obs_var: ArrayLike, t_obs: ArrayLike, q_per_s: ArrayLike) -> FairValueState:
    r"""One predict-and-update step of the local-level filter for every instrument.

    Parameters
    ----------
    mid, var, t_last : array_like, shape (M,)
        Current state; ``mid`` may be NaN (no prior: the first observation is taken as
        is) with ``var = inf``.
    obs_price : array_like, shape (M,)
        Observed price per instrument; NaN means no observation (predict only).
    obs_var : array_like, shape (M,)
        Observation variance, ``> 0`` (ignored where ``obs_price`` is NaN).
    t_obs : array_like, shape (M,) or scalar
        Observation time (s), ``>= t_last``.
    q_per_s : array_like, shape (M,) or scalar
        Random-walk variance rate, ``>= 0``.

    Returns
    -------
    FairValueState
        At ``t_obs``.

    Notes
    -----
    Predict :math:`P^- = P + q\,(t - t_{last})`; update with gain
    :math:`K = P^-/(P^- + R)`: :math:`m^+ = m + K(y - m)`, :math:`P^+ = (1-K)P^- =
    P^-R/(P^- + R)`.

    References
    ----------
    .. [1] Harvey (1989), ch. 3; Durbin & Koopman (2012), ch. 2.

    Examples
    --------
    >>> s = kalman_update([100.0], [0.04], [0.0], [101.0], [0.04], 0.0, 0.0)
    >>> float(s.mid[0]), round(float(s.var[0]), 12)
    (100.5, 0.02)
    """
    m, v, t = _check_state(mid, var, t_last)
    n = m.size
    y = as_float(obs_price, "obs_price", ndim=1, allow_nan=True)
    check_len(y, "obs_price", n)
    r = np.broadcast_to(as_float(obs_var, "obs_var", allow_nan=True), (n,))
    has = ~np.isnan(y)
    if not (r[has] > 0).all() or not np.isfinite(r[has]).all():
        raise ValueError("obs_var: must be finite and > 0 where obs_price is given")
    to = np.broadcast_to(as_float(t_obs, "t_obs"), (n,))
    if (to < t).any():
        raise ValueError("t_obs: earlier than t_last")
    qq = np.broadcast_to(as_float(q_per_s, "q_per_s", nonneg=True), (n,))
    if (np.isnan(m) & ~has & np.isfinite(v)).any():
        raise ValueError("mid: NaN with a finite var")
    return _kalman(m, v, t, y, r, to, qq, has)


def _kalman(m: FloatArray, v: FloatArray, t: FloatArray, y: FloatArray, r: FloatArray,
            to: FloatArray, q: FloatArray, has: NDArray[np.bool_]) -> FairValueState:
    vp = v + q * (to - t)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(np.isinf(vp), 1.0, vp / (vp + r))
        vpost = np.where(np.isinf(vp), r, vp * r / (vp + r))
    prior = np.where(np.isnan(m), y, m)
    new_mid = np.where(has, prior + k * (y - prior), m)
    new_var = np.where(has, vpost, vp)
    return FairValueState(new_mid, new_var, to.astype(np.float64, copy=True))


def standard_error(state: FairValueState, t: ArrayLike, q_per_s: ArrayLike) -> FloatArray:
    r"""Standard error of the fair value at time ``t``: :math:`\sqrt{P + q(t - t_{last})}`.

    Examples
    --------
    >>> st = FairValueState(np.array([100.0]), np.array([0.01]), np.array([0.0]))
    >>> standard_error(st, 300.0, 1e-4).round(6).tolist()
    [0.2]
    """
    tt = as_float(t, "t")
    qq = as_float(q_per_s, "q_per_s", nonneg=True)
    dt = tt - state.t_last
    if (dt < 0).any():
        raise ValueError("t: earlier than the state's t_last")
    out: FloatArray = np.sqrt(state.var + qq * dt)
    return out


def filter_observations(state: FairValueState, instrument: ArrayLike, t_obs: ArrayLike,
                        obs_price: ArrayLike, obs_var: ArrayLike,
                        q_per_s: ArrayLike) -> FairValueState:
    """Run the filter over a stream of observations of many instruments.

    Observations are sorted by (instrument, time) and processed in rounds: round ``k``
    updates every instrument with its ``k``-th observation in one vectorized step, so
    the cost is O(max observations per instrument) array operations.

    Parameters
    ----------
    state : FairValueState
        Initial state (length M).
    instrument : array_like of int, shape (n,)
        Instrument of each observation.
    t_obs, obs_price, obs_var : array_like, shape (n,)
        Time (``>= state.t_last`` of the instrument), price and variance (``> 0``).
    q_per_s : array_like, shape (M,) or scalar

    Returns
    -------
    FairValueState

    Examples
    --------
    >>> st = FairValueState(np.full(2, np.nan), np.full(2, np.inf), np.zeros(2))
    >>> out = filter_observations(st, [0, 1, 0], [1.0, 1.0, 2.0], [100.0, 50.0, 101.0],
    ...                           [1.0, 1.0, 1.0], 0.0)
    >>> out.mid.tolist(), out.var.tolist()
    ([100.5, 50.0], [0.5, 1.0])
    """
    m = state.mid.size
    inst = as_int(instrument, "instrument", ndim=1, low=0, high=max(m, 1))
    n = inst.size
    t = as_float(t_obs, "t_obs", ndim=1)
    y = as_float(obs_price, "obs_price", ndim=1)
    r = as_float(obs_var, "obs_var", ndim=1, positive=True)
    for a, name in ((t, "t_obs"), (y, "obs_price"), (r, "obs_var")):
        check_len(a, name, n)
    qq = np.broadcast_to(as_float(q_per_s, "q_per_s", nonneg=True), (m,))
    if n and (t < state.t_last[inst]).any():
        raise ValueError("t_obs: earlier than the state's t_last")
    order = np.lexsort((t, inst))
    inst, t, y, r = inst[order], t[order], y[order], r[order]
    counts = np.bincount(inst, minlength=m)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(n) - starts[inst]
    cur = state
    for k in range(int(counts.max(initial=0))):
        sel = rank == k
        ii = inst[sel]
        yy = np.full(m, np.nan)
        yy[ii] = y[sel]
        rr = np.ones(m)
        rr[ii] = r[sel]
        tt = cur.t_last.copy()
        tt[ii] = t[sel]
        cur = _kalman(cur.mid, cur.var, cur.t_last, yy, rr, tt, qq, ~np.isnan(yy))
    return cur


def observation_variance(kind: ArrayLike, size: ArrayLike, half_spread: ArrayLike,
                         trade_var: float, ref_size: float,
                         quality: ArrayLike = 1.0) -> FloatArray:
    r"""Observation variance of trade prints (``kind == 0``) and venue quotes (``kind == 1``).

    Notes
    -----
    Trade print: :math:`R = \sigma_T^2 \cdot n_{ref} / n` (small prints are noisier).
    Venue quote: :math:`R = h^2 / w`, half-spread ``h`` (price points), quality ``w`` in
    (0, 1] (1 = firm, executable).

    Examples
    --------
    >>> observation_variance([0, 1], [1e6, 0.0], [0.0, 0.1], 0.01, 1e6, [1.0, 0.5]).round(12).tolist()
    [0.01, 0.02]
    """
    k = as_int(kind, "kind", low=0, high=2)
    n = as_float(size, "size", nonneg=True)
    h = as_float(half_spread, "half_spread", nonneg=True)
    w = as_float(quality, "quality", positive=True)
    if (w > 1).any():
        raise ValueError("quality: must be in (0, 1]")
    tv = float(as_float(trade_var, "trade_var", positive=True))
    rs = float(as_float(ref_size, "ref_size", positive=True))
    try:
        np.broadcast_shapes(k.shape, n.shape, h.shape, w.shape)
    except ValueError:
        raise ValueError("size: shapes do not broadcast") from None
    with np.errstate(divide="ignore"):
        trade = tv * rs / n
        quote = h * h / w
    out: FloatArray = np.where(k == 0, trade, quote)
    if not (np.isfinite(out) & (out > 0)).all():
        raise ValueError("size: trade prints need size > 0 and quotes a half_spread > 0")
    return out
