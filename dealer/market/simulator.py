"""Market simulator: correlated factor model, trade prints and venue quotes (numpy only).

Model
-----
Factors (daily changes, in yield units): the rates level, and one credit-spread factor per
sector (the 8 corporate sectors and 'sovereign').  Over a step of ``dt`` seconds the log
return of instrument i is

    r_i = -D_i * (d_rate * rates_load_i + beta_i * d_spread[sector_i]) + idio_i

with ``d ~ N(0, diag(vol) C diag(vol) * dt / TRADING_DAY_SECONDS)`` and
``idio_i ~ N(0, idio_vol_i^2 * dt / TRADING_DAY_SECONDS)``, ``idio_vol_i`` = duration x an
idiosyncratic spread vol by asset class (HY > IG > govt) x (1 + 0.3 (liquidity bucket - 1)); in stress every volatility is
multiplied by ``STRESS_VOL_MULTIPLIER`` (3).  Loadings by asset class:

- bonds (govt, ig_corp, hy_corp): rates, and their sector spread with beta by rating
  (US treasuries: rates only);
- rates futures: rates only;
- CDS indices: credit only, on the *index* factor = the average of the corporate sector
  spreads (long-risk price falls when spreads widen);
- credit ETFs: rates and credit (the index, or their sector for sector ETFs),

so that proxy hedges of a bond by a CDS index, a rates future or a credit ETF are correlated
with it (minimum-variance hedge ratios are meaningful).

Prints: instrument i prints in a step with probability ``1 - exp(-rate_i * dt)``, rate by
liquidity bucket (bucket 1 every ~5 s ... bucket 5 ~3 per day), divided by 5 in stress; the
print price is the mid plus a side-signed fraction of the half-spread plus a little noise, the
size lognormal around ``adv / expected prints per day``.  Venues quote bid/ask around the mid
with a half-spread by liquidity bucket and asset class (x2.5 in stress); a venue quotes an
instrument with a probability that falls with illiquidity (NaN price, 0 size when not quoting).

Determinism: every function takes its randomness from an explicit ``numpy.random.Generator``
or seed, and draws a fixed number of variates in a fixed order whatever the regime.  A
stateless periodic task (e.g. a Celery beat task) resumes from the stored ``SimState``
with ``rng = rng_for(seed, state.tick)`` (= ``numpy.random.default_rng([seed, tick])``), so
the same seed and the same sequence of steps give identical arrays.

No Django here: numpy + stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .universe import ASSET_CLASSES, CREDIT_SECTORS, RATINGS, InstrumentSpec

__all__ = [
    "FACTOR_NAMES",
    "HALF_SPREAD_BP_BY_BUCKET",
    "PRINT_RATE_BY_BUCKET",
    "STRESS_PRINT_DIVISOR",
    "STRESS_SPREAD_MULTIPLIER",
    "STRESS_VOL_MULTIPLIER",
    "TRADING_DAY_SECONDS",
    "VENUES",
    "FactorModel",
    "SimState",
    "SpecArrays",
    "Tick",
    "Venue",
    "advance",
    "build_factor_model",
    "initial_state",
    "rng_for",
    "simulate_daily_history",
    "simulate_intraday_path",
    "spec_arrays",
    "spread_beta",
    "step",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

FACTOR_NAMES: tuple[str, ...] = ("rates",) + CREDIT_SECTORS + ("sovereign",)
#: Volatilities are per "day" of this many seconds (dt is scaled by sqrt(dt / this)).
TRADING_DAY_SECONDS = 86400.0
STRESS_VOL_MULTIPLIER = 3.0
STRESS_PRINT_DIVISOR = 5.0
STRESS_SPREAD_MULTIPLIER = 2.5

#: Print intensity per second by liquidity bucket 1..5.
PRINT_RATE_BY_BUCKET: tuple[float, ...] = (1 / 5, 1 / 30, 1 / 300, 1 / 3600, 3 / 86400)
#: Normal-regime venue half-spread, bp of price, by liquidity bucket 1..5 (before asset class).
HALF_SPREAD_BP_BY_BUCKET: tuple[float, ...] = (1.5, 4.0, 10.0, 20.0, 40.0)
_HALF_SPREAD_CLASS_MULT = {
    "govt": 0.5,
    "ig_corp": 1.0,
    "hy_corp": 1.5,
    "cds_index": 0.5,
    "rates_future": 0.3,
    "credit_etf": 0.5,
}
_IDIO_SPREAD_BY_CLASS = {  # daily idiosyncratic spread vol (yield units) at bucket 1
    "govt": 0.3e-4,
    "ig_corp": 2.0e-4,
    "hy_corp": 6.0e-4,
    "cds_index": 0.5e-4,
    "rates_future": 0.2e-4,
    "credit_etf": 1.0e-4,
}
_IDIO_VOL_FLOOR = 5e-5  # daily return vol floor (keeps the covariance well conditioned)
_FACTOR_VOL = {  # daily, yield units (6 bp/day for rates)
    "rates": 0.0006,
    "financials": 0.00040,
    "energy": 0.00045,
    "utilities": 0.00030,
    "industrials": 0.00035,
    "technology": 0.00035,
    "telecom": 0.00035,
    "consumer": 0.00033,
    "healthcare": 0.00030,
    "sovereign": 0.00030,
}


# --------------------------------------------------------------------------- venues


@dataclass(frozen=True, slots=True)
class Venue:
    """A simulated execution venue (names invented)."""

    name: str
    code: str
    fee_bp: float
    latency_ms: float
    fill_probability: float
    quote_probability: tuple[float, float, float, float, float]  # by liquidity bucket 1..5
    spread_multiplier: float  # venue half-spread = base half-spread x this
    size_multiplier: float  # quoted size = typical print size x this


VENUES: list[Venue] = [
    Venue(
        "Axis All-to-All (MarketAxess-like all-to-all)",
        "AXS",
        0.50,
        120.0,
        0.85,
        (1.0, 1.0, 0.95, 0.80, 0.50),
        1.00,
        1.0,
    ),
    Venue(
        "Tidewater Multi-Dealer (Tradeweb-like)",
        "TWB",
        0.40,
        90.0,
        0.80,
        (1.0, 1.0, 0.90, 0.60, 0.30),
        1.05,
        1.2,
    ),
    Venue(
        "Bluebox Dealer Network (Bloomberg-like)",
        "BBX",
        0.30,
        150.0,
        0.75,
        (1.0, 0.95, 0.80, 0.40, 0.10),
        1.10,
        0.8,
    ),
    Venue(
        "Interdealer Broker (dealer-to-dealer)",
        "IDB",
        0.10,
        40.0,
        0.90,
        (1.0, 0.90, 0.50, 0.10, 0.0),
        0.80,
        2.0,
    ),
]


# --------------------------------------------------------------------------- factor model


def spread_beta(asset_class: str, rating: str, hedge_factor: str) -> float:
    """Spread beta to the instrument's credit factor: 0.5 * exp(0.1 * notch) (AAA 0.5 .. CCC 2.7).

    Zero for pure-rates instruments (hedge_factor 'rates', i.e. treasuries and futures).
    """
    if hedge_factor == "rates" or asset_class == "rates_future":
        return 0.0
    k = RATINGS.index(rating) if rating in RATINGS else 8
    return 0.5 * math.exp(0.1 * k)


def _default_factor_corr() -> FloatArray:
    """Corporate sectors 0.6 with each other, 0.3 with sovereign, -0.2 with rates; rates-sovereign 0.2."""
    f = len(FACTOR_NAMES)
    c = np.eye(f)
    n_corp = len(CREDIT_SECTORS)
    corp = slice(1, 1 + n_corp)
    sov = f - 1
    c[corp, corp] = 0.6
    c[0, corp] = c[corp, 0] = -0.2
    c[sov, corp] = c[corp, sov] = 0.3
    c[0, sov] = c[sov, 0] = 0.2
    np.fill_diagonal(c, 1.0)
    return c


@dataclass(frozen=True, eq=False)
class FactorModel:
    """Linear factor model of daily log returns: r = B f + e.

    ``factor_vol`` (F,) daily factor vols (yield units), ``factor_corr`` (F, F) positive
    definite, ``loadings`` B (M, F) (price return per unit factor move, i.e. -duration x
    beta), ``idio_vol`` (M,) daily idiosyncratic return vol.  Stress multiplies every vol by
    ``stress_multiplier``.
    """

    factor_names: tuple[str, ...]
    factor_vol: FloatArray
    factor_corr: FloatArray
    loadings: FloatArray
    idio_vol: FloatArray
    stress_multiplier: float = STRESS_VOL_MULTIPLIER
    _chol: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        fv = np.asarray(self.factor_vol, dtype=np.float64)
        fc = np.asarray(self.factor_corr, dtype=np.float64)
        b = np.asarray(self.loadings, dtype=np.float64)
        iv = np.asarray(self.idio_vol, dtype=np.float64)
        f = fv.shape[0]
        if fv.ndim != 1 or len(self.factor_names) != f:
            raise ValueError("factor_vol: expected (F,) matching factor_names")
        if fc.shape != (f, f) or not np.allclose(fc, fc.T) or not np.allclose(np.diag(fc), 1.0):
            raise ValueError("factor_corr: expected a symmetric (F, F) correlation matrix")
        if b.ndim != 2 or b.shape[1] != f:
            raise ValueError("loadings: expected (M, F)")
        if iv.shape != (b.shape[0],) or np.any(iv < 0) or np.any(fv < 0):
            raise ValueError("idio_vol: expected (M,) non-negative")
        try:
            chol = np.linalg.cholesky(fc)
        except np.linalg.LinAlgError as exc:
            raise ValueError("factor_corr: not positive definite") from exc
        object.__setattr__(self, "factor_vol", fv)
        object.__setattr__(self, "factor_corr", fc)
        object.__setattr__(self, "loadings", b)
        object.__setattr__(self, "idio_vol", iv)
        object.__setattr__(self, "_chol", chol)

    @property
    def n_instruments(self) -> int:
        return int(self.loadings.shape[0])

    @property
    def n_factors(self) -> int:
        return int(self.loadings.shape[1])

    def _mult(self, stressed: bool) -> float:
        return self.stress_multiplier if stressed else 1.0

    def factor_covariance(self, stressed: bool = False) -> FloatArray:
        """(F, F) daily factor covariance diag(vol) C diag(vol) (x multiplier^2 in stress)."""
        s = self.factor_vol * self._mult(stressed)
        return np.asarray(self.factor_corr * np.outer(s, s))

    def covariance(self, stressed: bool = False) -> FloatArray:
        """(M, M) daily log-return covariance B Sigma_f B' + diag(idio^2); PD when idio > 0."""
        bf = self.loadings @ self.factor_covariance(stressed) @ self.loadings.T
        idio = (self.idio_vol * self._mult(stressed)) ** 2
        cov = bf + np.diag(idio)
        return np.asarray(0.5 * (cov + cov.T))

    def volatility(self, stressed: bool = False) -> FloatArray:
        """(M,) daily return vol."""
        sf = self.loadings * (self.factor_vol * self._mult(stressed))
        var = np.einsum("mf,fg,mg->m", sf, self.factor_corr, sf)
        return np.asarray(np.sqrt(var + (self.idio_vol * self._mult(stressed)) ** 2))

    def correlation(self, stressed: bool = False) -> FloatArray:
        """(M, M) implied return correlation."""
        cov = self.covariance(stressed)
        s = np.sqrt(np.diag(cov))
        return np.asarray(cov / np.outer(s, s))

    def subset(self, idx: Sequence[int] | IntArray) -> FactorModel:
        """The model restricted to instruments ``idx`` (same factors)."""
        ii = np.asarray(idx, dtype=np.int64)
        return FactorModel(
            self.factor_names,
            self.factor_vol,
            self.factor_corr,
            self.loadings[ii],
            self.idio_vol[ii],
            self.stress_multiplier,
        )

    def sample_factor_shocks(
        self, rng: np.random.Generator, n: int, dt_days: float = 1.0
    ) -> FloatArray:
        """(n, F) correlated factor moves over ``dt_days`` (normal regime)."""
        z = rng.standard_normal((n, self.n_factors))
        return np.asarray((z @ self._chol.T) * (self.factor_vol * math.sqrt(dt_days)))

    def sample_returns(
        self,
        rng: np.random.Generator,
        n: int,
        dt_days: float = 1.0,
        stressed: bool | NDArray[np.bool_] = False,
    ) -> FloatArray:
        """(n, M) log returns over steps of ``dt_days``; ``stressed`` a bool or (n,) mask."""
        f = self.sample_factor_shocks(rng, n, dt_days)
        e = rng.standard_normal((n, self.n_instruments)) * (self.idio_vol * math.sqrt(dt_days))
        r = f @ self.loadings.T + e
        mask = np.asarray(stressed, dtype=bool)
        if mask.ndim == 0:
            return np.asarray(r * (self.stress_multiplier if bool(mask) else 1.0))
        if mask.shape != (n,):
            raise ValueError("stressed: expected a bool or an (n,) mask")
        return np.asarray(r * np.where(mask, self.stress_multiplier, 1.0)[:, None])


