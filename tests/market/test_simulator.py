"""The market simulator: factor model, steps, prints, venue quotes, histories (no database)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from dealer.market.simulator import (
    FACTOR_NAMES,
    STRESS_PRINT_DIVISOR,
    VENUES,
    FactorModel,
    SimState,
    SpecArrays,
    Tick,
    advance,
    build_factor_model,
    initial_state,
    rng_for,
    simulate_daily_history,
    simulate_intraday_path,
    spec_arrays,
    step,
)
from dealer.market.universe import InstrumentSpec, generate_universe

T0 = 1_790_000_000.0


@pytest.fixture(scope="module")
def universe() -> list[InstrumentSpec]:
    return generate_universe()


@pytest.fixture(scope="module")
def model(universe: list[InstrumentSpec]) -> FactorModel:
    return build_factor_model(universe)


@pytest.fixture(scope="module")
def arrays(universe: list[InstrumentSpec]) -> SpecArrays:
    return spec_arrays(universe)


def _first(universe: list[InstrumentSpec], pred: object) -> int:
    return next(i for i, s in enumerate(universe) if pred(s))  # type: ignore[operator]


def _log_returns(
    state: SimState,
    model: FactorModel,
    arrays: SpecArrays,
    n: int,
    dt: float,
    seed: int,
    stressed: bool,
) -> tuple[np.ndarray, int]:
    """(n, M) log mid returns and the total print count over n steps."""
    rng = np.random.default_rng(seed)
    mids = np.empty((n + 1, state.mids.shape[0]))
    mids[0] = state.mids
    prints = 0
    for k in range(n):
        state, tick = step(state, model, arrays, dt, rng, stressed)
        mids[k + 1] = tick.mids
        prints += tick.print_idx.size
    return np.diff(np.log(mids), axis=0), prints


# ---------------------------------------------------------------- factor model


def test_factor_correlation_recovered_from_simulated_steps(
    universe: list[InstrumentSpec],
) -> None:
    """3 instruments, each loading on one factor: their return correlation is the factor's."""
    corr = np.array([[1.0, -0.2, 0.1], [-0.2, 1.0, 0.6], [0.1, 0.6, 1.0]])
    m3 = FactorModel(
        ("rates", "energy", "financials"),
        np.array([6e-4, 4e-4, 4e-4]),
        corr,
        np.diag([-6.0, -5.0, -4.0]),
        np.full(3, 1e-6),
    )
    specs = universe[:3]
    sa = spec_arrays(specs)
    r, _ = _log_returns(initial_state(specs, T0), m3, sa, 20_000, 60.0, 11, False)
    emp = np.corrcoef(r.T)
    assert np.allclose(emp, m3.correlation(), atol=0.05)
    assert np.allclose(emp, corr, atol=0.05)
    # the realized daily vol matches the model's too (60 s steps, 86,400 s day)
    vol = r.std(axis=0) * np.sqrt(86_400.0 / 60.0)
    assert np.allclose(vol, m3.volatility(), rtol=0.05)


def test_implied_correlation_of_bond_and_hedges_recovered(
    universe: list[InstrumentSpec], model: FactorModel
) -> None:
    """An IG bond, a CDS index, a rates future and a credit ETF from the real universe."""
    idx = [
        _first(
            universe,
            lambda s: s.asset_class == "ig_corp" and s.liquidity_bucket == 2 and s.duration > 5,
        ),
        _first(universe, lambda s: s.description.startswith("CDX NA IG")),
        _first(universe, lambda s: s.description.startswith("US 10YR")),
        _first(universe, lambda s: s.description.startswith("CORNERSTONE INVESTMENT")),
    ]
    sub = model.subset(idx)
    specs = [universe[i] for i in idx]
    r, _ = _log_returns(initial_state(specs, T0), sub, spec_arrays(specs), 20_000, 60.0, 5, False)
    implied = sub.correlation()
    assert np.allclose(np.corrcoef(r.T), implied, atol=0.05)
    # proxy hedges are meaningful: the bond co-moves with the future and the ETF, and the
    # CDS index adds to the future (it hedges the spread part)

    def r2(cols: list[int]) -> float:
        x = r[:, cols]
        beta, *_ = np.linalg.lstsq(x, r[:, 0], rcond=None)
        return float(1.0 - (r[:, 0] - x @ beta).var() / r[:, 0].var())

    assert implied[0, 2] > 0.3 and implied[0, 3] > 0.4 and implied[0, 1] > 0.0
    assert r2([2]) > 0.2 and r2([3]) > 0.3
    assert r2([1, 2]) > r2([2]) + 0.05


