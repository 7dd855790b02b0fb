"""Deterministic synthetic instrument universe for the demo desk.

`generate_universe(seed, n)` returns government bonds, investment-grade and high-yield
corporate bonds (the instruments clients ask quotes on, `rfq_enabled`), and the liquid hedge
instruments (CDS indices, rates futures, credit ETFs, `rfq_enabled` false).

Model of the static data:
- bond yield = risk-free curve (USD or EUR, upward sloping) + credit spread by rating
  (+ sovereign spread for France and Italy); coupon = yield at issue rounded to 1/8 (>= 0);
- clean price and modified duration from the bond's cash flows at that yield
  (semi-annual coupons in USD, annual in EUR), as of `UNIVERSE_AS_OF`;
- liquidity bucket 1 (most liquid) .. 5 (least) by asset class; average daily volume (face)
  falls by bucket;
- `hedge_factor`: the factor the instrument loads on in the simulator's factor model:
  'rates' (pure rates: treasuries, futures), a credit sector name (corporate bonds, sector
  ETFs, 'sovereign' for non-US government bonds), or 'index' (CDS indices and broad credit
  ETFs: the average of the corporate sector spread factors).

Every name is invented. No Django here: stdlib + numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from .isin import is_valid_isin, make_isin

__all__ = [
    "ASSET_CLASSES",
    "BOND_CLASSES",
    "CREDIT_SECTORS",
    "DEFAULT_MIX",
    "HEDGE_CLASSES",
    "RATINGS",
    "SECTORS",
    "UNIVERSE_AS_OF",
    "InstrumentSpec",
    "generate_universe",
]

ASSET_CLASSES: tuple[str, ...] = (
    "govt",
    "ig_corp",
    "hy_corp",
    "cds_index",
    "rates_future",
    "credit_etf",
)
BOND_CLASSES: tuple[str, ...] = ("govt", "ig_corp", "hy_corp")
HEDGE_CLASSES: tuple[str, ...] = ("cds_index", "rates_future", "credit_etf")

#: Corporate credit sectors (each one is a spread factor in the simulator).
CREDIT_SECTORS: tuple[str, ...] = (
    "financials",
    "energy",
    "utilities",
    "industrials",
    "technology",
    "telecom",
    "consumer",
    "healthcare",
)
SECTORS: tuple[str, ...] = CREDIT_SECTORS + ("sovereign", "index")

RATINGS: tuple[str, ...] = (
    "AAA",
    "AA+",
    "AA",
    "AA-",
    "A+",
    "A",
    "A-",
    "BBB+",
    "BBB",
    "BBB-",
    "BB+",
    "BB",
    "BB-",
    "B+",
    "B",
    "B-",
    "CCC+",
    "CCC",
)
_IG_RATINGS = RATINGS[:10]
_HY_RATINGS = RATINGS[10:]

#: Valuation date of the static data (prices, durations); bonds all mature after 2027-01-01.
UNIVERSE_AS_OF = date(2026, 12, 1)

#: Instrument counts for the default 500-instrument universe.
DEFAULT_MIX: dict[str, int] = {
    "govt": 60,
    "ig_corp": 260,
    "hy_corp": 150,
    "cds_index": 8,
    "rates_future": 10,
    "credit_etf": 12,
}


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """Static description of one instrument (prices clean per 100 face; ETFs per share)."""

    isin: str
    description: str
    asset_class: str
    issuer: str
    sector: str
    rating: str
    coupon: float  # percent per year, >= 0, 3 dp
    maturity: date | None  # None only for ETFs
    currency: str
    liquidity_bucket: int  # 1 most liquid .. 5 least
    adv: float  # average daily volume, face (shares for ETFs, face for futures / CDS)
    duration: float  # modified (spread) duration, years
    initial_price: float
    rfq_enabled: bool
    hedge_factor: str  # 'rates', a sector name, or 'index'


# --------------------------------------------------------------------------- pricing helpers


def _riskfree(currency: str, t: float) -> float:
    """Risk-free par yield (decimal) at maturity t years: an upward-sloping Nelson-Siegel-like curve."""
    slope = 1.0 - math.exp(-t / 6.0)
    if currency == "EUR":
        return 0.0200 + 0.0110 * slope
    return 0.0360 + 0.0095 * slope


def _rating_spread(rating: str) -> float:
    """Credit spread (decimal) by rating notch: 35 bp for AAA up to ~1,000 bp for CCC."""
    k = RATINGS.index(rating)
    return 0.0035 * math.exp(0.19 * k)


def _bond_price_duration(coupon_pct: float, y: float, t: float, freq: int) -> tuple[float, float]:
    """Clean price per 100 and modified duration of a bullet bond with t years left at yield y."""

    def dirty(yy: float) -> float:
        n = math.floor(t * freq + 1e-9)
        times = [t - k / freq for k in range(n + 1)]
        times = [x for x in times if x > 1e-9]
        cf = coupon_pct / freq
        pv = sum(cf * (1.0 + yy / freq) ** (-freq * x) for x in times)
        pv += 100.0 * (1.0 + yy / freq) ** (-freq * t)
        return float(pv)

    first = t - math.floor(t * freq + 1e-9) / freq
    if first <= 1e-9:
        first = 1.0 / freq
    accrued = coupon_pct / freq * (1.0 - first * freq)
    p = dirty(y)
    h = 1e-5
    mod_dur = -(dirty(y + h) - dirty(y - h)) / (2 * h) / p
    return p - accrued, mod_dur


def _add_years(d: date, years: float, day: int = 15) -> date:
    months = round(years * 12)
    m0 = d.year * 12 + (d.month - 1) + months
    return date(m0 // 12, m0 % 12 + 1, day)


def _cusip_check(body8: str) -> str:
    """CUSIP check digit (so that US NSINs look like real CUSIPs)."""
    total = 0
    for i, ch in enumerate(body8):
        v = int(ch) if ch.isdigit() else ord(ch) - 55
        if i % 2 == 1:
            v *= 2
        total += v // 10 + v % 10
    return str((10 - total % 10) % 10)


_ALNUM = np.array(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"))  # no I, O (CUSIP style)


class _IsinFactory:
    """Unique ISINs drawn from the universe's generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def _digits(self, n: int) -> str:
        return "".join(str(int(x)) for x in self.rng.integers(0, 10, n))

    def _alnum(self, n: int) -> str:
        return "".join(str(x) for x in self.rng.choice(_ALNUM, n))

    def new(self, country: str, style: str, issuer_code: str = "") -> str:
        for _ in range(1000):
            if style == "cusip":  # 6-char issuer code + 2-char issue + check
                code = issuer_code or (self._digits(3) + self._alnum(3))
                body8 = code[:6] + self._alnum(2)
                nsin = body8 + _cusip_check(body8)
            elif style == "ust":
                body8 = "91282C" + self._alnum(2)
                nsin = body8 + _cusip_check(body8)
            elif style == "de":
                nsin = "0001" + self._digits(5)
            elif style == "it":
                nsin = "0005" + self._digits(5)
            elif style == "fr":
                nsin = "001" + self._digits(6)
            else:  # 'num': Eurobond / UCITS style, 9 digits
                nsin = self._digits(9)
            isin = make_isin(country, nsin)
            if isin not in self.seen:
                self.seen.add(isin)
                return isin
        raise RuntimeError("could not draw a unique ISIN")