def build_factor_model(specs: Sequence[InstrumentSpec]) -> FactorModel:
    """Factor model for ``specs`` (see the module docstring for the loadings)."""
    names = FACTOR_NAMES
    col = {n: k for k, n in enumerate(names)}
    corp_cols = [col[s] for s in CREDIT_SECTORS]
    m, f = len(specs), len(names)
    b = np.zeros((m, f))
    idio = np.zeros(m)
    for i, s in enumerate(specs):
        d = float(s.duration)
        rates_load = 0.0 if s.asset_class == "cds_index" else 1.0
        b[i, 0] = -d * rates_load
        beta = spread_beta(s.asset_class, s.rating, s.hedge_factor)
        if beta > 0.0:
            if s.hedge_factor == "index":
                b[i, corp_cols] += -d * beta / len(corp_cols)
            elif s.hedge_factor in col:
                b[i, col[s.hedge_factor]] += -d * beta
            else:
                raise ValueError(f"specs: unknown hedge_factor {s.hedge_factor!r} for {s.isin}")
        bucket = int(s.liquidity_bucket)
        idio[i] = max(
            _IDIO_VOL_FLOOR,
            d * _IDIO_SPREAD_BY_CLASS.get(s.asset_class, 3e-4) * (1.0 + 0.3 * (bucket - 1)),
        )
    vol = np.array([_FACTOR_VOL[n] for n in names])
    return FactorModel(names, vol, _default_factor_corr(), b, idio)