def test_covariance_positive_definite(model: FactorModel) -> None:
    cov = model.covariance()
    assert cov.shape == (500, 500)
    assert np.allclose(cov, cov.T)
    assert np.linalg.eigvalsh(cov).min() > 0
    np.linalg.cholesky(cov)
    assert np.allclose(model.covariance(stressed=True), 9.0 * cov)
    assert np.allclose(np.sqrt(np.diag(cov)), model.volatility())
    assert np.linalg.eigvalsh(model.factor_corr).min() > 0
    assert model.loadings.shape == (500, len(FACTOR_NAMES))


def test_loadings_follow_asset_class(universe: list[InstrumentSpec], model: FactorModel) -> None:
    b = model.loadings
    for i, s in enumerate(universe):
        if s.asset_class == "rates_future":
            assert b[i, 0] < 0 and np.all(b[i, 1:] == 0)
        elif s.asset_class == "cds_index":
            assert b[i, 0] == 0 and np.all(b[i, 1:9] < 0) and b[i, 9] == 0
        elif s.asset_class in ("ig_corp", "hy_corp"):
            assert b[i, 0] == pytest.approx(-s.duration)
            col = FACTOR_NAMES.index(s.sector)
            assert b[i, col] < 0 and np.count_nonzero(b[i, 1:]) == 1
    hy = [i for i, s in enumerate(universe) if s.asset_class == "hy_corp"]
    ig = [i for i, s in enumerate(universe) if s.asset_class == "ig_corp"]
    assert model.idio_vol[hy].mean() > model.idio_vol[ig].mean()


def test_bad_factor_correlation_rejected() -> None:
    bad = np.array([[1.0, 0.99, -0.99], [0.99, 1.0, 0.99], [-0.99, 0.99, 1.0]])
    with pytest.raises(ValueError, match="factor_corr"):
        FactorModel(("a", "b", "c"), np.ones(3), bad, np.eye(3), np.ones(3))


# ---------------------------------------------------------------- stress


def test_stress_triples_volatility_and_cuts_prints(
    universe: list[InstrumentSpec], model: FactorModel, arrays: SpecArrays
) -> None:
    st0 = initial_state(universe, T0)
    n, dt = 1500, 5.0
    r_calm, p_calm = _log_returns(st0, model, arrays, n, dt, 1, False)
    r_str, p_str = _log_returns(st0, model, arrays, n, dt, 2, True)
    ratio = r_str.std(axis=0) / r_calm.std(axis=0)
    assert 2.5 <= float(np.median(ratio)) <= 3.5
    assert np.all((ratio > 2.5) & (ratio < 3.5))
    # print counts: close to the Poisson expectation in both regimes, far fewer in stress
    exp_calm = n * float(np.sum(-np.expm1(-arrays.print_rate * dt)))
    exp_str = n * float(np.sum(-np.expm1(-arrays.print_rate / STRESS_PRINT_DIVISOR * dt)))
    assert abs(p_calm - exp_calm) < 0.05 * exp_calm
    assert abs(p_str - exp_str) < 0.05 * exp_str
    assert p_str < 0.5 * p_calm


def test_stress_widens_venue_spreads(
    universe: list[InstrumentSpec], model: FactorModel, arrays: SpecArrays
) -> None:
    st0 = initial_state(universe, T0)
    _, calm = step(st0, model, arrays, 1.0, rng_for(3, 0), False)
    _, stress = step(st0, model, arrays, 1.0, rng_for(3, 0), True)
    both = np.isfinite(calm.venue_bid) & np.isfinite(stress.venue_bid)
    w_calm = (calm.venue_ask - calm.venue_bid)[both]
    w_str = (stress.venue_ask - stress.venue_bid)[both]
    assert np.median(w_str / w_calm) == pytest.approx(2.5, rel=0.05)
    assert np.isnan(stress.venue_bid).sum() > np.isnan(calm.venue_bid).sum()


# ---------------------------------------------------------------- determinism


def _tick_arrays(tk: Tick) -> list[np.ndarray]:
    return [
        tk.mids,
        tk.print_idx,
        tk.print_price,
        tk.print_size,
        tk.print_side,
        tk.venue_bid,
        tk.venue_ask,
        tk.venue_bid_size,
        tk.venue_ask_size,
    ]