# --------------------------------------------------------------------------- names

_PREFIXES = (
    "Northwind",
    "Bluewater",
    "Granite",
    "Silverline",
    "Redwood",
    "Harbor",
    "Summit",
    "Ironclad",
    "Meridian",
    "Cascade",
    "Pinnacle",
    "Evergreen",
    "Atlas",
    "Beacon",
    "Crescent",
    "Keystone",
    "Lakeshore",
    "Orion",
    "Sterling",
    "Vantage",
    "Copperfield",
    "Highland",
    "Brightwater",
    "Oakridge",
    "Westbrook",
    "Falcon",
    "Juniper",
    "Stonebridge",
    "Tidewater",
    "Riverbend",
    "Clearpoint",
    "Aurora",
    "Halcyon",
    "Larkspur",
    "Palisade",
    "Quarry",
    "Sable",
    "Thornbury",
    "Umber",
    "Windward",
)
_NOUNS: dict[str, tuple[str, ...]] = {
    "financials": ("Bancorp", "Financial", "Capital", "Insurance Group", "Trust"),
    "energy": ("Energy", "Petroleum", "Midstream", "Resources", "Oil & Gas"),
    "utilities": ("Utilities", "Electric", "Gas & Light", "Water", "Power"),
    "industrials": ("Industries", "Aerospace", "Logistics", "Machinery", "Rail"),
    "technology": ("Technologies", "Semiconductor", "Software", "Systems", "Data"),
    "telecom": ("Telecom", "Communications", "Networks", "Wireless", "Cable"),
    "consumer": ("Foods", "Brands", "Retail", "Beverages", "Apparel"),
    "healthcare": ("Health", "Pharmaceuticals", "Medical", "Biosciences", "Care"),
}
_SECTOR_WEIGHTS = np.array([0.20, 0.13, 0.12, 0.14, 0.12, 0.09, 0.11, 0.09])