# --------------------------------------------------------------------------- arrays


@dataclass(frozen=True, eq=False)
class SpecArrays:
    """Per-instrument arrays the step function needs (M instruments, V venues)."""

    isins: tuple[str, ...]
    asset_class: IntArray  # index into ASSET_CLASSES
    liquidity_bucket: IntArray  # 1..5
    adv: FloatArray
    duration: FloatArray
    initial_price: FloatArray
    print_rate: FloatArray  # prints per second, normal regime
    half_spread_bp: FloatArray  # normal-regime venue half-spread, bp of price
    print_size: FloatArray  # typical print size (face), = adv / expected prints per day
    lot: FloatArray  # size rounding unit (1,000 face; 100 shares for ETFs)
    venue_quote_probability: FloatArray  # (V, M)
    venue_spread_multiplier: FloatArray  # (V,)
    venue_size_multiplier: FloatArray  # (V,)

    @property
    def n_instruments(self) -> int:
        return len(self.isins)


def spec_arrays(specs: Sequence[InstrumentSpec], venues: Sequence[Venue] = VENUES) -> SpecArrays:
    """Vectorize the static data of ``specs`` for ``step``."""
    ac = np.array([ASSET_CLASSES.index(s.asset_class) for s in specs], dtype=np.int64)
    bucket = np.array([int(s.liquidity_bucket) for s in specs], dtype=np.int64)
    if np.any((bucket < 1) | (bucket > 5)):
        raise ValueError("specs: liquidity_bucket must be 1..5")
    rate = np.asarray(PRINT_RATE_BY_BUCKET)[bucket - 1]
    hs = np.asarray(HALF_SPREAD_BP_BY_BUCKET)[bucket - 1] * np.array(
        [_HALF_SPREAD_CLASS_MULT[s.asset_class] for s in specs]
    )
    adv = np.array([float(s.adv) for s in specs])
    lot = np.array([100.0 if s.asset_class == "credit_etf" else 1000.0 for s in specs])
    size = np.maximum(adv / (rate * TRADING_DAY_SECONDS), lot)
    qp = np.array([[v.quote_probability[b - 1] for b in bucket] for v in venues]).reshape(
        len(venues), len(specs)
    )
    return SpecArrays(
        isins=tuple(s.isin for s in specs),
        asset_class=ac,
        liquidity_bucket=bucket,
        adv=adv,
        duration=np.array([float(s.duration) for s in specs]),
        initial_price=np.array([float(s.initial_price) for s in specs]),
        print_rate=rate,
        half_spread_bp=hs,
        print_size=size,
        lot=lot,
        venue_quote_probability=qp,
        venue_spread_multiplier=np.array([v.spread_multiplier for v in venues]),
        venue_size_multiplier=np.array([v.size_multiplier for v in venues]),
    )


