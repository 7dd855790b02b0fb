r"""Relationship scores for all clients at once (DESIGN.md section 5).

Units
-----
``notional`` and ``pnl`` in currency, ``markout_bp`` in bp signed by the dealer's side
(positive = good for the dealer).  Scores are on 0..100.

Each component is a percentile rank across the client base, ties averaged:

.. math:: \mathrm{pct}(x_c) = 100\,\frac{\bar r(x_c) - 1}{n - 1}

with :math:`\bar r` the average rank (1 = smallest); 50 when ``n == 1``.  Components:
volume (notional traded), profitability (realized P&L), flow quality (rank of
``-toxicity``: lower toxicity scores higher), diversification (number of asset classes
traded).  Default weights 0.25 / 0.35 / 0.30 / 0.10 (must sum to 1).

References
----------
.. [1] Hyndman, R. J. & Fan, Y. (1996), "Sample quantiles in statistical packages",
   Amer. Statist. 50(4) (percentile ranks).
.. [2] Fermanian, Guéant & Pu (2017) (client segmentation by hit ratio and flow).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata  # type: ignore[import-untyped]

from ._validation import as_float, as_int, check_len, scalar

__all__ = ["DEFAULT_WEIGHTS", "ClientAggregates", "RelationshipScores", "aggregate_trades",
           "percentile_rank", "relationship_scores", "suggest_tier"]

FloatArray = NDArray[np.float64]
DEFAULT_WEIGHTS: tuple[float, float, float, float] = (0.25, 0.35, 0.30, 0.10)


@dataclass(frozen=True)
class ClientAggregates:
    """Per-client inputs of the score (length ``n_clients``)."""

    volume: FloatArray
    pnl: FloatArray
    toxicity_bp: FloatArray
    n_asset_classes: NDArray[np.intp]
    n_trades: NDArray[np.intp]


@dataclass(frozen=True)
class RelationshipScores:
    """Total score and the four component percentiles (0..100)."""

    score: FloatArray
    volume: FloatArray
    profitability: FloatArray
    flow_quality: FloatArray
    diversification: FloatArray


def aggregate_trades(client_idx: ArrayLike, notional: ArrayLike, pnl: ArrayLike,
                     markout_bp: ArrayLike, asset_class_idx: ArrayLike, n_clients: int,
                     n_asset_classes: int) -> ClientAggregates:
    r"""Per-client volume, P&L, toxicity and asset-class count by weighted bincounts.

    Notes
    -----
    :math:`V_c = \sum |N_j|`, :math:`\Pi_c = \sum \pi_j`,
    :math:`\tau_c = -\sum |N_j| M_j / V_c` (0 without trades),
    :math:`D_c = \#\{a : c \text{ traded } a\}`.

    Examples
    --------
    >>> a = aggregate_trades([0, 0, 1], [1e6, 3e6, 2e6], [100.0, -50.0, 20.0],
    ...                      [2.0, -2.0, 1.0], [0, 1, 1], 3, 2)
    >>> a.volume.tolist(), a.toxicity_bp.tolist(), a.n_asset_classes.tolist()
    ([4000000.0, 2000000.0, 0.0], [1.0, -1.0, 0.0], [2, 1, 0])
    """
    nc = int(scalar(n_clients, "n_clients", nonneg=True))
    na = int(scalar(n_asset_classes, "n_asset_classes", positive=True))
    ci = as_int(client_idx, "client_idx", ndim=1, low=0, high=max(nc, 1))
    n = ci.size
    w = as_float(notional, "notional", ndim=1)
    check_len(w, "notional", n)
    pl = as_float(pnl, "pnl", ndim=1)
    check_len(pl, "pnl", n)
    mb = as_float(markout_bp, "markout_bp", ndim=1)
    check_len(mb, "markout_bp", n)
    ac = as_int(asset_class_idx, "asset_class_idx", ndim=1, low=0, high=na)
    check_len(ac, "asset_class_idx", n)
    return _aggregate(ci, np.abs(w), pl, mb, ac, nc, na)


def _aggregate(ci: NDArray[np.intp], w: FloatArray, pl: FloatArray, mb: FloatArray,
               ac: NDArray[np.intp], nc: int, na: int) -> ClientAggregates:
    vol = np.bincount(ci, weights=w, minlength=nc).astype(np.float64)
    pnl = np.bincount(ci, weights=pl, minlength=nc).astype(np.float64)
    wm = np.bincount(ci, weights=w * mb, minlength=nc)
    tox = np.divide(-wm, vol, out=np.zeros(nc), where=vol > 0)
    key = ci * na
    key += ac
    pairs = np.bincount(key, minlength=nc * na).reshape(nc, na)
    ntr = pairs.sum(axis=1)
    div = np.count_nonzero(pairs, axis=1)
    return ClientAggregates(vol, pnl, tox, div.astype(np.intp), ntr.astype(np.intp))


def percentile_rank(x: ArrayLike) -> FloatArray:
    """Percentile rank on 0..100 with ties averaged (see the module docstring).

    Examples
    --------
    >>> percentile_rank([10.0, 20.0, 20.0, 30.0]).tolist()
    [0.0, 50.0, 50.0, 100.0]
    """
    a = as_float(x, "x", ndim=1)
    return _pct(a)


def _pct(a: FloatArray) -> FloatArray:
    n = a.size
    if n == 1:
        return np.full(1, 50.0)
    r = np.asarray(rankdata(a, method="average"), dtype=np.float64)
    out: FloatArray = (r - 1.0) * (100.0 / max(n - 1, 1))
    return out


def relationship_scores(volume: ArrayLike, pnl: ArrayLike, toxicity_bp: ArrayLike,
                        n_asset_classes: ArrayLike,
                        weights: tuple[float, float, float, float] = DEFAULT_WEIGHTS
                        ) -> RelationshipScores:
    r"""Relationship score of every client.

    Parameters
    ----------
    volume, pnl, toxicity_bp, n_asset_classes : array_like, shape (n,)
        Per-client inputs (see :func:`aggregate_trades`).
    weights : 4 floats
        Volume, profitability, flow quality, diversification; ``>= 0``, sum to 1.

    Returns
    -------
    RelationshipScores

    Notes
    -----
    .. math:: S = w_V\,\mathrm{pct}(V) + w_\Pi\,\mathrm{pct}(\Pi) + w_Q\,\mathrm{pct}(-\tau)
              + w_D\,\mathrm{pct}(D)

    References
    ----------
    .. [1] Hyndman & Fan (1996).

    Examples
    --------
    >>> s = relationship_scores([1.0, 2.0], [1.0, 2.0], [1.0, 0.0], [1, 2])
    >>> s.score.tolist()
    [0.0, 100.0]
    """
    v = as_float(volume, "volume", ndim=1, nonneg=True)
    n = v.size
    p = as_float(pnl, "pnl", ndim=1)
    check_len(p, "pnl", n)
    t = as_float(toxicity_bp, "toxicity_bp", ndim=1)
    check_len(t, "toxicity_bp", n)
    d = as_float(n_asset_classes, "n_asset_classes", ndim=1, nonneg=True)
    check_len(d, "n_asset_classes", n)
    w = as_float(weights, "weights", ndim=1, nonneg=True)
    if w.shape != (4,):
        raise ValueError(f"weights: expected 4 weights, got {w.shape}")
    if abs(float(w.sum()) - 1.0) > 1e-9:
        raise ValueError(f"weights: must sum to 1, got {float(w.sum())}")
    if n == 0:
        e = np.zeros(0)
        return RelationshipScores(e, e, e, e, e)
    cv, cp, cq, cd = _pct(v), _pct(p), _pct(-t), _pct(d)
    score = w[0] * cv + w[1] * cp + w[2] * cq + w[3] * cd
    return RelationshipScores(score, cv, cp, cq, cd)


def suggest_tier(score: ArrayLike, thresholds: tuple[float, float] = (70.0, 40.0)
                 ) -> NDArray[np.int8]:
    """Tier from the score: ``>= thresholds[0]`` tier 1, ``>= thresholds[1]`` tier 2, else 3.

    Examples
    --------
    >>> suggest_tier([85.0, 70.0, 55.0, 10.0]).tolist()
    [1, 1, 2, 3]
    """
    s = as_float(score, "score")
    th = as_float(thresholds, "thresholds", ndim=1)
    if th.shape != (2,) or not th[0] >= th[1]:
        raise ValueError("thresholds: expected (tier1_min, tier2_min) with tier1_min >= tier2_min")
    out: NDArray[np.int8] = np.where(s >= th[0], 1, np.where(s >= th[1], 2, 3)).astype(np.int8)
    return out