def test_same_seed_same_arrays_different_seed_differs(
    universe: list[InstrumentSpec], model: FactorModel, arrays: SpecArrays
) -> None:
    st0 = initial_state(universe, T0)
    s1, t1 = advance(st0, model, arrays, 2.0, 30, seed=42)
    s2, t2 = advance(st0, model, arrays, 2.0, 30, seed=42)
    s3, t3 = advance(st0, model, arrays, 2.0, 30, seed=43)
    for a, b in zip(t1, t2):
        for x, y in zip(_tick_arrays(a), _tick_arrays(b)):
            np.testing.assert_array_equal(x, y)
    assert np.array_equal(s1.mids, s2.mids) and s1.t == s2.t == T0 + 60.0 and s1.tick == 30
    assert not np.array_equal(s1.mids, s3.mids)
    assert not np.array_equal(t1[0].venue_bid_size, t3[0].venue_bid_size)
    assert np.array_equal(st0.mids, arrays.initial_price)  # the input state is untouched


def test_resume_from_stored_state(
    universe: list[InstrumentSpec], model: FactorModel, arrays: SpecArrays
) -> None:
    """A stateless task storing the state as JSON and stepping with rng_for(seed, tick)."""
    st0 = initial_state(universe, T0)
    full, _ = advance(st0, model, arrays, 1.0, 20, seed=9, stressed=True)
    half, _ = advance(st0, model, arrays, 1.0, 10, seed=9, stressed=True)
    stored = json.loads(json.dumps(half.to_dict()))
    resumed, _ = advance(SimState.from_dict(stored), model, arrays, 1.0, 10, seed=9, stressed=True)
    np.testing.assert_array_equal(resumed.mids, full.mids)
    np.testing.assert_array_equal(resumed.last_print_price, full.last_print_price)
    assert resumed.tick == full.tick == 20 and resumed.stressed
    a, b = rng_for(9, 3).random(4), np.random.default_rng([9, 3]).random(4)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- prints and quotes


def test_prints_and_quotes_are_well_formed(
    universe: list[InstrumentSpec], model: FactorModel, arrays: SpecArrays
) -> None:
    st = initial_state(universe, T0)
    m = len(universe)
    buckets = arrays.liquidity_bucket
    seen_prints = 0
    for k in range(40):
        prev = st
        st, tk = step(st, model, arrays, 10.0, rng_for(1, k), k % 2 == 1)
        idx = tk.print_idx
        seen_prints += idx.size
        assert idx.dtype.kind == "i" and np.all((idx >= 0) & (idx < m))
        assert np.all(np.diff(idx) > 0)
        assert tk.print_price.shape == tk.print_size.shape == tk.print_side.shape == idx.shape
        assert np.all(np.isfinite(tk.print_price)) and np.all(tk.print_size > 0)
        assert np.all(np.abs(tk.print_price / tk.mids[idx] - 1.0) < 0.02)
        assert np.all(tk.print_side == np.where(tk.print_price >= tk.mids[idx], 1, -1))
        # last prints updated exactly where printed
        np.testing.assert_array_equal(st.last_print_price[idx], tk.print_price)
        untouched = np.setdiff1d(np.arange(m), idx)
        np.testing.assert_array_equal(st.last_print_t[untouched], prev.last_print_t[untouched])
        assert np.all(st.last_print_t[idx] == tk.t)
        # venue quotes
        assert tk.venue_bid.shape == (len(VENUES), m)
        quoted = np.isfinite(tk.venue_bid)
        np.testing.assert_array_equal(quoted, np.isfinite(tk.venue_ask))
        assert np.all(tk.venue_bid[quoted] < tk.venue_ask[quoted])
        assert np.all(tk.venue_bid_size[quoted] > 0) and np.all(tk.venue_ask_size[quoted] > 0)
        assert np.all(tk.venue_bid_size[~quoted] == 0)
        assert np.all(quoted[:, buckets == 1]) or tk.stressed  # every venue quotes bucket 1
        idb = [v.code for v in VENUES].index("IDB")
        assert not np.any(quoted[idb, buckets == 5])  # the IDB never quotes bucket 5
    assert seen_prints > 0
    assert {v.code for v in VENUES} == {"AXS", "TWB", "BBX", "IDB"}


def test_liquid_instruments_print_more_and_quote_tighter(arrays: SpecArrays) -> None:
    rate = arrays.print_rate
    b = arrays.liquidity_bucket
    means = [rate[b == k].mean() for k in range(1, 6)]
    assert all(x > y for x, y in itertools.pairwise(means))
    assert 1 / 10 < means[0] and 1 / 86_400 < means[4] < 10 / 86_400
    ig = arrays.asset_class == 1
    hs = [arrays.half_spread_bp[ig & (b == k)].mean() for k in (2, 3, 4, 5)]
    assert all(x < y for x, y in itertools.pairwise(hs))