# --------------------------------------------------------------------------- state, ticks


@dataclass(eq=False)
class SimState:
    """Live simulator state; ``to_dict`` / ``from_dict`` round-trip it through JSON."""

    tick: int
    t: float  # seconds since the epoch
    mids: FloatArray  # (M,)
    last_print_t: FloatArray  # (M,)
    last_print_price: FloatArray  # (M,)
    stressed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "tick": int(self.tick),
            "t": float(self.t),
            "mids": self.mids.tolist(),
            "last_print_t": self.last_print_t.tolist(),
            "last_print_price": self.last_print_price.tolist(),
            "stressed": bool(self.stressed),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SimState:
        return cls(
            int(d["tick"]),
            float(d["t"]),
            np.asarray(d["mids"], dtype=np.float64),
            np.asarray(d["last_print_t"], dtype=np.float64),
            np.asarray(d["last_print_price"], dtype=np.float64),
            bool(d["stressed"]),
        )


@dataclass(eq=False)
class Tick:
    """What one step produced (M instruments, K prints, V venues).

    Venue prices are NaN (and sizes 0) where the venue does not quote the instrument.
    ``print_side`` is +1 for a print at or above the mid (buyer-initiated), -1 below.
    """

    t: float
    mids: FloatArray  # (M,)
    print_idx: IntArray  # (K,) instrument indices, increasing
    print_price: FloatArray  # (K,)
    print_size: FloatArray  # (K,) face
    venue_bid: FloatArray  # (V, M)
    venue_ask: FloatArray  # (V, M)
    venue_bid_size: FloatArray  # (V, M)
    venue_ask_size: FloatArray  # (V, M)
    print_side: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    tick: int = 0
    stressed: bool = False


