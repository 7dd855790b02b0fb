"""Selectors that load what the pricer needs, as arrays indexed by `Instrument.sim_index`."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import Iterable

import numpy as np
from django.conf import settings
from django.db import connection
from django.utils import timezone

from crm.models import Agreement, Tier, TierLimit
from crm.selectors import agreement_applies
from dealer.desk.context_versions import versions
from dealer.desk.models import Axe, Position, Rfq, Switch
from dealer.market.models import AssetClass, Instrument, SimulatorState
from dealer.market.selectors import Snapshot, latest_snapshot  # noqa: F401  (the pricing service reads it here)
from dealer.market.units import money_per_point
from dealer.market.universe_cache import universe
from pricing.quoting import BookArrays, MarketArrays, TierTable, default_tier_table

GAMMA = 5e-7  # desk risk aversion, 1 / currency
FUNDING_BP_PER_DAY = 0.15


@dataclass(frozen=True)
class StaticArrays:
    """Per-instrument reference data that changes only when instruments do."""

    ids: np.ndarray
    isin: list[str]
    issuer: list[str]
    sector: list[str]
    asset_class: np.ndarray
    asset_class_codes: list[str]
    adv: np.ndarray
    liquidity_factor: np.ndarray
    hedge_cost_bp: np.ndarray
    holding_days: np.ndarray
    money_per_point: np.ndarray  # per unit of quantity (dealer.market.units): 0.01 per 100 face, 1 a share
    index_of_id: dict[int, int]
    instruments: dict[int, Instrument]


def static_arrays() -> StaticArrays:
    """The instruments' reference arrays, from the cached pricing context's reference part."""
    return _reference().static


def _load_static() -> StaticArrays:
    codes = list(AssetClass.objects.order_by("id").values_list("code", flat=True))
    ac_index = {c: i for i, c in enumerate(codes)}
    rows = list(Instrument.objects.select_related("asset_class").order_by("sim_index"))
    m = (rows[-1].sim_index + 1) if rows else 0
    ids = np.zeros(m, dtype=np.int64)
    isin, issuer, sector = [""] * m, [""] * m, [""] * m
    ac = np.zeros(m, dtype=np.intp)
    adv = np.full(m, 1e6)
    bucket = np.full(m, 3.0)
    for r in rows:
        i = r.sim_index
        ids[i] = r.id
        isin[i], issuer[i], sector[i] = r.isin, r.issuer, r.sector
        ac[i] = ac_index[r.asset_class.code]
        adv[i] = max(float(r.adv), 1.0)
        bucket[i] = r.liquidity_bucket
    return StaticArrays(
        ids=ids, isin=isin, issuer=issuer, sector=sector,
        asset_class=ac, asset_class_codes=codes, adv=adv, liquidity_factor=1.0 + 0.2 * (bucket - 1.0),
        hedge_cost_bp=0.25 * bucket, holding_days=0.5 * bucket,
        money_per_point=np.array([money_per_point(codes[a]) for a in ac], dtype=float),
        index_of_id={int(r.id): r.sim_index for r in rows}, instruments={int(r.id): r for r in rows},
    )


def tier_table(static: StaticArrays) -> tuple[TierTable, dict[int, Tier], set[tuple[int, str]]]:
    """Management's tier parameters, read fresh for every batch (a change applies at once), and the
    (tier, asset class) pairs that have none: RFQs there are declined, never priced on defaults."""
    n_ac = len(static.asset_class_codes)
    base = default_tier_table(n_ac)
    tiers = {t.number: t for t in Tier.objects.all()}
    spread = base.base_spread_bp.copy()
    auto = base.auto_size.copy()
    mx = base.max_size.copy()
    ac_pos = {c: i for i, c in enumerate(static.asset_class_codes)}
    missing = {(n, c) for n in (1, 2, 3) for c in static.asset_class_codes}
    for lim in TierLimit.objects.select_related("tier", "asset_class"):
        missing.discard((lim.tier.number, lim.asset_class.code))
        t, a = lim.tier.number - 1, ac_pos.get(lim.asset_class.code)
        if a is None:
            continue
        spread[t, a] = max(lim.base_spread_bp, 1e-6)
        auto[t, a] = float(lim.auto_size)
        mx[t, a] = float(lim.max_size)
    share = base.axe_share
    amin = np.empty_like(spread)
    amax = np.empty_like(spread)
    for n in (1, 2, 3):
        t = tiers.get(n)
        lo = t.agreement_min_bp if t else -1.0
        hi = t.agreement_max_bp if t else 2.0
        # Never let an agreement cross the quote: stay above -(1 - axe_share) * base.
        amin[n - 1] = np.maximum(lo, -(1.0 - share) * spread[n - 1] * 0.999)
        amax[n - 1] = hi
    table = TierTable(
        base_spread_bp=spread, k_vol=base.k_vol, impact_y=base.impact_y, z_uncertainty=base.z_uncertainty,
        stress_addon_bp=base.stress_addon_bp, axe_max_bp=base.axe_max_bp, agreement_min_bp=amin,
        agreement_max_bp=np.maximum(amax, amin), auto_size=auto, max_size=mx, axe_share=share,
    )
    return table, tiers, missing


def market_arrays(static: StaticArrays, snap: Snapshot, stressed_classes: set[str]) -> MarketArrays:
    a = snap.arrays
    m = static.ids.size
    stress = np.zeros(m, dtype=bool)
    if snap.stressed or "desk" in stressed_classes:  # the desk's switch applies before the next tick
        stress[:] = True
    for code in stressed_classes:
        if code in static.asset_class_codes:
            stress |= static.asset_class == static.asset_class_codes.index(code)
    return MarketArrays(
        mid=a["mid"][:m], mid_se=a["fv_se"][:m], sigma_daily=a["sigma"][:m], adv=static.adv,
        liquidity_factor=static.liquidity_factor, asset_class=static.asset_class,
        hedge_cost_bp=static.hedge_cost_bp, funding_bp_per_day=np.full(m, FUNDING_BP_PER_DAY),
        holding_days=static.holding_days, signal_bp=np.clip(a["signal_bp"][:m], -5.0, 5.0), stress=stress,
    )


def book_holdings(static: StaticArrays) -> tuple[np.ndarray, np.ndarray]:
    """Positions and active axes (buy positive) as arrays over the instruments."""
    m = static.ids.size
    position = np.zeros(m)
    for iid, qty in Position.objects.values_list("instrument_id", "quantity"):
        i = static.index_of_id.get(iid)
        if i is not None:
            position[i] = float(qty)
    axe = np.zeros(m)
    for iid, side, qty in Axe.objects.filter(active=True).values_list("instrument_id", "side", "quantity"):
        i = static.index_of_id.get(iid)
        if i is not None:
            axe[i] += float(qty) if side == "buy" else -float(qty)
    return position, axe


def book_arrays(static: StaticArrays, mid: np.ndarray, cov: np.ndarray,
                holdings: tuple[np.ndarray, np.ndarray] | None = None) -> BookArrays:
    """Positions and active axes as arrays; Sigma x of the book's notionals (money) under `cov`."""
    position, axe = book_holdings(static) if holdings is None else holdings
    sigma_x = cov @ (position * mid * static.money_per_point)
    return BookArrays(position=position, sigma_x=sigma_x, sigma_diag=np.diag(cov).copy(), gamma=GAMMA, axe=axe)