def _allocate(n: int) -> dict[str, int]:
    """Counts per asset class: hedges fixed (8/10/12) when n >= 100, bonds pro rata 60:260:150."""
    if n <= 0:
        raise ValueError("n_instruments: must be positive")
    hedges = {k: DEFAULT_MIX[k] for k in HEDGE_CLASSES}
    if n < 100:  # scale everything, largest remainder
        weights = {k: DEFAULT_MIX[k] * n / 500.0 for k in ASSET_CLASSES}
    else:
        nb = n - sum(hedges.values())
        tot = sum(DEFAULT_MIX[k] for k in BOND_CLASSES)
        weights = {k: DEFAULT_MIX[k] * nb / tot for k in BOND_CLASSES}
        weights.update({k: float(v) for k, v in hedges.items()})
    counts = {k: math.floor(v) for k, v in weights.items()}
    rest = n - sum(counts.values())
    order = sorted(weights, key=lambda k: -(weights[k] - counts[k]))
    for k in order[:rest]:
        counts[k] += 1
    return {k: counts.get(k, 0) for k in ASSET_CLASSES}


def _round3(x: float) -> float:
    return float(round(x, 3))


def _adv(rng: np.random.Generator, bucket: int) -> float:
    base = (3e9, 4e8, 6e7, 1.2e7, 2.5e6)[bucket - 1]
    return float(round(base * float(rng.lognormal(0.0, 0.35)), -3))


# --------------------------------------------------------------------------- generators