def initial_state(specs: Sequence[InstrumentSpec] | SpecArrays, t0: float) -> SimState:
    """State at time ``t0``: mids = initial prices, a notional last print at t0 at that price."""
    px = (
        specs.initial_price
        if isinstance(specs, SpecArrays)
        else np.array([float(s.initial_price) for s in specs])
    )
    px = np.array(px, dtype=np.float64)
    return SimState(0, float(t0), px.copy(), np.full(px.shape, float(t0)), px.copy(), False)


def rng_for(seed: int, tick: int) -> np.random.Generator:
    """The generator for step ``tick`` of a run seeded ``seed``: ``default_rng([seed, tick])``."""
    return np.random.default_rng([int(seed), int(tick)])


def step(
    state: SimState,
    model: FactorModel,
    specs_arrays: SpecArrays,
    dt_seconds: float,
    rng: np.random.Generator,
    stressed: bool,
) -> tuple[SimState, Tick]:
    """Advance the market by ``dt_seconds``; return the new state (input untouched) and the tick.

    Draw order (fixed, regime-independent): F factor normals, M idiosyncratic normals, M print
    uniforms, M side uniforms, M print-noise normals, M size normals, (V, M) quote uniforms,
    (V, M) centre normals, (V, M) width normals, (2, V, M) size normals.
    """
    sa = specs_arrays
    m, f = model.n_instruments, model.n_factors
    if state.mids.shape != (m,) or sa.n_instruments != m:
        raise ValueError("state: mids, model and specs_arrays sizes do not match")
    if not dt_seconds > 0:
        raise ValueError("dt_seconds: must be positive")
    v = sa.venue_quote_probability.shape[0]
    mult = model.stress_multiplier if stressed else 1.0
    sq = math.sqrt(dt_seconds / TRADING_DAY_SECONDS) * mult

    zf = rng.standard_normal(f)
    ze = rng.standard_normal(m)
    u_print = rng.random(m)
    u_side = rng.random(m)
    z_noise = rng.standard_normal(m)
    z_size = rng.standard_normal(m)
    u_quote = rng.random((v, m))
    z_center = rng.standard_normal((v, m))
    z_width = rng.standard_normal((v, m))
    z_qsize = rng.standard_normal((2, v, m))

    # mids
    df = (model._chol @ zf) * model.factor_vol * sq
    r = model.loadings @ df + model.idio_vol * sq * ze
    mids = state.mids * np.exp(r)
    t = state.t + float(dt_seconds)

    hs = mids * sa.half_spread_bp * 1e-4 * (STRESS_SPREAD_MULTIPLIER if stressed else 1.0)

    # prints
    rate = sa.print_rate / (STRESS_PRINT_DIVISOR if stressed else 1.0)
    p_print = -np.expm1(-rate * dt_seconds)
    printed = u_print < p_print
    idx = np.flatnonzero(printed).astype(np.int64)
    side = np.where(u_side < 0.5, 1, -1).astype(np.int8)
    frac = np.abs(2.0 * u_side - 1.0)  # uniform(0, 1), independent of the side
    px = mids + side * hs * frac + 0.1 * hs * z_noise
    size = sa.print_size * np.exp(0.7 * z_size - 0.245)
    size = np.maximum(np.round(size / sa.lot), 1.0) * sa.lot
    side = np.where(px >= mids, 1, -1).astype(np.int8)

    last_t = state.last_print_t.copy()
    last_px = state.last_print_price.copy()
    last_t[idx] = t
    last_px[idx] = px[idx]

    # venue quotes
    qp = sa.venue_quote_probability
    if stressed:
        qp = np.where(sa.liquidity_bucket >= 3, qp * 0.7, qp)
    quoting = u_quote < qp
    center = mids + 0.25 * hs * z_center
    half = hs * sa.venue_spread_multiplier[:, None] * (1.0 + 0.3 * np.abs(z_width))
    bid = np.where(quoting, center - half, np.nan)
    ask = np.where(quoting, center + half, np.nan)
    base = sa.print_size * sa.venue_size_multiplier[:, None]
    qsize = np.maximum(np.round(base * np.exp(0.5 * z_qsize - 0.125) / sa.lot), 1.0) * sa.lot
    bid_size = np.where(quoting, qsize[0], 0.0)
    ask_size = np.where(quoting, qsize[1], 0.0)

    new_state = SimState(state.tick + 1, t, mids, last_t, last_px, bool(stressed))
    tick = Tick(
        t=t,
        mids=mids,
        print_idx=idx,
        print_price=px[idx],
        print_size=size[idx],
        venue_bid=bid,
        venue_ask=ask,
        venue_bid_size=bid_size,
        venue_ask_size=ask_size,
        print_side=side[idx],
        tick=new_state.tick,
        stressed=bool(stressed),
    )
    return new_state, tick


