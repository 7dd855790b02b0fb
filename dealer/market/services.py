"""Writes of the market: the simulator's state and the snapshot the pricer reads."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone as dt_tz
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.utils import timezone

from dealer.market.models import Instrument, MarketPrint, MarketSnapshot, SimulatorState
from dealer.market.simulator import SimState, initial_state, rng_for, step
from dealer.market.universe_cache import universe
from pricing.fairvalue import kalman_update, observation_variance
from pricing.signals import ewma_volatility, microprice_signal_bp

MAX_DT_SECONDS = 60.0
KEEP_SNAPSHOTS = 200
EWMA_LAMBDA = 0.999  # per tick of about 2 s: a half-life of some twenty minutes
QUOTE_QUALITY = 0.5
PRINT_NOISE_BP = 2.0


def _fair_value(*, fv: np.ndarray, fv_var: np.ndarray, fv_t: np.ndarray, now: float, bid: np.ndarray,
                ask: np.ndarray, print_idx: np.ndarray, print_price: np.ndarray, print_size: np.ndarray,
                ref_size: np.ndarray, sigma_daily: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Composite mid: the local-level Kalman filter over venue mids, then over trade prints.

    The state variance grows with (sigma * mid)^2 per day between observations, so the error
    widens while a bond does not trade and shrinks after a print.
    """
    q_per_s = (sigma_daily * fv) ** 2 / 86400.0
    quoted = np.isfinite(bid) & np.isfinite(ask)
    quote_mid = np.where(quoted, (bid + ask) / 2.0, np.nan)
    half = np.where(quoted, (ask - bid) / 2.0, 1.0)
    r_quote = observation_variance(np.ones(fv.size, dtype=np.int64), np.zeros(fv.size), half, 1.0, 1.0,
                                   QUOTE_QUALITY)
    state = kalman_update(fv, fv_var, fv_t, quote_mid, np.where(quoted, r_quote, 1.0), now, q_per_s)
    obs = np.full(fv.size, np.nan)
    size = np.ones(fv.size)
    obs[print_idx] = print_price
    size[print_idx] = np.maximum(print_size, 1.0)
    trade_var = (fv * PRINT_NOISE_BP * 1e-4) ** 2
    r_print = np.maximum(trade_var * ref_size / size, 1e-12)
    state = kalman_update(state.mid, state.var, state.t_last, obs, r_print, now, q_per_s)
    return state.mid, state.var


def _pack_state(state: SimState, extra: dict[str, np.ndarray]) -> bytes:
    return MarketSnapshot.pack({
        "tick": np.array([state.tick]), "t": np.array([state.t]), "mids": state.mids,
        "last_print_t": state.last_print_t, "last_print_price": state.last_print_price, **extra})


def simulator_ensure(*, seed: int) -> SimulatorState:
    """Create the simulator's state (and a first snapshot) if there is none."""
    row = SimulatorState.objects.first()
    if row is not None:
        return row
    uni = universe(seed)
    now = time.time()
    state = initial_state(uni.arrays, now)
    m = state.mids.size
    var0 = (uni.model.volatility(False) ** 2)
    extra = {"fv": state.mids.copy(), "fv_var": (state.mids * 5e-4) ** 2, "fv_t": np.full(m, now),
             "ewma_var": var0}
    row = SimulatorState.objects.create(seed=seed, tick=0, sim_time=now, stressed=False,
                                        arrays=_pack_state(state, extra))
    _write_snapshot(state=state, fv=extra["fv"], fv_se=np.sqrt(extra["fv_var"]), sigma=np.sqrt(var0),
                    bid=state.mids * (1 - 5e-4), ask=state.mids * (1 + 5e-4), bid_size=np.zeros(m),
                    ask_size=np.zeros(m), signal_bp=np.zeros(m), stressed=False, now=now)
    return row


def simulator_set_stress(*, stressed: bool) -> None:
    from dealer.desk.context_versions import changed

    SimulatorState.objects.update(stressed=stressed)
    changed("market")


def _write_snapshot(*, state: SimState, fv: np.ndarray, fv_se: np.ndarray, sigma: np.ndarray, bid: np.ndarray,
                    ask: np.ndarray, bid_size: np.ndarray, ask_size: np.ndarray, signal_bp: np.ndarray,
                    stressed: bool, now: float) -> MarketSnapshot:
    arrays = {"mid": fv, "fv_se": fv_se, "sigma": sigma, "bid": bid, "ask": ask, "bid_size": bid_size,
              "ask_size": ask_size, "last_print_t": state.last_print_t, "last_print_price": state.last_print_price,
              "signal_bp": signal_bp, "true_mid": state.mids}
    return MarketSnapshot.objects.create(
        tick=state.tick, taken_at=datetime.fromtimestamp(now, tz=dt_tz.utc), stressed=stressed,
        arrays=MarketSnapshot.pack(arrays))