def _govts(rng: np.random.Generator, isins: _IsinFactory, n: int) -> list[InstrumentSpec]:
    out: list[InstrumentSpec] = []
    # (issuer, desc, country, style, currency, rating, sovereign spread, share, factor)
    issuers = (
        ("United States Treasury", "US TREASURY", "US", "ust", "USD", "AA+", 0.0, 40, "rates"),
        (
            "Federal Republic of Germany",
            "BUNDESREPUBLIK",
            "DE",
            "de",
            "EUR",
            "AAA",
            0.0,
            10,
            "sovereign",
        ),
        ("French Republic", "FRANCE (OAT)", "FR", "fr", "EUR", "AA-", 0.0070, 5, "sovereign"),
        ("Republic of Italy", "ITALY (BTP)", "IT", "it", "EUR", "BBB", 0.0110, 5, "sovereign"),
    )
    total = sum(i[7] for i in issuers)
    counts = [n * i[7] // total for i in issuers]
    counts[0] += n - sum(counts)
    on_the_run = (2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 30.0)
    for (issuer, desc, country, style, ccy, rating, sov, _, factor), cnt in zip(issuers, counts):
        for j in range(cnt):
            if style == "ust" and j < len(on_the_run):
                t = on_the_run[j]
                bucket = 1
            else:
                t = float(rng.choice(on_the_run)) * float(rng.uniform(0.35, 1.0))
                t = max(t, 0.5)
                bucket = (
                    (1 if rng.random() < 0.3 else 2)
                    if style == "ust"
                    else int(rng.choice([2, 3], p=[0.6, 0.4]))
                )
            maturity = _add_years(UNIVERSE_AS_OF, t, 15)
            t_act = (maturity - UNIVERSE_AS_OF).days / 365.25
            y = _riskfree(ccy, t_act) + sov
            y_issue = y + float(rng.normal(0.0, 0.006))
            coupon = _round3(max(0.0, round(y_issue * 100 * 8) / 8))
            freq = 2 if ccy == "USD" else 1
            price, dur = _bond_price_duration(coupon, y, t_act, freq)
            out.append(
                InstrumentSpec(
                    isin=isins.new(country, style),
                    description=f"{desc} {coupon:.3f}% {maturity.isoformat()}",
                    asset_class="govt",
                    issuer=issuer,
                    sector="sovereign",
                    rating=rating,
                    coupon=coupon,
                    maturity=maturity,
                    currency=ccy,
                    liquidity_bucket=bucket,
                    adv=_adv(rng, bucket) * (3.0 if style == "ust" else 1.0),
                    duration=_round3(dur),
                    initial_price=_round3(price),
                    rfq_enabled=True,
                    hedge_factor=factor,
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class _Issuer:
    name: str
    sector: str
    rating: str
    currency: str
    code: str  # CUSIP-style 6-char issuer code


def _issuers(
    rng: np.random.Generator,
    n_issuers: int,
    ratings: tuple[str, ...],
    rating_p: np.ndarray,
    used: set[str],
    isins: _IsinFactory,
) -> list[_Issuer]:
    out: list[_Issuer] = []
    sectors = np.array(CREDIT_SECTORS)
    while len(out) < n_issuers:
        sector = str(rng.choice(sectors, p=_SECTOR_WEIGHTS / _SECTOR_WEIGHTS.sum()))
        name = f"{rng.choice(_PREFIXES)} {rng.choice(_NOUNS[sector])}"
        if name in used:
            continue
        used.add(name)
        eur = rng.random() < 0.15
        legal = (
            str(rng.choice(["SE", "NV", "AG", "SA"]))
            if eur
            else str(rng.choice(["Inc.", "Corp.", "Co.", "Holdings"]))
        )
        rating = str(rng.choice(np.array(ratings), p=rating_p))
        code = isins._digits(3) + isins._alnum(3)
        out.append(_Issuer(f"{name} {legal}", sector, rating, "EUR" if eur else "USD", code))
    return out


def _corps(
    rng: np.random.Generator, isins: _IsinFactory, n: int, asset_class: str, used_names: set[str]
) -> list[InstrumentSpec]:
    if n == 0:
        return []
    ig = asset_class == "ig_corp"
    tenors: tuple[float, ...]
    tp: tuple[float, ...]
    buckets: tuple[int, ...]
    bp: tuple[float, ...]
    if ig:
        ratings = _IG_RATINGS
        p = np.array([0.02, 0.03, 0.05, 0.08, 0.10, 0.12, 0.14, 0.16, 0.16, 0.14])
        tenors, tp = (2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 30.0), (0.1, 0.15, 0.2, 0.15, 0.2, 0.08, 0.12)
        buckets, bp = (2, 3, 4, 5), (0.35, 0.40, 0.20, 0.05)
        per_issuer = 3.5
    else:
        ratings = _HY_RATINGS
        p = np.array([0.20, 0.20, 0.18, 0.15, 0.12, 0.08, 0.05, 0.02])
        tenors, tp = (3.0, 5.0, 7.0, 8.0, 10.0), (0.15, 0.3, 0.25, 0.15, 0.15)
        buckets, bp = (3, 4, 5), (0.30, 0.45, 0.25)
        per_issuer = 3.0
    issuers = _issuers(rng, max(1, round(n / per_issuer)), ratings, p / p.sum(), used_names, isins)
    out: list[InstrumentSpec] = []
    for k in range(n):
        iss = (
            issuers[k % len(issuers)]
            if k < len(issuers)
            else issuers[int(rng.integers(0, len(issuers)))]
        )
        t = float(rng.choice(tenors, p=tp)) * float(rng.uniform(0.3, 1.0))
        t = max(t, 0.6)
        maturity = _add_years(UNIVERSE_AS_OF, t, int(rng.choice([1, 15])))
        t_act = (maturity - UNIVERSE_AS_OF).days / 365.25
        spread = _rating_spread(iss.rating) * (0.75 + 0.5 * min(t_act, 30.0) / 30.0)
        y = _riskfree(iss.currency, t_act) + spread
        y_issue = y + float(rng.normal(0.0, 0.008 if ig else 0.012))
        coupon = _round3(max(0.0, round(y_issue * 100 * 8) / 8))
        freq = 2 if iss.currency == "USD" else 1
        price, dur = _bond_price_duration(coupon, y, t_act, freq)
        bucket = int(rng.choice(buckets, p=bp))
        if iss.currency == "USD":
            isin = isins.new("US", "cusip", iss.code)
        else:
            isin = isins.new("XS", "num")
        short = iss.name.upper().replace(".", "")
        out.append(
            InstrumentSpec(
                isin=isin,
                description=f"{short} {coupon:.3f}% {maturity.isoformat()}",
                asset_class=asset_class,
                issuer=iss.name,
                sector=iss.sector,
                rating=iss.rating,
                coupon=coupon,
                maturity=maturity,
                currency=iss.currency,
                liquidity_bucket=bucket,
                adv=_adv(rng, bucket),
                duration=_round3(dur),
                initial_price=_round3(price),
                rfq_enabled=True,
                hedge_factor=iss.sector,
            )
        )
    return out


def _cds_indices(rng: np.random.Generator, isins: _IsinFactory, n: int) -> list[InstrumentSpec]:
    # (description, issuer, currency, rating, coupon %, spread bp, maturity, bucket, adv)
    rows = (
        (
            "CDX NA IG S47 5Y",
            "CDX North America Investment Grade",
            "USD",
            "BBB+",
            1.0,
            55.0,
            date(2031, 12, 20),
            1,
            1.5e10,
        ),
        (
            "CDX NA HY S47 5Y",
            "CDX North America High Yield",
            "USD",
            "B+",
            5.0,
            330.0,
            date(2031, 12, 20),
            1,
            4e9,
        ),
        (
            "ITRAXX EUR MAIN S46 5Y",
            "iTraxx Europe Main",
            "EUR",
            "BBB+",
            1.0,
            60.0,
            date(2031, 12, 20),
            1,
            1e10,
        ),
        (
            "ITRAXX EUR XOVER S46 5Y",
            "iTraxx Europe Crossover",
            "EUR",
            "BB-",
            5.0,
            290.0,
            date(2031, 12, 20),
            1,
            3e9,
        ),
        (
            "CDX NA IG S46 5Y",
            "CDX North America Investment Grade",
            "USD",
            "BBB+",
            1.0,
            52.0,
            date(2031, 6, 20),
            2,
            3e9,
        ),
        (
            "CDX NA HY S46 5Y",
            "CDX North America High Yield",
            "USD",
            "B+",
            5.0,
            320.0,
            date(2031, 6, 20),
            2,
            8e8,
        ),
        (
            "ITRAXX EUR MAIN S45 5Y",
            "iTraxx Europe Main",
            "EUR",
            "BBB+",
            1.0,
            57.0,
            date(2031, 6, 20),
            2,
            2e9,
        ),
        (
            "ITRAXX EUR XOVER S45 5Y",
            "iTraxx Europe Crossover",
            "EUR",
            "BB-",
            5.0,
            280.0,
            date(2031, 6, 20),
            2,
            6e8,
        ),
    )
    out: list[InstrumentSpec] = []
    for k in range(n):
        desc, issuer, ccy, rating, cpn, sprd, mat, bucket, adv = rows[k % len(rows)]
        if k >= len(rows):
            desc = f"{desc} R{k // len(rows)}"
        t = (mat - UNIVERSE_AS_OF).days / 365.25
        dur = (1.0 - math.exp(-0.04 * t)) / 0.04  # risky annuity, ~4% discount + hazard
        sprd_k = sprd * float(rng.uniform(0.97, 1.03))
        price = 100.0 + (cpn - sprd_k / 100.0) * dur  # long-risk price per 100
        out.append(
            InstrumentSpec(
                isin=isins.new("XS", "num"),
                description=desc,
                asset_class="cds_index",
                issuer=issuer,
                sector="index",
                rating=rating,
                coupon=_round3(cpn),
                maturity=mat,
                currency=ccy,
                liquidity_bucket=bucket,
                adv=adv,
                duration=_round3(dur),
                initial_price=_round3(price),
                rfq_enabled=False,
                hedge_factor="index",
            )
        )
    return out


def _futures(rng: np.random.Generator, isins: _IsinFactory, n: int) -> list[InstrumentSpec]:
    # (description, issuer, currency, country, rating, duration, price, maturity)
    rows = (
        (
            "US 2YR NOTE FUT MAR27",
            "US Treasury Futures",
            "USD",
            "US",
            "AA+",
            1.9,
            103.52,
            date(2027, 3, 31),
        ),
        (
            "US 5YR NOTE FUT MAR27",
            "US Treasury Futures",
            "USD",
            "US",
            "AA+",
            4.1,
            108.23,
            date(2027, 3, 31),
        ),
        (
            "US 10YR NOTE FUT MAR27",
            "US Treasury Futures",
            "USD",
            "US",
            "AA+",
            6.3,
            111.88,
            date(2027, 3, 22),
        ),
        (
            "US ULTRA 10YR FUT MAR27",
            "US Treasury Futures",
            "USD",
            "US",
            "AA+",
            8.4,
            114.47,
            date(2027, 3, 22),
        ),
        (
            "US LONG BOND FUT MAR27",
            "US Treasury Futures",
            "USD",
            "US",
            "AA+",
            11.8,
            117.31,
            date(2027, 3, 22),
        ),
        (
            "US ULTRA BOND FUT MAR27",
            "US Treasury Futures",
            "USD",
            "US",
            "AA+",
            16.5,
            121.59,
            date(2027, 3, 22),
        ),
        (
            "EURO-SCHATZ FUT MAR27",
            "German Government Futures",
            "EUR",
            "DE",
            "AAA",
            1.9,
            106.91,
            date(2027, 3, 10),
        ),
        (
            "EURO-BOBL FUT MAR27",
            "German Government Futures",
            "EUR",
            "DE",
            "AAA",
            4.3,
            117.64,
            date(2027, 3, 10),
        ),
        (
            "EURO-BUND FUT MAR27",
            "German Government Futures",
            "EUR",
            "DE",
            "AAA",
            7.9,
            128.42,
            date(2027, 3, 10),
        ),
        (
            "EURO-BUXL FUT MAR27",
            "German Government Futures",
            "EUR",
            "DE",
            "AAA",
            19.5,
            118.25,
            date(2027, 3, 10),
        ),
    )
    out: list[InstrumentSpec] = []
    for k in range(n):
        desc, issuer, ccy, country, rating, dur, price, mat = rows[k % len(rows)]
        if k >= len(rows):
            desc = f"{desc} R{k // len(rows)}"
        out.append(
            InstrumentSpec(
                isin=isins.new(country, "num"),
                description=desc,
                asset_class="rates_future",
                issuer=issuer,
                sector="sovereign",
                rating=rating,
                coupon=6.0,
                maturity=mat,
                currency=ccy,
                liquidity_bucket=1,
                adv=float(round(5e10 * rng.lognormal(0, 0.3), -3)),
                duration=dur,
                initial_price=_round3(price * float(rng.uniform(0.995, 1.005))),
                rfq_enabled=False,
                hedge_factor="rates",
            )
        )
    return out


def _etfs(rng: np.random.Generator, isins: _IsinFactory, n: int) -> list[InstrumentSpec]:
    # (description, currency, rating, sector/factor, duration, price per share, bucket)
    rows = (
        ("CORNERSTONE INVESTMENT GRADE CORP BOND ETF", "USD", "A-", "index", 8.3, 108.4, 1),
        ("CORNERSTONE HIGH YIELD CORP BOND ETF", "USD", "BB-", "index", 3.3, 79.6, 1),
        ("SENTRY HIGH YIELD BOND ETF", "USD", "BB-", "index", 3.4, 95.2, 1),
        ("ANCHOR INTERMEDIATE CORP BOND ETF", "USD", "BBB+", "index", 6.0, 81.3, 1),
        ("ANCHOR SHORT-TERM CORP BOND ETF", "USD", "A-", "index", 2.5, 78.1, 1),
        ("ANCHOR LONG-TERM CORP BOND ETF", "USD", "A-", "index", 13.0, 77.9, 2),
        ("CORNERSTONE FALLEN ANGELS HY ETF", "USD", "BB+", "index", 6.1, 28.4, 2),
        ("SENTRY FINANCIALS CORP BOND ETF", "USD", "A-", "financials", 5.2, 24.6, 2),
        ("SENTRY ENERGY CORP BOND ETF", "USD", "BBB", "energy", 6.4, 23.9, 2),
        ("SENTRY UTILITIES CORP BOND ETF", "USD", "BBB+", "utilities", 7.8, 22.7, 2),
        ("CORNERSTONE EUR CORP BOND UCITS ETF", "EUR", "A-", "index", 4.5, 121.3, 2),
        ("CORNERSTONE EUR HIGH YIELD UCITS ETF", "EUR", "BB-", "index", 3.0, 91.8, 2),
    )
    out: list[InstrumentSpec] = []
    for k in range(n):
        desc, ccy, rating, factor, dur, price, bucket = rows[k % len(rows)]
        if k >= len(rows):
            desc = f"{desc} R{k // len(rows)}"
        family = desc.split()[0].title()
        out.append(
            InstrumentSpec(
                isin=isins.new("US", "cusip") if ccy == "USD" else isins.new("IE", "num"),
                description=desc,
                asset_class="credit_etf",
                issuer=f"{family} Funds",
                sector=factor,
                rating=rating,
                coupon=0.0,
                maturity=None,
                currency=ccy,
                liquidity_bucket=bucket,
                adv=float(round((3e7 if bucket == 1 else 3e6) * rng.lognormal(0, 0.3), -2)),
                duration=dur,
                initial_price=_round3(price * float(rng.uniform(0.99, 1.01))),
                rfq_enabled=False,
                hedge_factor=factor,
            )
        )
    return out


def generate_universe(seed: int = 7, n_instruments: int = 500) -> list[InstrumentSpec]:
    """Deterministic universe: the same (seed, n_instruments) always gives the same list.

    Order: govt, ig_corp, hy_corp, cds_index, rates_future, credit_etf.
    """
    rng = np.random.default_rng([int(seed), 0x0DE1])
    isins = _IsinFactory(rng)
    counts = _allocate(int(n_instruments))
    used: set[str] = set()
    specs = (
        _govts(rng, isins, counts["govt"])
        + _corps(rng, isins, counts["ig_corp"], "ig_corp", used)
        + _corps(rng, isins, counts["hy_corp"], "hy_corp", used)
        + _cds_indices(rng, isins, counts["cds_index"])
        + _futures(rng, isins, counts["rates_future"])
        + _etfs(rng, isins, counts["credit_etf"])
    )
    assert all(is_valid_isin(s.isin) for s in specs)
    return specs