def switches() -> tuple[set[str], set[str]]:
    """(kill scopes on, stress scopes on)."""
    kill, stress = set(), set()
    for name, scope in Switch.objects.filter(on=True).values_list("name", "scope"):
        (kill if name == "kill" else stress).add(scope)
    return kill, stress


def agreements_for(rfqs: Iterable[Rfq], static: StaticArrays,
                   by_client: dict[int, list[Agreement]]) -> dict[int, tuple[float, int | None]]:
    """Per RFQ id: the agreement adjustment (bp) and the agreement that shaped it.

    The most specific agreement wins: instrument, issuer, sector, side, then all.
    """
    rank = {"instrument": 0, "issuer": 1, "sector": 2, "side": 3, "all": 4}
    out: dict[int, tuple[float, int | None]] = {}
    for r in rfqs:
        i = static.index_of_id[r.instrument_id]
        best = None
        for a in by_client.get(r.client_id, ()):
            if agreement_applies(a, isin=static.isin[i], issuer=static.issuer[i], sector=static.sector[i], side=r.side):
                if best is None or rank[a.scope] < rank[best.scope]:
                    best = a
        out[r.id] = (best.spread_adjustment_bp, best.id) if best else (0.0, None)
    return out


# The context kept between batches -------------------------------------------------------------