def advance(
    state: SimState,
    model: FactorModel,
    specs_arrays: SpecArrays,
    dt_seconds: float,
    n_steps: int,
    seed: int,
    stressed: bool = False,
    keep_ticks: bool = True,
) -> tuple[SimState, list[Tick]]:
    """Run ``n_steps`` steps, step k using ``rng_for(seed, state.tick)`` (resumable)."""
    ticks: list[Tick] = []
    for _ in range(int(n_steps)):
        state, tk = step(
            state, model, specs_arrays, dt_seconds, rng_for(seed, state.tick), stressed
        )
        if keep_ticks:
            ticks.append(tk)
    return state, ticks


# --------------------------------------------------------------------------- history

_HISTORY_STREAM = 0x5EED_0001_0000_0001  # > any tick: never collides with rng_for(seed, tick)


def _initial_prices(specs: Sequence[InstrumentSpec] | SpecArrays) -> FloatArray:
    if isinstance(specs, SpecArrays):
        return np.asarray(specs.initial_price, dtype=np.float64)
    return np.array([float(s.initial_price) for s in specs], dtype=np.float64)


def simulate_daily_history(
    specs: Sequence[InstrumentSpec] | SpecArrays,
    model: FactorModel,
    days: int,
    seed: int,
    end_date: date | datetime | np.datetime64 | str,
    stressed_days: Iterable[int] | Iterable[date] | NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.datetime64], FloatArray]:
    """Daily closes over the last ``days`` business days up to ``end_date`` (rolled back).

    Returns ``(dates, closes)``: dates ``datetime64[D]`` (days,), closes (M, days); the last
    close equals each instrument's initial price, so the live simulator continues the history.
    Returns into day j are stressed (vols x3) when ``stressed_days`` marks day j (a bool mask
    of length days, integer day indices, or dates).  Vectorized: one draw of (days-1, M).
    """
    n = int(days)
    if n < 1:
        raise ValueError("days: must be >= 1")
    px0 = _initial_prices(specs)
    if px0.shape != (model.n_instruments,):
        raise ValueError("specs: size does not match the model")
    if isinstance(end_date, datetime):
        end_date = end_date.date()
    end = np.asarray(end_date, dtype="datetime64[D]")
    last = np.busday_offset(end, 0, roll="backward")
    dates = np.busday_offset(last, np.arange(-(n - 1), 1), roll="backward")

    mask = np.zeros(n, dtype=bool)
    if stressed_days is not None:
        arr = np.asarray(
            list(stressed_days) if not isinstance(stressed_days, np.ndarray) else stressed_days
        )
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise ValueError("stressed_days: a bool mask must have length days")
            mask = arr.copy()
        elif arr.size:
            if np.issubdtype(arr.dtype, np.integer):
                mask[arr.astype(np.int64)] = True
            else:
                mask = np.isin(dates, arr.astype("datetime64[D]"))
    rng = np.random.default_rng([int(seed), _HISTORY_STREAM])
    logc = np.empty((model.n_instruments, n))
    logc[:, -1] = np.log(px0)
    if n > 1:
        r = model.sample_returns(rng, n - 1, 1.0, mask[1:])  # r[j] = return from day j to j+1
        back = np.cumsum(r[::-1], axis=0)[::-1]  # back[j] = sum r[j:]
        logc[:, :-1] = logc[:, -1:] - back.T
    return dates, np.exp(logc)