# ---------------------------------------------------------------- histories


def test_daily_history(universe: list[InstrumentSpec], model: FactorModel) -> None:
    days = 520
    dates, closes = simulate_daily_history(universe, model, days, 7, "2026-12-05")
    assert dates.shape == (days,) and closes.shape == (500, days)
    assert str(dates[-1]) == "2026-12-04"  # a Saturday rolls back to Friday
    assert np.all(np.is_busday(dates)) and np.all(np.diff(dates).astype(int) > 0)
    np.testing.assert_allclose(closes[:, -1], [s.initial_price for s in universe])
    assert np.all(np.isfinite(closes)) and np.all(closes > 0)
    _, c2 = simulate_daily_history(universe, model, days, 7, "2026-12-05")
    np.testing.assert_array_equal(c2, closes)
    _, c3 = simulate_daily_history(universe, model, days, 8, "2026-12-05")
    assert not np.array_equal(c3, closes)
    r = np.diff(np.log(closes), axis=1)
    vol = r.std(axis=1)
    assert np.median(vol / model.volatility()) == pytest.approx(1.0, abs=0.1)


def test_daily_history_stressed_days(universe: list[InstrumentSpec], model: FactorModel) -> None:
    days = 400
    mask = np.zeros(days, dtype=bool)
    mask[200:] = True
    _, closes = simulate_daily_history(universe, model, days, 3, "2026-12-01", mask)
    r = np.diff(np.log(closes), axis=1)  # r[:, j] is the return into day j + 1
    ratio = r[:, 199:].std(axis=1) / r[:, :199].std(axis=1)
    assert 2.5 <= float(np.median(ratio)) <= 3.5
    _, by_index = simulate_daily_history(universe, model, days, 3, "2026-12-01", range(200, 400))
    np.testing.assert_array_equal(by_index, closes)


def test_history_correlation_bond_vs_sector_etf(
    universe: list[InstrumentSpec], model: FactorModel
) -> None:
    bond = _first(universe, lambda s: s.asset_class == "ig_corp" and s.sector == "energy")
    etf = _first(universe, lambda s: s.description.startswith("SENTRY ENERGY"))
    sub = model.subset([bond, etf])
    _, closes = simulate_daily_history([universe[bond], universe[etf]], sub, 3000, 1, "2026-12-01")
    emp = np.corrcoef(np.diff(np.log(closes), axis=1))[0, 1]
    assert emp == pytest.approx(sub.correlation()[0, 1], abs=0.06)


def test_intraday_paths(model: FactorModel) -> None:
    n = 20_000
    idx = np.full(n, 100)
    t0 = T0 + np.arange(n) * 7.0
    mid0 = np.full(n, 100.0)
    offs = np.array([60.0, 300.0, 1800.0, 86_400.0])
    paths = simulate_intraday_path(model, idx, t0, mid0, offs, seed=5)
    assert paths.shape == (n, 4)
    lr = np.log(paths / 100.0)
    sd = lr.std(axis=0)
    np.testing.assert_allclose(sd, model.volatility()[100] * np.sqrt(offs / 86_400.0), rtol=0.05)
    assert abs(lr[:, -1].mean()) < 4 * sd[-1] / np.sqrt(n)
    # a trade's path does not depend on the rest of the batch; deterministic by seed
    alone = simulate_intraday_path(model, idx[123:124], t0[123:124], mid0[123:124], offs, 5)
    np.testing.assert_array_equal(alone[0], paths[123])
    other = simulate_intraday_path(model, idx[:50], t0[:50], mid0[:50], offs, 6)
    assert not np.array_equal(other, paths[:50])
    # informed flow: the mid drifts by alpha (bp) on average
    drift = simulate_intraday_path(model, idx, t0, mid0, offs, 5, alpha_bp=10.0)
    mean_bp = (drift / paths - 1.0).mean(axis=0) * 1e4
    np.testing.assert_allclose(mean_bp, 10.0 * (1 - 2.0 ** (-offs / 600.0)), atol=1e-6)
    stressed = simulate_intraday_path(model, idx, t0, mid0, offs, 5, stressed=True)
    np.testing.assert_allclose(np.log(stressed / 100.0), 3.0 * lr, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="offsets_seconds"):
        simulate_intraday_path(model, idx[:2], t0[:2], mid0[:2], [60.0, 30.0], 5)
