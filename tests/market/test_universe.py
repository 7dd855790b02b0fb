"""ISINs and the synthetic instrument universe (pure Python, no database)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealer.market.isin import is_valid_isin, isin_check_digit, make_isin
from dealer.market.universe import (
    ASSET_CLASSES,
    BOND_CLASSES,
    CREDIT_SECTORS,
    DEFAULT_MIX,
    HEDGE_CLASSES,
    RATINGS,
    SECTORS,
    UNIVERSE_AS_OF,
    InstrumentSpec,
    generate_universe,
)

REAL_ISINS = [
    "US0378331005",
    "US5949181045",
    "DE0005557508",
    "GB0002634946",
    "US38259P5089",
    "AU0000XVGZA3",
]


@pytest.fixture(scope="module")
def universe() -> list[InstrumentSpec]:
    return generate_universe()


# ---------------------------------------------------------------- ISIN


@pytest.mark.parametrize("isin", REAL_ISINS)
def test_real_isins_are_valid(isin: str) -> None:
    assert is_valid_isin(isin)
    assert isin_check_digit(isin[:11]) == isin[11]
    assert make_isin(isin[:2], isin[2:11]) == isin


@pytest.mark.parametrize("isin", REAL_ISINS)
def test_every_one_digit_change_is_invalid(isin: str) -> None:
    for pos, ch in enumerate(isin):
        if not ch.isdigit():
            continue
        for d in "0123456789":
            if d != ch:
                assert not is_valid_isin(isin[:pos] + d + isin[pos + 1 :]), (isin, pos, d)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "US037833100",
        "US03783310055",
        "us0378331005",
        "1S0378331005",
        "US03783310-5",
        "US037833100A",
        None,
        12,
    ],
)
def test_malformed_isins_are_invalid(bad: object) -> None:
    assert not is_valid_isin(bad)  # type: ignore[arg-type]


def test_make_isin_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        make_isin("U1", "037833100")
    with pytest.raises(ValueError):
        make_isin("US", "03783310")
    with pytest.raises(ValueError):
        isin_check_digit("US03783310")


@settings(max_examples=200, deadline=None)
@given(
    country=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    nsin=st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=9, max_size=9),
    data=st.data(),
)
def test_make_isin_valid_and_single_digit_errors_detected(
    country: str, nsin: str, data: st.DataObject
) -> None:
    isin = make_isin(country, nsin)
    assert is_valid_isin(isin) and isin.startswith(country + nsin)
    digit_pos = [i for i, c in enumerate(isin) if c.isdigit()]
    pos = data.draw(st.sampled_from(digit_pos))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != isin[pos]]))
    assert not is_valid_isin(isin[:pos] + new + isin[pos + 1 :])


# ---------------------------------------------------------------- universe


def test_size_and_unique_valid_isins(universe: list[InstrumentSpec]) -> None:
    assert len(universe) == 500
    isins = [s.isin for s in universe]
    assert len(set(isins)) == 500
    assert all(is_valid_isin(i) for i in isins)


def test_counts_per_asset_class(universe: list[InstrumentSpec]) -> None:
    counts = Counter(s.asset_class for s in universe)
    assert dict(counts) == DEFAULT_MIX
    assert set(counts) == set(ASSET_CLASSES)
    assert counts["govt"] == 60 and counts["ig_corp"] == 260 and counts["hy_corp"] == 150
    assert counts["cds_index"] == 8 and counts["rates_future"] == 10
    assert counts["credit_etf"] == 12


def test_rfq_enabled_rule(universe: list[InstrumentSpec]) -> None:
    for s in universe:
        assert s.rfq_enabled == (s.asset_class in BOND_CLASSES), s
    assert sum(s.rfq_enabled for s in universe) == 470


def test_static_fields_are_sane(universe: list[InstrumentSpec]) -> None:
    for s in universe:
        assert s.coupon >= 0 and round(s.coupon, 3) == s.coupon
        assert isinstance(s.coupon, float)
        assert s.rating in RATINGS
        assert s.sector in SECTORS
        assert s.currency in ("USD", "EUR")
        assert 1 <= s.liquidity_bucket <= 5
        assert s.adv > 0 and s.duration > 0 and s.initial_price > 0
        assert s.hedge_factor in ("rates", "index") + CREDIT_SECTORS + ("sovereign",)
        assert s.issuer and s.description
    currencies = Counter(s.currency for s in universe)
    assert currencies["USD"] > 0.7 * len(universe) and currencies["EUR"] > 0


def test_bonds_mature_in_the_future_and_are_described(universe: list[InstrumentSpec]) -> None:
    pattern = re.compile(r"^[A-Z0-9&().\- ]+ \d+\.\d{3}% \d{4}-\d{2}-\d{2}$")
    for s in universe:
        if s.asset_class in BOND_CLASSES:
            assert s.maturity is not None
            assert s.maturity > date(2027, 1, 1) and s.maturity > UNIVERSE_AS_OF
            assert pattern.match(s.description), s.description
            assert s.description.endswith(f"{s.coupon:.3f}% {s.maturity.isoformat()}")
            assert 50 < s.initial_price < 150
            years = (s.maturity - UNIVERSE_AS_OF).days / 365.25
            assert s.duration < years + 1e-6  # modified duration below maturity
        elif s.asset_class == "credit_etf":
            assert s.maturity is None
        else:
            assert s.maturity is not None and s.maturity > UNIVERSE_AS_OF


def test_ratings_and_sectors_by_class(universe: list[InstrumentSpec]) -> None:
    ig, hy = RATINGS.index("BBB-"), RATINGS.index("BB+")
    for s in universe:
        if s.asset_class == "ig_corp":
            assert RATINGS.index(s.rating) <= ig and s.sector in CREDIT_SECTORS
            assert s.hedge_factor == s.sector
        elif s.asset_class == "hy_corp":
            assert RATINGS.index(s.rating) >= hy and s.sector in CREDIT_SECTORS
            assert s.liquidity_bucket >= 3
        elif s.asset_class == "govt":
            assert s.sector == "sovereign"
        elif s.asset_class == "rates_future":
            assert s.hedge_factor == "rates" and s.liquidity_bucket == 1
        elif s.asset_class == "cds_index":
            assert s.hedge_factor == "index" and s.sector == "index"
    hy_c = [s.coupon for s in universe if s.asset_class == "hy_corp"]
    ig_c = [s.coupon for s in universe if s.asset_class == "ig_corp"]
    assert sum(hy_c) / len(hy_c) > sum(ig_c) / len(ig_c)  # HY pays more
    descs = {s.description for s in universe if s.asset_class in HEDGE_CLASSES}
    assert {
        "CDX NA IG S47 5Y",
        "ITRAXX EUR XOVER S46 5Y",
        "EURO-BUND FUT MAR27",
        "US 10YR NOTE FUT MAR27",
    } <= descs


def test_deterministic_and_seed_dependent(universe: list[InstrumentSpec]) -> None:
    assert generate_universe(7, 500) == universe
    other = generate_universe(8, 500)
    assert [s.isin for s in other] != [s.isin for s in universe]


@pytest.mark.parametrize("n", [1, 37, 120, 1000])
def test_other_sizes(n: int) -> None:
    specs = generate_universe(3, n)
    assert len(specs) == n
    assert len({s.isin for s in specs}) == n
    if n >= 100:
        counts = Counter(s.asset_class for s in specs)
        assert counts["cds_index"] == 8 and counts["rates_future"] == 10
        assert counts["credit_etf"] == 12


def test_spec_is_frozen(universe: list[InstrumentSpec]) -> None:
    with pytest.raises(AttributeError):
        universe[0].coupon = 1.0  # type: ignore[misc]