# A full reload at least this often, whatever the versions say (a safety net), in a quiet moment
# of a pricing run; a batch reloads only once the context is BATCH_MAX_AGE_SECONDS old (a full
# reload is ~30 ms, in the batch of the RFQs that wait for it; a steady flow leaves no quiet moment).
MAX_AGE_SECONDS = 30.0
BATCH_MAX_AGE_SECONDS = 300.0


@dataclass(frozen=True)
class Reference:
    """What changes when people change it: instruments, tiers and limits, switches, agreements."""

    static: StaticArrays
    tiers_table: TierTable
    tiers: dict[int, Tier]
    unparameterized: set[tuple[int, str]]
    kill_scopes: set[str]
    stress_scopes: set[str]
    agreements: dict[int, list[Agreement]]
    on: date


@dataclass(frozen=True)
class PricingContext:
    versions: tuple[int, ...]
    loaded_at: float
    reference: Reference
    snap: Snapshot
    market: MarketArrays
    book: BookArrays


_lock = threading.Lock()
_context: PricingContext | None = None
_ref: tuple[tuple[int, ...], float, Reference] | None = None


def _load_reference(on: date) -> Reference:
    static = _load_static()
    table, tiers, missing = tier_table(static)
    kill, stress = switches()
    every = list(Agreement.objects.filter(start__lte=on, end__gte=on).order_by("id"))
    agreements: dict[int, list[Agreement]] = {}
    for a in every:
        agreements.setdefault(a.client_id, []).append(a)
    return Reference(static=static, tiers_table=table, tiers=tiers, unparameterized=missing, kill_scopes=kill,
                     stress_scopes=stress, agreements=agreements, on=on)


def _reference(v: tuple[int, ...] | None = None, now: float | None = None, on: date | None = None, *,
               reload: bool = False, max_age: float = MAX_AGE_SECONDS) -> Reference:
    global _ref
    v = versions.read() if v is None else v
    now = time.monotonic() if now is None else now
    on = timezone.now().date() if on is None else on
    with _lock:
        held = _ref
    if held is not None and held[0][0] == v[0] and now - held[1] < max_age and held[2].on == on \
            and not reload:
        return held[2]
    ref = _load_reference(on)
    with _lock:
        _ref = (v, now, ref)
    return ref


def pricing_context(*, reload: bool = False, read_versions: tuple[int, ...] | None = None,
                    max_age: float = MAX_AGE_SECONDS) -> PricingContext | None:
    """The pricing context, reloading only the parts whose version moved (None: no market data).

    Versions are read before the rows (`read_versions`: as the caller just read them, e.g. with
    its claim), so a change committed while loading leaves a newer version behind and the next
    batch reads again.
    """
    global _context
    v = versions.read() if read_versions is None else read_versions
    now = time.monotonic()
    on = timezone.now().date()
    with _lock:
        held = _context
    if held is not None and held.versions == v and now - held.loaded_at < max_age \
            and held.reference.on == on and not reload:
        return held
    ref = _reference(v, now, on, reload=reload, max_age=max_age)
    snap = latest_snapshot()
    if snap is None:
        return None
    market = market_arrays(ref.static, snap, ref.stress_scopes)
    with connection.cursor() as cursor:  # at every tick: plain SQL, the ORM cost more than the read
        cursor.execute(f"SELECT seed FROM {SimulatorState._meta.db_table} ORDER BY id LIMIT 1")
        row = cursor.fetchone()
    seed = (row[0] if row else None) or settings.MARKET_SEED
    uni = universe(seed)
    m = ref.static.ids.size
    stressed = snap.stressed or "desk" in ref.stress_scopes
    cov = (uni.cov_stressed if stressed else uni.cov_normal)[:m, :m]
    # Only the market moved (a tick every two seconds): the positions and axes read last time
    # stand, and only their risk is worked out again at the new mids (a tick's reload in an RFQ's
    # batch was 10-30 ms with them read again).
    market_only = (held is not None and held.versions[:2] == v[:2] and held.reference is ref and not reload
                   and now - held.loaded_at < max_age)
    if market_only:
        assert held is not None
        holdings, loaded_at = (held.book.position, held.book.axe), held.loaded_at
    else:
        holdings, loaded_at = book_holdings(ref.static), now
    context = PricingContext(versions=v, loaded_at=loaded_at, reference=ref, snap=snap, market=market,
                             book=book_arrays(ref.static, market.mid, cov, holdings))
    with _lock:
        _context = context
    return context
