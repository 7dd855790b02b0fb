r"""Tiered RFQ quote model (DESIGN.md section 4) and the GLFT closed form.

Conventions and units
---------------------
* Prices (``mid``, ``mid_se``, quote ``price``) are in price points (100 = par).
* Sizes (``quantity``, ``adv``, ``position``, ``axe``, ``auto_size``, ``max_size``)
  are face amounts; the notional of a face amount is ``face * mid / 100`` (currency).
* ``side`` is the *client's* side: ``+1`` client buys (the dealer offers, price above
  mid), ``-1`` client sells (the dealer bids, price below mid).
* Every quote component is in bp of price and is "added to the dealer's side of the
  mid", positive widening the quote for the client:

  .. math:: P = m + s \cdot \frac{m}{10^4}\sum_c c_{\mathrm{bp}}, \qquad s = \mathrm{side}.

Components (tier ``t``, asset class ``a`` of instrument ``i``, size ``q``)::

    base         = base_spread_bp[t, a]
    liquidity    = base * (liquidity_factor_i - 1)
    volatility   = k_vol[t, a] * sigma_daily_i * 1e4 * sqrt(holding_days_i)
    impact       = impact_y[t, a] * sigma_daily_i * 1e4 * sqrt(q / adv_i)
    hedge        = hedge_cost_bp_i
    funding      = funding_bp_per_day_i * holding_days_i
    uncertainty  = z_uncertainty[t, a] * 1e4 * mid_se_i / mid_i
    stress       = stress_addon_bp[t, a] * stress_i
    skew         = 1e4 * gamma * (-s * (Sigma x)_i + Sigma_ii * n / 2),   n = q * mid_i / 100
    axe          = -min(axe_max_bp[t, a] * f, axe_share * (base + liquidity))
    signal       = s * signal_bp_i        (tiers 1 and 2; 0 for tier 3)
    agreement    = clip(agreement_bp, agreement_min_bp[t, a], agreement_max_bp[t, a])

``skew`` is the marginal inventory-risk cost :math:`\gamma(\Sigma x)_i\Delta +
\frac{\gamma}{2}\Sigma_{ii}\Delta^2` of the desk's position change
:math:`\Delta = -s\,n` (currency notional), divided by :math:`|\Delta|` and expressed in
bp: a long desk (:math:`(\Sigma x)_i > 0`) lowers both its bid and its offer.
``f`` is the fraction of the trade that moves the book toward the desk's axe
(:func:`pricing.risk.axe_alignment`).  ``BookArrays.sigma_x`` is :math:`\Sigma x` with
``x`` the currency notional positions and ``Sigma`` the return covariance over the
risk horizon, so ``sigma_x`` is in currency and ``gamma`` in 1 / currency.

Decisions: 0 auto quote, 1 review, 2 decline, with the first matching reason of
``over_max_size`` (decline), ``over_credit_line`` (notional above ``credit_available``,
decline), ``kill_switch`` (review), ``tier1_review`` (review), ``over_auto_size``
(review), else ``auto``.

References
----------
.. [1] Guéant, O., Lehalle, C.-A. & Fernandez-Tapia, J. (2013), "Dealing with the
   inventory risk: a solution to the market making problem", Math. Financ. Econ. 7, 477-507.
.. [2] Guéant, O. (2017), "Optimal market making", Appl. Math. Finance 24(2), 112-154.
.. [3] Bergault, P., Evangelista, D., Guéant, O. & Vieira, D. (2021), "Closed-form
   approximations in multi-asset market making", Appl. Math. Finance 28(2), 101-142.
.. [4] Bouchaud, Bonart, Donier & Gould (2018), *Trades, Quotes and Prices* (square-root law).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import as_bool, as_float, as_int, check_len, check_pd, scalar

__all__ = [
    "MarketArrays",
    "BookArrays",
    "TierTable",
    "RfqArrays",
    "QuoteBatch",
    "SingleQuote",
    "GlftSetup",
    "COMPONENTS",
    "REASONS",
    "DECISIONS",
    "quote_batch",
    "quote_one",
    "size_ladder",
    "default_tier_table",
    "glft_half_spreads",
    "glft_equivalent",
]

FloatArray = NDArray[np.float64]

COMPONENTS: tuple[str, ...] = (
    "base", "liquidity", "volatility", "impact", "hedge", "funding", "uncertainty",
    "stress", "skew", "axe", "signal", "agreement",
)
"""Names of the quote components, in the order they are summed."""

REASONS: tuple[str, ...] = (
    "auto", "over_max_size", "over_credit_line", "kill_switch", "tier1_review", "over_auto_size",
)
"""Reason codes; ``QuoteBatch.reason`` holds indices into this tuple."""

DECISIONS: tuple[str, ...] = ("auto", "review", "decline")
"""Decision codes 0, 1, 2."""

_DECISION_OF_REASON = np.array([0, 2, 2, 1, 1, 1], dtype=np.int8)
_DECISION_OF_REASON_LIST: list[int] = _DECISION_OF_REASON.tolist()


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _frozen(obj: object, name: str, value: NDArray[Any]) -> None:
    """Store a read-only copy (the quote model caches terms derived from it)."""
    a = np.array(value, copy=True)
    a.setflags(write=False)
    object.__setattr__(obj, name, a)


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class MarketArrays:
    """Per-instrument market inputs, each of length M (validated on construction).

    Attributes
    ----------
    mid, mid_se : price points; ``mid > 0``, ``mid_se >= 0`` (fair value and its s.e.).
    sigma_daily : daily return volatility (fraction / day), ``>= 0``.
    adv : average daily volume (face / day), ``> 0``.
    liquidity_factor : multiplier of the base spread, ``>= 1``.
    asset_class : int index into the tier table's columns.
    hedge_cost_bp : expected hedge cost (bp), ``>= 0``.
    funding_bp_per_day : funding / carry cost (bp / day), ``>= 0``.
    holding_days : expected holding period (days), ``>= 0``; also the volatility horizon.
    signal_bp : expected price drift over the quote's life (bp, + = price up).
    stress : bool per instrument or one scalar.
    """

    mid: FloatArray
    mid_se: FloatArray
    sigma_daily: FloatArray
    adv: FloatArray
    liquidity_factor: FloatArray
    asset_class: NDArray[np.intp]
    hedge_cost_bp: FloatArray
    funding_bp_per_day: FloatArray
    holding_days: FloatArray
    signal_bp: FloatArray
    stress: NDArray[np.bool_] | bool = False

    def __post_init__(self) -> None:
        mid = as_float(self.mid, "mid", ndim=1, positive=True)
        m = mid.size
        _frozen(self, "mid", mid)
        for name, kw in (("mid_se", {"nonneg": True}), ("sigma_daily", {"nonneg": True}),
                         ("adv", {"positive": True}), ("liquidity_factor", {}),
                         ("hedge_cost_bp", {"nonneg": True}),
                         ("funding_bp_per_day", {"nonneg": True}),
                         ("holding_days", {"nonneg": True}), ("signal_bp", {})):
            a = as_float(getattr(self, name), name, ndim=1, **kw)
            check_len(a, name, m)
            _frozen(self, name, a)
        if (self.liquidity_factor < 1).any():
            raise ValueError("liquidity_factor: must be >= 1")
        ac = as_int(self.asset_class, "asset_class", ndim=1, low=0)
        check_len(ac, "asset_class", m)
        _frozen(self, "asset_class", ac)
        st = as_bool(self.stress, "stress")
        if st.ndim == 0:
            st = np.full(m, bool(st))
        check_len(st, "stress", m)
        _frozen(self, "stress", st)

    @property
    def n_instruments(self) -> int:
        """Number of instruments M."""
        return int(self.mid.size)



@dataclass(frozen=True)
class BookArrays:
    """The desk's book, length M (validated on construction).

    Attributes
    ----------
    position : signed face per instrument (long +).
    sigma_x : :math:`\\Sigma x` with x the currency notional positions
        (``position * mid / 100``) and :math:`\\Sigma` the return covariance over the
        risk horizon; currency.  Use :meth:`from_covariance` to build it.
    sigma_diag : :math:`\\Sigma_{ii}`, ``>= 0``.
    gamma : risk aversion, 1 / currency, ``>= 0``.
    axe : signed face the desk wants to buy (+) or sell (-); 0 for none.
    """

    position: FloatArray
    sigma_x: FloatArray
    sigma_diag: FloatArray
    gamma: float
    axe: FloatArray

    def __post_init__(self) -> None:
        pos = as_float(self.position, "position", ndim=1)
        _frozen(self, "position", pos)
        for name, kw in (("sigma_x", {}), ("sigma_diag", {"nonneg": True}), ("axe", {})):
            a = as_float(getattr(self, name), name, ndim=1, **kw)
            check_len(a, name, pos.size)
            _frozen(self, name, a)
        _set(self, "gamma", scalar(self.gamma, "gamma", nonneg=True))

    @classmethod
    def from_covariance(cls, position: ArrayLike, mid: ArrayLike, cov: ArrayLike, gamma: float,
                        axe: ArrayLike | None = None) -> BookArrays:
        """Build the book from positions (face), mids (price points) and a return covariance.

        ``cov`` must be symmetric positive definite (``ValueError`` naming ``cov``
        otherwise); see :func:`pricing.risk.factor_covariance` and
        :func:`pricing.risk.ledoit_wolf` for estimates that are.
        """
        pos = as_float(position, "position", ndim=1)
        m = as_float(mid, "mid", ndim=1, positive=True)
        check_len(m, "mid", pos.size)
        c = as_float(cov, "cov", ndim=2)
        if c.shape != (pos.size, pos.size):
            raise ValueError(f"cov: expected shape {(pos.size, pos.size)}, got {c.shape}")
        check_pd(c, "cov")
        ax = np.zeros(pos.size) if axe is None else np.asarray(axe, dtype=np.float64)
        return cls(pos, c @ (pos * m / 100.0), np.diag(c).copy(), gamma, ax)



_TIER_FIELDS = ("base_spread_bp", "k_vol", "impact_y", "z_uncertainty", "stress_addon_bp",
                "axe_max_bp", "agreement_min_bp", "agreement_max_bp", "auto_size", "max_size")


@dataclass(frozen=True)
class TierTable:
    """Per tier and asset class parameters, every array of shape (3, A), row ``tier - 1``.

    Attributes
    ----------
    base_spread_bp : base half-spread (bp), ``> 0``.
    k_vol : multiple of the horizon volatility added (dimensionless), ``>= 0``.
    impact_y : square-root impact prefactor Y, ``>= 0``.
    z_uncertainty : multiple of the fair-value s.e. added, ``>= 0``.
    stress_addon_bp : add-on in stress (bp), ``>= 0``.
    axe_max_bp : largest axe improvement (bp), ``>= 0``.
    agreement_min_bp, agreement_max_bp : bounds of the client's agreement adjustment (bp);
        ``agreement_min_bp > -(1 - axe_share) * base_spread_bp`` so that a quote's two
        sides never cross.
    auto_size, max_size : face; above ``auto_size`` review, above ``max_size`` decline
        (``inf`` allowed).
    axe_share : float in [0, 1), cap of the axe improvement as a share of
        ``base + liquidity``.
    """

    base_spread_bp: FloatArray
    k_vol: FloatArray
    impact_y: FloatArray
    z_uncertainty: FloatArray
    stress_addon_bp: FloatArray
    axe_max_bp: FloatArray
    agreement_min_bp: FloatArray
    agreement_max_bp: FloatArray
    auto_size: FloatArray
    max_size: FloatArray
    axe_share: float = 0.5

    def __post_init__(self) -> None:
        base = as_float(self.base_spread_bp, "base_spread_bp", ndim=2, positive=True)
        if base.shape[0] != 3 or base.shape[1] < 1:
            raise ValueError(f"base_spread_bp: expected shape (3, A), got {base.shape}")
        _frozen(self, "base_spread_bp", base)
        for name in _TIER_FIELDS[1:]:
            sizes = name in ("auto_size", "max_size")
            a = as_float(getattr(self, name), name, ndim=2, allow_inf=sizes,
                         nonneg=not name.startswith("agreement"))
            if a.shape != base.shape:
                raise ValueError(f"{name}: expected shape {base.shape}, got {a.shape}")
            _frozen(self, name, a)
        share = scalar(self.axe_share, "axe_share", nonneg=True)
        if share >= 1:
            raise ValueError("axe_share: must be < 1")
        _set(self, "axe_share", share)
        if (self.agreement_min_bp > self.agreement_max_bp).any():
            raise ValueError("agreement_min_bp: must be <= agreement_max_bp")
        if (self.agreement_min_bp <= -(1 - share) * base).any():
            raise ValueError("agreement_min_bp: must be > -(1 - axe_share) * base_spread_bp")
        if (self.auto_size > self.max_size).any():
            raise ValueError("auto_size: must be <= max_size")

    @property
    def n_asset_classes(self) -> int:
        """Number of asset classes A."""
        return int(self.base_spread_bp.shape[1])

    def is_monotone(self) -> bool:
        """True when every spread parameter is non-decreasing from tier 1 to tier 3 and
        ``axe_max_bp`` non-increasing, which makes Tier 1 <= Tier 2 <= Tier 3 spreads."""
        ok = True
        for name in _TIER_FIELDS[:5] + ("agreement_min_bp", "agreement_max_bp"):
            ok &= bool((np.diff(getattr(self, name), axis=0) >= 0).all())
        ok &= bool((np.diff(self.axe_max_bp, axis=0) <= 0).all())
        return ok

    @cached_property
    def _table(self) -> FloatArray:
        """Shape (11, 3A): fields in ``_TIER_FIELDS`` order then the signal flag; column
        ``(tier-1)*A + asset_class``."""
        rows = [np.asarray(getattr(self, n)).reshape(-1) for n in _TIER_FIELDS]
        flag = np.repeat(np.array([1.0, 1.0, 0.0]), self.n_asset_classes)
        return np.stack(rows[:8] + [flag] + rows[8:])



def default_tier_table(n_asset_classes: int) -> TierTable:
    """A monotone default tier table (Tier 1 tightest) for ``n_asset_classes`` classes.

    Base spreads 4 / 6 / 10 bp times ``1 + 0.5 * asset_class``; automatic sizes 5M / 2M /
    1M face, maximum sizes 50M / 25M / 10M face; agreement bounds [-1.5, 2], [-1, 2],
    [-0.5, 2] bp.

    Examples
    --------
    >>> t = default_tier_table(2)
    >>> t.base_spread_bp.tolist(), t.is_monotone()
    ([[4.0, 6.0], [6.0, 9.0], [10.0, 15.0]], True)
    """
    if isinstance(n_asset_classes, bool) or int(n_asset_classes) != n_asset_classes \
            or n_asset_classes < 1:
        raise ValueError("n_asset_classes: must be an integer >= 1")
    a = int(n_asset_classes)
    scale = 1.0 + 0.5 * np.arange(a)

    def col(v: tuple[float, float, float], scaled: bool = False) -> FloatArray:
        c = np.array(v, dtype=np.float64)[:, None]
        return c * scale if scaled else np.repeat(c, a, axis=1)

    return TierTable(
        base_spread_bp=col((4.0, 6.0, 10.0), True),
        k_vol=col((0.05, 0.075, 0.1)),
        impact_y=col((0.4, 0.5, 0.6)),
        z_uncertainty=col((0.5, 0.75, 1.0)),
        stress_addon_bp=col((5.0, 7.5, 10.0), True),
        axe_max_bp=col((3.0, 2.0, 1.0)),
        agreement_min_bp=col((-1.5, -1.0, -0.5)),
        agreement_max_bp=col((2.0, 2.0, 2.0)),
        auto_size=col((5e6, 2e6, 1e6)),
        max_size=col((50e6, 25e6, 10e6)),
    )


@dataclass(frozen=True)
class RfqArrays:
    """A batch of N RFQs (validated on construction).

    Attributes
    ----------
    instrument : int index into the market arrays.
    side : +1 client buys, -1 client sells.
    quantity : face, ``> 0``.
    tier : 1, 2 or 3.
    agreement_bp : the client's agreed spread adjustment (bp; clipped to tier bounds).
    credit_available : notional headroom (currency), ``>= 0``, ``inf`` for no line.
    kill : kill switch per RFQ (sends to review).
    """

    instrument: NDArray[np.intp]
    side: FloatArray
    quantity: FloatArray
    tier: NDArray[np.intp]
    agreement_bp: FloatArray
    credit_available: FloatArray
    kill: NDArray[np.bool_]

    def __post_init__(self) -> None:
        inst = as_int(self.instrument, "instrument", ndim=1, low=0)
        n = inst.size
        _set(self, "instrument", inst)
        side = np.asarray(self.side)
        if side.shape != (n,):
            raise ValueError(f"side: expected shape ({n},), got {side.shape}")
        sf = as_float(side, "side")
        if not (np.abs(sf) == 1.0).all():
            raise ValueError("side: must be +1 (client buys) or -1 (client sells)")
        _set(self, "side", sf)
        q = as_float(self.quantity, "quantity", ndim=1, positive=True)
        check_len(q, "quantity", n)
        _set(self, "quantity", q)
        t = as_int(self.tier, "tier", ndim=1, low=1, high=4)
        check_len(t, "tier", n)
        _set(self, "tier", t)
        ag = as_float(self.agreement_bp, "agreement_bp", ndim=1)
        check_len(ag, "agreement_bp", n)
        _set(self, "agreement_bp", ag)
        cr = as_float(self.credit_available, "credit_available", ndim=1, allow_inf=True,
                      nonneg=True)
        check_len(cr, "credit_available", n)
        _set(self, "credit_available", cr)
        k = as_bool(self.kill, "kill")
        check_len(k, "kill", n)
        _set(self, "kill", k)

    def __len__(self) -> int:
        return int(self.instrument.size)


# --------------------------------------------------------------------------- outputs
@dataclass(frozen=True)
class QuoteBatch:
    """Quotes for a batch of RFQs, arrays of length N.

    Attributes
    ----------
    price : quoted price (price points).
    half_spread_bp : sum of the components (bp, signed: the distance from mid on the
        dealer's side; may be negative when the skew dominates).
    components : dict of the 12 :data:`COMPONENTS`, each in bp.
    decision : int8, index into :data:`DECISIONS`.
    reason : int8, index into :data:`REASONS`.
    mid : mid used (price points).
    """

    price: FloatArray
    half_spread_bp: FloatArray
    components: dict[str, FloatArray]
    decision: NDArray[np.int8]
    reason: NDArray[np.int8]
    mid: FloatArray

    def reason_names(self) -> list[str]:
        """Reason of each RFQ as a string."""
        return [REASONS[r] for r in self.reason.tolist()]


@dataclass(frozen=True)
class SingleQuote:
    """One quote (plain Python scalars); fields as in :class:`QuoteBatch`."""

    price: float
    half_spread_bp: float
    components: dict[str, float]
    decision: int
    reason: str
    mid: float


# --------------------------------------------------------------------------- batch
# Rows of the prepared table, one column per (tier, side, instrument).
_R_MID, _R_BASE, _R_LIQ, _R_VOL, _R_IMPC, _R_HEDGE, _R_FUND, _R_UNC, _R_STRESS = range(9)
_R_SKEW_LIN, _R_G2, _R_AXE_A, _R_NAXE_MAX, _R_NCAP, _R_SIGNAL = range(9, 15)
_R_AMIN, _R_AMAX, _R_AUTO, _R_MAX, _R_SMID, _R_MIDC = range(15, 21)
_N_ROWS = 21


class _Prepared:
    """Per (tier, side, instrument) terms; built once per (market, book, tiers)."""

    __slots__ = ("m", "table", "_rows")

    def __init__(self, m: int, table: FloatArray) -> None:
        self.m = m
        self.table = table
        self._rows: list[list[float]] | None = None

    @property
    def rows(self) -> list[list[float]]:
        if self._rows is None:
            self._rows = self.table.T.tolist()
        return self._rows


_CACHE: list[tuple[MarketArrays, BookArrays, TierTable, _Prepared]] = []
_CACHE_SIZE = 4


def _prepared(market: MarketArrays, book: BookArrays, tiers: TierTable) -> _Prepared:
    for mk, bk, tt, prep in _CACHE:
        if mk is market and bk is book and tt is tiers:
            return prep
    _check_compat(market, book, tiers)
    prep = _prepare(market, book, tiers)
    _CACHE.insert(0, (market, book, tiers, prep))
    del _CACHE[_CACHE_SIZE:]
    return prep


def _prepare(market: MarketArrays, book: BookArrays, tiers: TierTable) -> _Prepared:
    m = market.n_instruments
    n_ac = tiers.n_asset_classes
    mid = market.mid
    hold = market.holding_days
    liqm1 = market.liquidity_factor - 1.0
    volbp = market.sigma_daily * 1e4 * np.sqrt(hold)
    impcoef = market.sigma_daily * 1e4 / np.sqrt(market.adv)
    sebp = market.mid_se / mid * 1e4
    stressf = np.asarray(market.stress, dtype=np.float64)
    funding = market.funding_bp_per_day * hold
    g = float(book.gamma)
    g1 = 1e4 * g * book.sigma_x
    g2 = 50.0 * g * book.sigma_diag * mid
    table = np.zeros((_N_ROWS, 8, m))
    for t in (1, 2, 3):
        tc = tiers._table[:, (t - 1) * n_ac + market.asset_class]
        base = tc[0]
        liquidity = base * liqm1
        for sb, sgn in ((0, -1.0), (1, 1.0)):
            c = table[:, 2 * t + sb]
            c[_R_MID] = mid
            c[_R_BASE] = base
            c[_R_LIQ] = liquidity
            c[_R_VOL] = tc[1] * volbp
            c[_R_IMPC] = tc[2] * impcoef
            c[_R_HEDGE] = market.hedge_cost_bp
            c[_R_FUND] = funding
            c[_R_UNC] = tc[3] * sebp
            c[_R_STRESS] = tc[4] * stressf
            c[_R_SKEW_LIN] = -sgn * g1
            c[_R_G2] = g2
            c[_R_AXE_A] = np.maximum(-sgn * book.axe, 0.0)
            c[_R_NAXE_MAX] = -tc[5]
            c[_R_NCAP] = -((base + liquidity) * tiers.axe_share)
            c[_R_SIGNAL] = sgn * tc[8] * market.signal_bp
            c[_R_AMIN] = tc[6]
            c[_R_AMAX] = tc[7]
            c[_R_AUTO] = tc[9]
            c[_R_MAX] = tc[10]
            c[_R_SMID] = sgn * mid * 1e-4
            c[_R_MIDC] = mid / 100.0
    return _Prepared(m, table.reshape(_N_ROWS, 8 * m))


# flags: 16 over max size, 8 over credit line, 4 kill, 2 tier 1, 1 over auto size
_REASON_LUT = np.array([next((code for bit, code in ((16, 1), (8, 2), (4, 3), (2, 4), (1, 5))
                              if f & bit), 0) for f in range(32)], dtype=np.int8)


def _check_compat(market: MarketArrays, book: BookArrays, tiers: TierTable) -> None:
    if not isinstance(market, MarketArrays):
        raise ValueError("market: expected MarketArrays")
    if not isinstance(book, BookArrays):
        raise ValueError("book: expected BookArrays")
    if not isinstance(tiers, TierTable):
        raise ValueError("tiers: expected TierTable")
    m = market.n_instruments
    if book.position.shape != (m,):
        raise ValueError(f"book: length {book.position.shape[0]} "
                         f"does not match market length {m}")
    if m and int(market.asset_class.max()) >= tiers.n_asset_classes:
        raise ValueError("market: asset_class outside the tier table's columns")


def quote_batch(rfqs: RfqArrays, market: MarketArrays, book: BookArrays,
                tiers: TierTable) -> QuoteBatch:
    """Price a batch of RFQs in one vectorized call.

    Parameters
    ----------
    rfqs : RfqArrays
        N requests.
    market : MarketArrays
        M instruments.
    book : BookArrays
        The desk's book over the same M instruments.
    tiers : TierTable
        Parameters by tier and asset class.

    Returns
    -------
    QuoteBatch

    Notes
    -----
    See the module docstring for every component's formula; the price is
    :math:`m + s\\,m\\,10^{-4}\\sum_c c`.  Every term that does not depend on the size
    is precomputed once per (market, book, tiers) triple (a small identity-keyed
    cache; the input arrays are read-only copies), so a batch costs one gather plus
    a few array operations per RFQ.

    References
    ----------
    .. [1] Guéant, O. (2017), "Optimal market making", Appl. Math. Finance 24(2).
    .. [2] Bergault, Evangelista, Guéant & Vieira (2021), "Closed-form approximations in
       multi-asset market making", Appl. Math. Finance 28(2).

    Examples
    --------
    >>> mk = MarketArrays([100.0], [0.0], [0.0], [1e7], [1.0], [0], [0.0], [0.0], [0.0], [0.0])
    >>> bk = BookArrays([0.0], [0.0], [0.0], 0.0, [0.0])
    >>> r = RfqArrays([0], [1], [1e6], [3], [0.0], [np.inf], [False])
    >>> q = quote_batch(r, mk, bk, default_tier_table(1))
    >>> round(float(q.price[0]), 6), int(q.decision[0])
    (100.1, 0)
    """
    if not isinstance(rfqs, RfqArrays):
        raise ValueError("rfqs: expected RfqArrays")
    prep = _prepared(market, book, tiers)
    inst = rfqs.instrument
    if inst.size and int(inst.max()) >= prep.m:
        raise ValueError("instrument: index out of range of the market arrays")
    return _quote_kernel(rfqs, prep)


def _quote_kernel(rfqs: RfqArrays, prep: _Prepared) -> QuoteBatch:
    s = rfqs.side
    q = rfqs.quantity
    tier = rfqs.tier
    col = tier * 2
    col += s > 0
    col *= prep.m
    col += rfqs.instrument
    tg = prep.table.take(col, axis=1)

    base = tg[_R_BASE]
    impact = np.sqrt(q)
    impact *= tg[_R_IMPC]
    skew = tg[_R_G2] * q
    skew += tg[_R_SKEW_LIN]
    axe = np.minimum(tg[_R_AXE_A], q)
    axe *= tg[_R_NAXE_MAX]
    axe /= q
    np.maximum(axe, tg[_R_NCAP], out=axe)
    agreement = np.maximum(rfqs.agreement_bp, tg[_R_AMIN])
    np.minimum(agreement, tg[_R_AMAX], out=agreement)
    comps = (base, tg[_R_LIQ], tg[_R_VOL], impact, tg[_R_HEDGE], tg[_R_FUND], tg[_R_UNC],
             tg[_R_STRESS], skew, axe, tg[_R_SIGNAL], agreement)
    total = base + comps[1]
    for c in comps[2:]:
        total += c
    mid = tg[_R_MID]
    price = total * tg[_R_SMID]
    price += mid

    qn = q * tg[_R_MIDC]
    f = np.greater(q, tg[_R_MAX]).view(np.uint8)
    f <<= 1
    f |= qn > rfqs.credit_available
    f <<= 1
    f |= rfqs.kill
    f <<= 1
    f |= tier == 1
    f <<= 1
    f |= q > tg[_R_AUTO]
    reason = _REASON_LUT.take(f)
    decision = _DECISION_OF_REASON.take(reason)
    return QuoteBatch(price, total, dict(zip(COMPONENTS, comps)), decision, reason, mid)


# --------------------------------------------------------------------------- scalar
def quote_one(*, instrument: int, side: int, quantity: float, tier: int, agreement_bp: float,
              credit_available: float, kill: bool, market: MarketArrays, book: BookArrays,
              tiers: TierTable) -> SingleQuote:
    """Price one RFQ with plain Python floats (the low-latency path).

    Same arguments as one row of :class:`RfqArrays`; same numbers as
    :func:`quote_batch` (the same precomputed terms and the same operations in the
    same order).

    Examples
    --------
    >>> mk = MarketArrays([100.0], [0.0], [0.0], [1e7], [1.0], [0], [0.0], [0.0], [0.0], [0.0])
    >>> bk = BookArrays([0.0], [0.0], [0.0], 0.0, [0.0])
    >>> q = quote_one(instrument=0, side=-1, quantity=1e6, tier=3, agreement_bp=0.0,
    ...               credit_available=float("inf"), kill=False, market=mk, book=bk,
    ...               tiers=default_tier_table(1))
    >>> round(q.price, 6), q.reason
    (99.9, 'auto')
    """
    prep = _prepared(market, book, tiers)
    if type(instrument) is not int:
        if isinstance(instrument, bool) or not isinstance(instrument, (int, np.integer)):
            raise ValueError("instrument: expected an int")
        instrument = int(instrument)
    if not 0 <= instrument < prep.m:
        raise ValueError("instrument: index out of range of the market arrays")
    if side != 1 and side != -1:
        raise ValueError("side: must be +1 (client buys) or -1 (client sells)")
    q = float(quantity)
    if not 0.0 < q < math.inf:
        raise ValueError("quantity: must be finite and > 0")
    if tier != 1 and tier != 2 and tier != 3:
        raise ValueError("tier: must be 1, 2 or 3")
    ag = float(agreement_bp)
    if not -math.inf < ag < math.inf:
        raise ValueError("agreement_bp: must be finite")
    cr = float(credit_available)
    if not cr >= 0.0:
        raise ValueError("credit_available: must be >= 0 and not NaN")
    if kill is not True and kill is not False:
        if not isinstance(kill, (bool, np.bool_)):
            raise ValueError("kill: expected a bool")
        kill = bool(kill)
    (mid, base, liquidity, volatility, impc, hedge, funding, uncertainty, stress, skew_lin, g2,
     axe_a, naxe_max, ncap, signal, amin, amax, auto, mx, smid, midc) = \
        prep.rows[(int(tier) * 2 + (side > 0)) * prep.m + instrument]
    impact = math.sqrt(q) * impc
    skew = g2 * q + skew_lin
    axe = max(min(axe_a, q) * naxe_max / q, ncap)
    agreement = min(max(ag, amin), amax)
    total = (base + liquidity + volatility + impact + hedge + funding + uncertainty + stress
             + skew + axe + signal + agreement)
    price = total * smid + mid
    if q > mx:
        r = 1
    elif q * midc > cr:
        r = 2
    elif kill:
        r = 3
    elif tier == 1:
        r = 4
    elif q > auto:
        r = 5
    else:
        r = 0
    comps = {"base": base, "liquidity": liquidity, "volatility": volatility, "impact": impact,
             "hedge": hedge, "funding": funding, "uncertainty": uncertainty, "stress": stress,
             "skew": skew, "axe": axe, "signal": signal, "agreement": agreement}
    return SingleQuote(price, total, comps, _DECISION_OF_REASON_LIST[r], REASONS[r], mid)


def size_ladder(sizes: ArrayLike, *, instrument: int, side: int, tier: int,
                market: MarketArrays, book: BookArrays, tiers: TierTable,
                agreement_bp: float = 0.0, credit_available: float = math.inf,
                kill: bool = False) -> QuoteBatch:
    """Quotes for one instrument, side and tier at several sizes (face).

    Examples
    --------
    >>> mk = MarketArrays([100.0], [0.0], [0.01], [1e7], [1.0], [0], [0.0], [0.0], [1.0], [0.0])
    >>> bk = BookArrays([0.0], [0.0], [0.0], 0.0, [0.0])
    >>> lad = size_ladder([1e5, 1e6, 1e7], instrument=0, side=1, tier=3, market=mk, book=bk,
    ...                   tiers=default_tier_table(1))
    >>> bool((np.diff(lad.price) > 0).all())
    True
    """
    q = as_float(sizes, "sizes", ndim=1, positive=True)
    n = q.size
    rfq = RfqArrays(np.full(n, instrument), np.full(n, side), q, np.full(n, tier),
                    np.full(n, agreement_bp, dtype=np.float64),
                    np.full(n, credit_available, dtype=np.float64), np.full(n, bool(kill)))
    return quote_batch(rfq, market, book, tiers)


# --------------------------------------------------------------------------- GLFT
def glft_half_spreads(q: ArrayLike, sigma: ArrayLike, A: ArrayLike, k: ArrayLike,
                      gamma: ArrayLike, delta: ArrayLike = 1.0,
                      xi: ArrayLike | None = None) -> tuple[FloatArray, FloatArray]:
    r"""Closed-form approximations of the optimal half-spreads (GLFT 2013, Guéant 2017).

    Parameters
    ----------
    q : array_like
        Inventory in units of ``delta`` (long positive; ``q = 2, delta = 5`` is a long of 10).
    sigma : array_like
        Price volatility (price / sqrt(time)), ``>= 0``.
    A : array_like
        Intensity scale of the arrival of clients (1 / time), ``> 0``.
    k : array_like
        Intensity decay :math:`\Lambda(\delta) = A e^{-k\delta}` (1 / price), ``> 0``.
    gamma : array_like
        Risk aversion (1 / (price x size)), ``>= 0``.
    delta : array_like, optional
        Trade size, ``> 0``.
    xi : array_like, optional
        :math:`\xi`; defaults to ``gamma`` (the CARA model); ``xi = 0`` is the model with
        a running inventory penalty only.  ``>= 0``.

    Returns
    -------
    bid_half, ask_half : ndarray
        Distances from the mid of the bid and of the ask, positive away from the mid;
        arrays broadcast.

    Notes
    -----
    .. math::

        \delta^{b} \approx \frac{1}{\xi\Delta}\ln\!\Big(1 + \frac{\xi\Delta}{k}\Big)
        + \frac{(2q+1)\Delta}{2}\,\omega, \qquad
        \delta^{a} \approx \frac{1}{\xi\Delta}\ln\!\Big(1 + \frac{\xi\Delta}{k}\Big)
        + \frac{(1-2q)\Delta}{2}\,\omega,

        \omega = \sqrt{\frac{\gamma\sigma^2}{2A\Delta k}
        \Big(1 + \frac{\xi\Delta}{k}\Big)^{\frac{k}{\xi\Delta} + 1}}.

    As :math:`\xi\to 0`, :math:`\frac{1}{\xi\Delta}\ln(1+\xi\Delta/k)\to 1/k` and
    :math:`(1+\xi\Delta/k)^{k/(\xi\Delta)+1} = \exp\{(k/(\xi\Delta)+1)\ln(1+\xi\Delta/k)\}
    \to e^{1}\cdot 1 = e`, so :math:`\delta^{b} \to 1/k + \frac{(2q+1)\Delta}{2}
    \sqrt{\frac{e\,\gamma\sigma^2}{2A\Delta k}}`.  The code uses ``log1p`` so that the
    limit is reached continuously; ``xi == 0`` uses it exactly.

    References
    ----------
    .. [1] Guéant, O., Lehalle, C.-A. & Fernandez-Tapia, J. (2013), "Dealing with the
       inventory risk: a solution to the market making problem", Math. Financ. Econ. 7.
    .. [2] Guéant, O. (2017), "Optimal market making", Appl. Math. Finance 24(2), 112-154.

    Examples
    --------
    >>> b, a = glft_half_spreads(0, 0.3, 1.0, 1.0, 0.0)  # gamma = xi = 0: 1/k each side
    >>> float(b), float(a)
    (1.0, 1.0)
    >>> b, a = glft_half_spreads([-1, 0, 1], 0.3, 1.0, 1.0, 0.1)
    >>> bool((np.diff(b) > 0).all() and (np.diff(a) < 0).all())
    True
    """
    qq = as_float(q, "q")
    s = as_float(sigma, "sigma", nonneg=True)
    aa = as_float(A, "A", positive=True)
    kk = as_float(k, "k", positive=True)
    g = as_float(gamma, "gamma", nonneg=True)
    d = as_float(delta, "delta", positive=True)
    x = g if xi is None else as_float(xi, "xi", nonneg=True)
    try:
        np.broadcast_shapes(qq.shape, s.shape, aa.shape, kk.shape, g.shape, d.shape, x.shape)
    except ValueError:
        raise ValueError("q: shapes of the arguments do not broadcast") from None
    return _glft(qq, s, aa, kk, g, d, x)


def _glft(q: FloatArray, sigma: FloatArray, A: FloatArray, k: FloatArray, gamma: FloatArray,
          delta: FloatArray, xi: FloatArray) -> tuple[FloatArray, FloatArray]:
    u = xi * delta / k
    l1p = np.log1p(u)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(u > 0, l1p / np.where(u > 0, u, 1.0), 1.0)  # ln(1+u)/u -> 1
    c0 = ratio / k
    expo = ratio + l1p  # (1/u + 1) ln(1+u), no overflow for tiny u
    omega = np.sqrt(gamma * sigma * sigma / (2.0 * A * delta * k) * np.exp(expo))
    bid: FloatArray = c0 + (2.0 * q + 1.0) * delta / 2.0 * omega
    ask: FloatArray = c0 + (1.0 - 2.0 * q) * delta / 2.0 * omega
    return bid, ask


@dataclass(frozen=True)
class GlftSetup:
    """Inputs of :func:`quote_batch` that reproduce :func:`glft_half_spreads`.

    ``rfqs`` holds two RFQs of size ``delta``: index 0 a client sell (the bid), index 1 a
    client buy (the ask).  ``mid - price[0]`` and ``price[1] - mid`` are the GLFT bid and
    ask half-spreads.
    """

    rfqs: RfqArrays
    market: MarketArrays
    book: BookArrays
    tiers: TierTable
    omega: float = field(default=0.0)


def glft_equivalent(q: float, sigma: float, A: float, k: float, gamma: float,
                    delta: float = 1.0, xi: float | None = None,
                    mid: float = 100.0) -> GlftSetup:
    r"""Parameterize the quote model so that it reproduces the GLFT approximation.

    One asset, quote size ``delta``, no size term (``impact_y = 0``), no extras (all
    other components zero), Tier 3, base spread the GLFT constant
    :math:`\frac{1}{\xi\Delta}\ln(1+\xi\Delta/k)` and the book's skew the marginal
    inventory cost with :math:`\gamma_{\mathrm{book}}\Sigma_{ii}\,m^2/100 = \omega`.

    Notes
    -----
    The skew of a client trade of size :math:`\Delta` on a position :math:`x = q\Delta`
    is, in price, :math:`\omega(\mp x + \Delta/2)` (``-`` on the ask), which equals
    :math:`\frac{(1 \mp 2q)\Delta}{2}\omega`, the GLFT inventory term: GLFT is the
    quadratic value-function approximation with effective risk aversion
    :math:`\omega/\Delta`-per-unit.  ``sigma`` and GLFT prices are in price points.

    References
    ----------
    .. [1] Guéant, Lehalle & Fernandez-Tapia (2013); Guéant (2017); see
       :func:`glft_half_spreads`.

    Examples
    --------
    >>> st = glft_equivalent(1.0, 0.3, 1.0, 2.0, 0.01)
    >>> qb = quote_batch(st.rfqs, st.market, st.book, st.tiers)
    >>> b, a = glft_half_spreads(1.0, 0.3, 1.0, 2.0, 0.01)
    >>> bool(np.isclose(100 - qb.price[0], b) and np.isclose(qb.price[1] - 100, a))
    True
    """
    qv = scalar(q, "q")
    sv = scalar(sigma, "sigma", nonneg=True)
    av = scalar(A, "A", positive=True)
    kv = scalar(k, "k", positive=True)
    gv = scalar(gamma, "gamma", nonneg=True)
    dv = scalar(delta, "delta", positive=True)
    xv = gv if xi is None else scalar(xi, "xi", nonneg=True)
    mv = scalar(mid, "mid", positive=True)
    b0, a0 = _glft(*(np.array(v) for v in (0.0, sv, av, kv, gv, dv, xv)))
    # at q = 0: bid = c0 + d/2*omega, ask = c0 + d/2*omega
    c0 = float(b0)
    bq, _ = _glft(*(np.array(v) for v in (1.0, sv, av, kv, gv, dv, xv)))
    omega = (float(bq) - c0) / dv
    c0 = c0 - dv / 2.0 * omega
    sig_ii = 1e-4
    gamma_book = 100.0 * omega / (mv * mv * sig_ii)
    pos = qv * dv
    zero = np.zeros(1)
    one = np.ones(1)
    market = MarketArrays(mid=one * mv, mid_se=zero, sigma_daily=one * (sv / mv), adv=one,
                          liquidity_factor=one, asset_class=np.zeros(1, dtype=np.intp),
                          hedge_cost_bp=zero,
                          funding_bp_per_day=zero, holding_days=zero, signal_bp=zero,
                          stress=False)
    book = BookArrays(position=one * pos, sigma_x=one * (sig_ii * pos * mv / 100.0),
                      sigma_diag=one * sig_ii,
                      gamma=gamma_book, axe=zero)
    base = np.full((3, 1), c0 / mv * 1e4)
    z = np.zeros((3, 1))
    tiers = TierTable(base_spread_bp=base, k_vol=z, impact_y=z, z_uncertainty=z,
                      stress_addon_bp=z, axe_max_bp=z, agreement_min_bp=z, agreement_max_bp=z,
                      auto_size=np.full((3, 1), np.inf), max_size=np.full((3, 1), np.inf))
    rfqs = RfqArrays(np.zeros(2, dtype=np.intp), np.array([-1.0, 1.0]), np.full(2, dv),
                     np.full(2, 3, dtype=np.intp), np.zeros(2), np.full(2, np.inf),
                     np.zeros(2, dtype=np.bool_))
    return GlftSetup(rfqs, market, book, tiers, omega)