# --------------------------------------------------------------------------- intraday paths

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64 finalizer (vectorized, wrapping uint64 arithmetic)."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> np.uint64(31)))


def _keyed_normals(seed: int, idx: IntArray, t_ms: IntArray, h: int) -> FloatArray:
    """(N, h) standard normals, a pure function of (seed, instrument, start ms, horizon)."""
    s = _splitmix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    k = _splitmix64(s ^ idx.astype(np.uint64))
    k = _splitmix64(k ^ t_ms.astype(np.int64).view(np.uint64))
    key = k[:, None] ^ (np.arange(h, dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03))[None, :]
    a = _splitmix64(key)
    b = _splitmix64(a ^ np.uint64(0xA5A5A5A5A5A5A5A5))
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)
    u2 = (b >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return np.asarray(np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2))


def simulate_intraday_path(
    model: FactorModel,
    instrument_idx: Sequence[int] | IntArray,
    start_times: Sequence[float] | FloatArray,
    start_mids: Sequence[float] | FloatArray,
    offsets_seconds: Sequence[float] | FloatArray,
    seed: int,
    stressed: bool | NDArray[np.bool_] = False,
    alpha_bp: float | FloatArray | None = None,
    alpha_half_life_s: float = 600.0,
) -> FloatArray:
    """(N, H) mids at ``start_times[n] + offsets_seconds[h]`` for N (e.g. synthetic) trades.

    Each path is a driftless log-Brownian motion from ``start_mids`` with the instrument's
    daily vol from the model (x3 where stressed), increments scaled by
    sqrt(d offset / TRADING_DAY_SECONDS), plus an optional informed-flow drift
    ``alpha_bp * (1 - 2^(-offset / alpha_half_life_s))`` (bp of price; positive = the mid
    rises).  The noise of a trade is a pure function of (seed, instrument, start time in ms,
    horizon), so a trade's path does not depend on which other trades are in the batch.
    Paths of different trades are independent.
    """
    idx = np.asarray(instrument_idx, dtype=np.int64)
    t0 = np.asarray(start_times, dtype=np.float64)
    m0 = np.asarray(start_mids, dtype=np.float64)
    off = np.asarray(offsets_seconds, dtype=np.float64)
    n = idx.shape[0]
    if idx.ndim != 1 or t0.shape != (n,) or m0.shape != (n,):
        raise ValueError("instrument_idx, start_times, start_mids: expected equal (N,) shapes")
    if n and (idx.min() < 0 or idx.max() >= model.n_instruments):
        raise ValueError("instrument_idx: out of range")
    if off.ndim != 1 or np.any(off < 0) or np.any(np.diff(off) < 0):
        raise ValueError("offsets_seconds: expected non-negative, non-decreasing (H,)")
    if not np.all(np.isfinite(m0)) or not np.all(np.isfinite(t0)):
        raise ValueError("start_mids: must be finite")
    h = off.shape[0]
    vol = model.volatility(False)[idx]
    st = np.asarray(stressed, dtype=bool)
    vol = vol * np.where(st, model.stress_multiplier, 1.0)
    z = _keyed_normals(int(seed), idx, np.round(t0 * 1000.0).astype(np.int64), h)
    dstep = np.sqrt(np.diff(off, prepend=0.0) / TRADING_DAY_SECONDS)
    logp = np.cumsum(z * dstep[None, :], axis=1) * vol[:, None]
    if alpha_bp is not None:
        a = np.broadcast_to(np.asarray(alpha_bp, dtype=np.float64), (n,))
        g = 1.0 - np.exp2(-off / float(alpha_half_life_s))
        logp = logp + np.log1p(a[:, None] * 1e-4 * g[None, :])
    return np.asarray(m0[:, None] * np.exp(logp))
