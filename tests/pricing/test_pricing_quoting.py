"""Tiered quote model: properties pinned by DESIGN.md section 4."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.quoting import (COMPONENTS, DECISIONS, REASONS, BookArrays, MarketArrays,
                             RfqArrays, TierTable, default_tier_table, glft_equivalent,
                             glft_half_spreads, quote_batch, quote_one, size_ladder)

FAST = settings(max_examples=60, deadline=None)


def one_market(sigma: float = 0.005, mid: float = 100.0, signal: float = 0.0,
               stress: bool = False, liq: float = 1.5, se: float = 0.05,
               adv: float = 5e7) -> MarketArrays:
    return MarketArrays(mid=[mid], mid_se=[se], sigma_daily=[sigma], adv=[adv],
                        liquidity_factor=[liq], asset_class=[0], hedge_cost_bp=[0.5],
                        funding_bp_per_day=[0.2], holding_days=[2.0], signal_bp=[signal],
                        stress=stress)


def one_book(position: float = 0.0, mid: float = 100.0, var: float = 1e-5, gamma: float = 1e-7,
             axe: float = 0.0) -> BookArrays:
    return BookArrays.from_covariance([position], [mid], [[var]], gamma, [axe])


def two_sided(market: MarketArrays, bk: BookArrays, q: float, tier: int = 3,
              agreement: float = 0.0, tiers: TierTable | None = None) -> tuple[float, float]:
    r = RfqArrays([0, 0], [-1, 1], [q, q], [tier, tier], [agreement] * 2, [np.inf] * 2,
                  [False] * 2)
    out = quote_batch(r, market, bk, tiers or default_tier_table(1))
    return float(out.price[0]), float(out.price[1])


market_st = st.builds(one_market, sigma=st.floats(0.0, 0.05), mid=st.floats(5.0, 200.0),
                      signal=st.floats(-20.0, 20.0), stress=st.booleans(),
                      liq=st.floats(1.0, 5.0), se=st.floats(0.0, 1.0),
                      adv=st.floats(1e5, 1e9))


@FAST
@given(market_st, st.floats(-5e7, 5e7), st.floats(-5e7, 5e7), st.floats(1e3, 1e8),
       st.integers(1, 3), st.floats(-10.0, 10.0))
def test_bid_is_below_offer_for_any_request(market: MarketArrays, pos: float, axe: float,
                                            q: float, tier: int, agreement: float) -> None:
    bk = one_book(pos, float(market.mid[0]), axe=axe)
    bid, offer = two_sided(market, bk, q, tier, agreement)
    assert bid < offer


@FAST
@given(market_st, st.floats(-5e7, 5e7), st.floats(-1e7, 1e7), st.integers(1, 3),
       st.sampled_from([-1, 1]))
def test_half_spread_grows_with_size(market: MarketArrays, pos: float, axe: float, tier: int,
                                     side: int) -> None:
    bk = one_book(pos, float(market.mid[0]), axe=axe)
    sizes = np.geomspace(1e4, 1e8, 25)
    lad = size_ladder(sizes, instrument=0, side=side, tier=tier, market=market, book=bk,
                      tiers=default_tier_table(1))
    assert (np.diff(lad.half_spread_bp) >= -1e-9).all()


@FAST
@given(st.floats(0.0, 0.04), st.floats(1e-4, 0.02), st.floats(1e3, 1e8), st.integers(1, 3),
       st.sampled_from([-1, 1]))
def test_half_spread_grows_with_volatility(sigma: float, dsigma: float, q: float, tier: int,
                                           side: int) -> None:
    bk = one_book(1e6)
    r = RfqArrays([0], [side], [q], [tier], [0.0], [np.inf], [False])
    lo = quote_batch(r, one_market(sigma), bk, default_tier_table(1)).half_spread_bp[0]
    hi = quote_batch(r, one_market(sigma + dsigma), bk, default_tier_table(1)).half_spread_bp[0]
    assert hi > lo


@FAST
@given(market_st, st.floats(1e5, 5e7), st.floats(1e3, 1e8), st.integers(1, 3))
def test_long_book_lowers_bid_and_offer_short_raises(market: MarketArrays, pos: float,
                                                     q: float, tier: int) -> None:
    mid = float(market.mid[0])
    flat = two_sided(market, one_book(0.0, mid), q, tier)
    long_ = two_sided(market, one_book(pos, mid), q, tier)
    short = two_sided(market, one_book(-pos, mid), q, tier)
    assert long_[0] < flat[0] and long_[1] < flat[1]
    assert short[0] > flat[0] and short[1] > flat[1]


def test_default_tier_table_is_monotone() -> None:
    for a in (1, 3, 6):
        assert default_tier_table(a).is_monotone()


@FAST
@given(market_st, st.floats(-5e7, 5e7), st.floats(-1e7, 1e7), st.floats(1e3, 1e8),
       st.floats(-10.0, 10.0))
def test_tier1_spread_le_tier2_le_tier3(market: MarketArrays, pos: float, axe: float,
                                        q: float, agreement: float) -> None:
    bk = one_book(pos, float(market.mid[0]), axe=axe)
    spreads = []
    for tier in (1, 2, 3):
        bid, offer = two_sided(market, bk, q, tier, agreement)
        spreads.append(offer - bid)
    tol = 1e-12 * float(market.mid[0])
    assert spreads[0] <= spreads[1] + tol and spreads[1] <= spreads[2] + tol


@FAST
@given(st.floats(-20, 20), st.floats(0.01, 5.0), st.floats(0.1, 100.0), st.floats(0.1, 10.0),
       st.floats(0.0, 1.0), st.floats(0.1, 10.0), st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_one_asset_without_extras_reproduces_glft(q: float, sigma: float, A: float, k: float,
                                                  gamma: float, delta: float,
                                                  xi: float | None) -> None:
    setup = glft_equivalent(q, sigma, A, k, gamma, delta, xi)
    out = quote_batch(setup.rfqs, setup.market, setup.book, setup.tiers)
    b, a = glft_half_spreads(q, sigma, A, k, gamma, delta, xi)
    mid = float(setup.market.mid[0])
    np.testing.assert_allclose([mid - out.price[0], out.price[1] - mid], [b, a],
                               rtol=1e-9, atol=1e-9 * mid)


def glft_reference(q: float, sigma: float, A: float, k: float, gamma: float, delta: float,
                   xi: float) -> tuple[float, float]:
    """GLFT / Guéant (2017) written out with math, independently of the library."""
    if xi == 0:
        c0 = 1 / k
        om = math.sqrt(gamma * sigma**2 / (2 * A * delta * k) * math.e)
    else:
        c0 = 1 / (xi * delta) * math.log(1 + xi * delta / k)
        om = math.sqrt(gamma * sigma**2 / (2 * A * delta * k)
                       * (1 + xi * delta / k) ** (k / (xi * delta) + 1))
    return c0 + (2 * q + 1) * delta / 2 * om, c0 + (1 - 2 * q) * delta / 2 * om


@pytest.mark.parametrize("args", [(0, 0.3, 1.0, 1.0, 0.1, 1.0, 0.1), (2, 0.3, 0.9, 1.5, 0.05, 5.0, 0.05),
                                  (-3, 2.0, 10.0, 0.3, 0.01, 1.0, 0.0), (1, 0.5, 2.0, 2.0, 0.2, 2.0, 0.0)])
def test_glft_matches_written_out_formula(args: tuple[float, ...]) -> None:
    b, a = glft_half_spreads(*args)
    np.testing.assert_allclose([b, a], glft_reference(*args), rtol=1e-12)


def test_glft_xi_to_zero_is_continuous() -> None:
    b0, a0 = glft_half_spreads(1, 0.3, 1.0, 1.5, 0.1, 1.0, xi=0.0)
    b1, a1 = glft_half_spreads(1, 0.3, 1.0, 1.5, 0.1, 1.0, xi=1e-9)
    np.testing.assert_allclose([b1, a1], [b0, a0], rtol=1e-8)


def test_glft_broadcasts_and_inventory_skews() -> None:
    b, a = glft_half_spreads(np.arange(-2, 3)[:, None], np.array([0.2, 0.4]), 1.0, 1.0, 0.1)
    assert b.shape == (5, 2) and a.shape == (5, 2)
    assert (np.diff(b, axis=0) > 0).all() and (np.diff(a, axis=0) < 0).all()


def random_batch(rng: np.random.Generator, n: int, m: int) -> RfqArrays:
    return RfqArrays(rng.integers(0, m, n), rng.choice([-1, 1], n), rng.uniform(1e3, 3e7, n),
                     rng.integers(1, 4, n), rng.normal(0, 2, n), rng.uniform(0, 4e7, n),
                     rng.random(n) < 0.1)


def random_world(seed: int, m: int = 40) -> tuple[MarketArrays, BookArrays, TierTable]:
    from pricing.bench import demo_market

    rng = np.random.default_rng(seed)
    market, bk = demo_market(rng, m, 3)
    return market, bk, default_tier_table(3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_and_single_agree(seed: int) -> None:
    market, bk, tiers = random_world(seed)
    rng = np.random.default_rng(seed + 100)
    r = random_batch(rng, 400, market.n_instruments)
    out = quote_batch(r, market, bk, tiers)
    for i in range(len(r)):
        one = quote_one(instrument=int(r.instrument[i]), side=int(r.side[i]),
                        quantity=float(r.quantity[i]), tier=int(r.tier[i]),
                        agreement_bp=float(r.agreement_bp[i]),
                        credit_available=float(r.credit_available[i]), kill=bool(r.kill[i]),
                        market=market, book=bk, tiers=tiers)
        assert one.price == pytest.approx(float(out.price[i]), rel=1e-12)
        assert one.half_spread_bp == pytest.approx(float(out.half_spread_bp[i]), rel=1e-12,
                                                   abs=1e-12)
        for name in COMPONENTS:
            assert one.components[name] == pytest.approx(float(out.components[name][i]),
                                                         rel=1e-12, abs=1e-12)
        assert one.decision == int(out.decision[i])
        assert one.reason == REASONS[int(out.reason[i])]


def test_components_sum_to_half_spread_and_price_formula() -> None:
    market, bk, tiers = random_world(5)
    r = random_batch(np.random.default_rng(6), 1000, market.n_instruments)
    out = quote_batch(r, market, bk, tiers)
    assert set(out.components) == set(COMPONENTS)
    total = sum(out.components[c] for c in COMPONENTS)
    np.testing.assert_allclose(out.half_spread_bp, total, rtol=1e-12, atol=1e-9)
    mid = market.mid[r.instrument]
    np.testing.assert_allclose(out.price, mid + r.side * total * mid / 1e4, rtol=1e-13)
    assert (out.components["axe"] <= 0).all()
    assert (out.components["signal"][r.tier == 3] == 0).all()
    assert (out.components["agreement"] >= tiers.agreement_min_bp.min()).all()


def test_component_values_by_hand() -> None:
    market = one_market(sigma=0.004, mid=50.0, signal=3.0, stress=True, liq=2.0, se=0.1,
                        adv=1e7)
    bk = one_book(2e6, 50.0, var=1e-4, gamma=1e-6, axe=-1e6)
    tiers = default_tier_table(1)
    q = 4e6
    out = quote_one(instrument=0, side=1, quantity=q, tier=2, agreement_bp=-5.0,
                    credit_available=1e9, kill=False, market=market, book=bk, tiers=tiers)
    c = out.components
    base = 6.0
    assert c["base"] == pytest.approx(base)
    assert c["liquidity"] == pytest.approx(base * 1.0)
    assert c["volatility"] == pytest.approx(0.075 * 40.0 * math.sqrt(2.0))
    assert c["impact"] == pytest.approx(0.5 * 40.0 * math.sqrt(0.4))
    assert c["hedge"] == pytest.approx(0.5) and c["funding"] == pytest.approx(0.4)
    assert c["uncertainty"] == pytest.approx(0.75 * 0.1 / 50.0 * 1e4)
    assert c["stress"] == pytest.approx(7.5)
    notional_pos, notional_q = 2e6 * 0.5, q * 0.5
    dq = -notional_q  # client buys: the desk sells
    cost = 1e-6 * 1e-4 * notional_pos * dq + 0.5 * 1e-6 * 1e-4 * dq**2
    assert c["skew"] == pytest.approx(cost / notional_q * 1e4)
    assert c["axe"] == pytest.approx(-min(2.0 * 1e6 / q, 0.5 * 2 * base))
    assert c["signal"] == pytest.approx(3.0)
    assert c["agreement"] == pytest.approx(-1.0)
    assert out.price == pytest.approx(50.0 + out.half_spread_bp * 50.0 / 1e4)


def test_decisions_and_reasons() -> None:
    market = one_market()
    bk = one_book()
    tiers = default_tier_table(1)
    r = RfqArrays(instrument=[0] * 7, side=[1, -1, 1, 1, 1, 1, 1],
                  quantity=[1e5, 1e5, 1e5, 3e6, 3e7, 1e6, 1e5],
                  tier=[3, 1, 2, 2, 2, 3, 3], agreement_bp=[0.0] * 7,
                  credit_available=[np.inf, np.inf, np.inf, np.inf, np.inf, 5e5, np.inf],
                  kill=[False, False, True, False, False, False, False])
    out = quote_batch(r, market, bk, tiers)
    assert out.reason_names() == ["auto", "tier1_review", "kill_switch", "over_auto_size",
                                  "over_max_size", "over_credit_line", "auto"]
    assert [DECISIONS[d] for d in out.decision] == ["auto", "review", "review", "review",
                                                    "decline", "decline", "auto"]
    assert out.decision.dtype == np.int8


def test_tier1_is_always_reviewed() -> None:
    out = size_ladder([1e3, 1e4, 1e5], instrument=0, side=1, tier=1, market=one_market(),
                      book=one_book(), tiers=default_tier_table(1))
    assert (out.decision == 1).all()


def test_axe_improves_only_the_side_that_fills_it() -> None:
    market = one_market()
    flat = two_sided(market, one_book(), 1e6)
    axed = two_sided(market, one_book(axe=5e6), 1e6)  # desk wants to buy: better bid
    assert axed[0] > flat[0] and axed[1] == flat[1]


@pytest.mark.parametrize("field,value,match", [
    ("mid", [float("nan")], "mid"), ("mid", [-1.0], "mid"), ("adv", [0.0], "adv"),
    ("liquidity_factor", [0.5], "liquidity_factor"), ("sigma_daily", [1.0, 2.0], "sigma_daily"),
    ("asset_class", [0.5], "asset_class"), ("stress", [2], "stress"),
])
def test_market_arrays_reject_bad_input(field: str, value: object, match: str) -> None:
    kw = dict(mid=[100.0], mid_se=[0.0], sigma_daily=[0.0], adv=[1.0], liquidity_factor=[1.0],
              asset_class=[0], hedge_cost_bp=[0.0], funding_bp_per_day=[0.0],
              holding_days=[0.0], signal_bp=[0.0], stress=False)
    kw[field] = value
    with pytest.raises(ValueError, match=match):
        MarketArrays(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("field,value,match", [
    ("instrument", [-1], "instrument"), ("side", [0], "side"), ("quantity", [-1.0], "quantity"),
    ("quantity", [float("nan")], "quantity"), ("tier", [4], "tier"),
    ("agreement_bp", [float("inf")], "agreement_bp"), ("credit_available", [-1.0], "credit"),
    ("kill", [False, True], "kill"),
])
def test_rfq_arrays_reject_bad_input(field: str, value: object, match: str) -> None:
    kw = dict(instrument=[0], side=[1], quantity=[1.0], tier=[1], agreement_bp=[0.0],
              credit_available=[1.0], kill=[False])
    kw[field] = value
    with pytest.raises(ValueError, match=match):
        RfqArrays(**kw)  # type: ignore[arg-type]


def test_quote_entry_points_reject_bad_input() -> None:
    market, bk, tiers = one_market(), one_book(), default_tier_table(1)
    r = RfqArrays([1], [1], [1.0], [1], [0.0], [1.0], [False])
    with pytest.raises(ValueError, match="instrument"):
        quote_batch(r, market, bk, tiers)
    with pytest.raises(ValueError, match="book"):
        quote_batch(RfqArrays([0], [1], [1.0], [1], [0.0], [1.0], [False]), market,
                    BookArrays([0.0, 0.0], [0.0, 0.0], [0.0, 0.0], 0.0, [0.0, 0.0]), tiers)
    with pytest.raises(ValueError, match="asset_class"):
        quote_batch(RfqArrays([0], [1], [1.0], [1], [0.0], [1.0], [False]),
                    MarketArrays([1.0], [0.0], [0.0], [1.0], [1.0], [3], [0.0], [0.0], [0.0],
                                 [0.0]), bk, tiers)
    kw = dict(instrument=0, side=1, quantity=1.0, tier=1, agreement_bp=0.0,
              credit_available=1.0, kill=False, market=market, book=bk, tiers=tiers)
    for name, bad in (("instrument", 5), ("side", 0), ("quantity", -2.0), ("quantity", math.nan),
                      ("tier", 0), ("agreement_bp", math.nan), ("credit_available", math.nan),
                      ("kill", "yes")):
        with pytest.raises(ValueError, match=name):
            quote_one(**{**kw, name: bad})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cov"):
        BookArrays.from_covariance([1.0, 1.0], [100.0, 100.0], [[1.0, 2.0], [2.0, 1.0]], 1e-6)
    with pytest.raises(ValueError, match="gamma"):
        BookArrays([0.0], [0.0], [0.0], -1.0, [0.0])
    with pytest.raises(ValueError, match="sizes"):
        size_ladder([-1.0], instrument=0, side=1, tier=1, market=market, book=bk, tiers=tiers)
    with pytest.raises(ValueError, match="n_asset_classes"):
        default_tier_table(0)
    for name in ("q", "sigma", "A", "k", "delta", "xi"):
        args = dict(q=0.0, sigma=0.3, A=1.0, k=1.0, gamma=0.1, delta=1.0, xi=0.1)
        args[name] = math.nan if name == "q" else -1.0
        with pytest.raises(ValueError, match=name):
            glft_half_spreads(**args)  # type: ignore[arg-type]


def test_tier_table_rejects_crossing_agreement_bounds() -> None:
    t = default_tier_table(1)
    kw = {f: getattr(t, f) for f in ("base_spread_bp", "k_vol", "impact_y", "z_uncertainty",
                                     "stress_addon_bp", "axe_max_bp", "agreement_min_bp",
                                     "agreement_max_bp", "auto_size", "max_size")}
    with pytest.raises(ValueError, match="agreement_min_bp"):
        TierTable(**{**kw, "agreement_min_bp": np.full((3, 1), -100.0)})
    with pytest.raises(ValueError, match="auto_size"):
        TierTable(**{**kw, "auto_size": np.full((3, 1), 1e12)})
    with pytest.raises(ValueError, match="base_spread_bp"):
        TierTable(**{**kw, "base_spread_bp": np.ones((2, 1))})