def market_tick(*, now: float | None = None) -> MarketSnapshot | None:
    """Advance the simulator to `now`, update the composite fair value and write a snapshot.

    Holds the simulator row's lock, so two beat ticks never advance it twice.
    """
    now = time.time() if now is None else now
    with transaction.atomic():
        row = SimulatorState.objects.select_for_update().first()
        if row is None:
            return None
        uni = universe(row.seed)
        with np.load(__import__("io").BytesIO(bytes(row.arrays))) as data:
            d = {k: data[k] for k in data.files}
        state = SimState(int(d["tick"][0]), float(d["t"][0]), d["mids"], d["last_print_t"], d["last_print_price"],
                         row.stressed)
        dt = min(max(now - state.t, 0.05), MAX_DT_SECONDS)
        new, tick = step(state, uni.model, uni.arrays, dt, rng_for(row.seed, state.tick + 1), row.stressed)
        new = SimState(new.tick, now, new.mids, new.last_print_t, new.last_print_price, row.stressed)
        best_bid = np.nanmax(np.where(np.isnan(tick.venue_bid), -np.inf, tick.venue_bid), axis=0)
        best_ask = np.nanmin(np.where(np.isnan(tick.venue_ask), np.inf, tick.venue_ask), axis=0)
        quoted = np.isfinite(best_bid) & np.isfinite(best_ask)
        bid_size = np.nansum(np.where(tick.venue_bid == best_bid[None, :], tick.venue_bid_size, 0.0), axis=0)
        ask_size = np.nansum(np.where(tick.venue_ask == best_ask[None, :], tick.venue_ask_size, 0.0), axis=0)
        fv, fv_var = _fair_value(
            fv=d["fv"], fv_var=d["fv_var"], fv_t=d["fv_t"], now=now,
            bid=np.where(quoted, best_bid, np.nan), ask=np.where(quoted, best_ask, np.nan),
            print_idx=tick.print_idx, print_price=tick.print_price, print_size=tick.print_size,
            ref_size=uni.arrays.print_size, sigma_daily=uni.model.volatility(row.stressed))
        ret = np.log(new.mids / state.mids) * np.sqrt(86400.0 / dt)  # scaled to a daily return
        ewma_var = ewma_volatility(ret[None, :], lam=EWMA_LAMBDA, initial_var=d["ewma_var"])[0] ** 2
        signal_bp = np.where(quoted, microprice_signal_bp(
            np.where(quoted, best_bid, 1.0), np.where(quoted, best_ask, 1.0),
            np.where(quoted, bid_size, 1.0), np.where(quoted, ask_size, 1.0), weight=0.5), 0.0)
        extra = {"fv": fv, "fv_var": fv_var, "fv_t": np.full(fv.size, now), "ewma_var": ewma_var}
        row.tick = new.tick
        row.sim_time = now
        row.arrays = _pack_state(new, extra)
        row.save(update_fields=["tick", "sim_time", "arrays", "updated_at"])
        snapshot = _write_snapshot(
            state=new, fv=fv, fv_se=np.sqrt(fv_var), sigma=np.sqrt(ewma_var),
            bid=np.where(quoted, best_bid, np.nan), ask=np.where(quoted, best_ask, np.nan),
            bid_size=bid_size, ask_size=ask_size, signal_bp=signal_bp, stressed=row.stressed, now=now)
        if tick.print_idx.size:
            ids = _instrument_ids()
            at = datetime.fromtimestamp(now, tz=dt_tz.utc)
            MarketPrint.objects.bulk_create([
                MarketPrint(instrument_id=ids[int(i)], price=Decimal(f"{p:.6f}"), size=Decimal(f"{s:.2f}"), printed_at=at)
                for i, p, s in zip(tick.print_idx, tick.print_price, tick.print_size) if int(i) in ids
            ])
        if new.tick % 50 == 0:
            MarketSnapshot.objects.filter(tick__lt=new.tick - KEEP_SNAPSHOTS).delete()
            MarketPrint.objects.filter(printed_at__lt=timezone.now() - timedelta(days=2)).delete()
    return snapshot


def _instrument_ids() -> dict[int, int]:
    return dict(Instrument.objects.values_list("sim_index", "id"))
