"""Benchmarks of the pricing core: ``python -m pricing.bench``.

Prints one ``name: value unit`` line per figure.  Run it on one core, which is the
caller's job: ``OMP_NUM_THREADS=1 python -m pricing.bench`` (nothing global is set
here).  Data come from a seeded ``numpy.random.Generator``; the whole run takes a few
seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .hedging import decide_hedges
from .impact import almgren_chriss
from .quoting import (BookArrays, MarketArrays, RfqArrays, default_tier_table,
                      glft_half_spreads, quote_batch, quote_one)
from .scoring import aggregate_trades, relationship_scores
from .winprob import fit_winprob

__all__ = ["demo_market", "main"]


def demo_market(rng: np.random.Generator, m: int = 500,
                n_asset_classes: int = 4) -> tuple[MarketArrays, BookArrays]:
    """A random but plausible market and book of ``m`` instruments."""
    mid = rng.uniform(80.0, 120.0, m)
    market = MarketArrays(
        mid=mid, mid_se=rng.uniform(0.0, 0.2, m), sigma_daily=rng.uniform(0.001, 0.01, m),
        adv=rng.uniform(1e6, 1e8, m), liquidity_factor=rng.uniform(1.0, 3.0, m),
        asset_class=rng.integers(0, n_asset_classes, m), hedge_cost_bp=rng.uniform(0, 2, m),
        funding_bp_per_day=rng.uniform(0, 0.5, m), holding_days=rng.uniform(0.5, 5, m),
        signal_bp=rng.normal(0, 1, m), stress=rng.random(m) < 0.1)
    loadings = rng.normal(0.0, 0.005, (m, 3))
    cov = loadings @ loadings.T + np.diag(rng.uniform(1e-6, 1e-5, m))
    axe = np.where(rng.random(m) < 0.2, rng.normal(0, 2e6, m), 0.0)
    book = BookArrays.from_covariance(rng.normal(0, 5e6, m), mid, cov, 1e-7, axe)
    return market, book


def _rfqs(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, ...]:
    return (rng.integers(0, m, n), rng.choice(np.array([-1, 1]), n), rng.uniform(1e4, 2e7, n),
            rng.integers(1, 4, n), rng.normal(0, 1, n), rng.uniform(0, 5e7, n),
            rng.random(n) < 0.01)


def _best(fn: Callable[[], object], repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main() -> None:
    """Run every benchmark and print the figures."""
    rng = np.random.default_rng(20240501)
    m, n = 500, 10_000
    market, bk = demo_market(rng, m)
    tiers = default_tier_table(4)
    batches = [_rfqs(rng, n, m) for _ in range(8)]
    quote_batch(RfqArrays(*batches[0]), market, bk, tiers)  # warm the per-book cache
    t_total, count = 0.0, 0
    for _ in range(40):
        for args in batches:
            t0 = time.perf_counter()
            quote_batch(RfqArrays(*args), market, bk, tiers)  # validation included
            t_total += time.perf_counter() - t0
            count += n
    print(f"batch_quotes_per_s: {count / t_total:.0f} quotes/s")

    inst, side, qty, tier, agr, cred, kill = (a.tolist() for a in batches[0])
    lat = np.empty(50_000)
    for j in range(lat.size):
        i = j % n
        t0 = time.perf_counter()
        quote_one(instrument=inst[i], side=side[i], quantity=qty[i], tier=tier[i],
                  agreement_bp=agr[i], credit_available=cred[i], kill=kill[i], market=market,
                  book=bk, tiers=tiers)
        lat[j] = time.perf_counter() - t0
    print(f"single_rfq_p50: {np.percentile(lat[1000:], 50) * 1e6:.2f} us")
    print(f"single_rfq_p99: {np.percentile(lat[1000:], 99) * 1e6:.2f} us")

    nc, nt, na = 10_000, 2_000_000, 6
    ci = rng.integers(0, nc, nt)
    notional = rng.lognormal(13.0, 1.0, nt)
    pnl = rng.normal(50.0, 500.0, nt)
    mk = rng.normal(0.0, 5.0, nt)
    ac = rng.integers(0, na, nt)

    def scores() -> None:
        agg = aggregate_trades(ci, notional, pnl, mk, ac, nc, na)
        relationship_scores(agg.volume, agg.pnl, agg.toxicity_bp, agg.n_asset_classes)

    print(f"scores_10000_clients_2000000_trades: {_best(scores, 5):.4f} s")

    q = rng.integers(-10, 11, 1_000_000).astype(np.float64)
    t = _best(lambda: glft_half_spreads(q, 0.3, 1.0, 2.0, 0.01, 1.0), 5)
    print(f"glft_half_spreads_per_s: {q.size / t:.0f} quotes/s")
    t = _best(lambda: almgren_chriss(1e6, 5.0, 50, 0.95, 2.5e-6, 0.0625, 2.5e-7, 1e-6), 200)
    print(f"almgren_chriss_50_steps: {t * 1e6:.1f} us")
    d = rng.uniform(0, 4, 100_000)
    ls = rng.uniform(12, 17, 100_000)
    tr = rng.integers(1, 4, 100_000)
    y = rng.random(100_000) < 1 / (1 + np.exp(-(1.0 - 1.2 * d + 0.05 * (ls - 14))))
    print(f"winprob_fit_100000: {_best(lambda: fit_winprob(d, ls, tr, y), 3) * 1e3:.1f} ms")
    dq = rng.normal(0, 3e6, 100_000)
    t = _best(lambda: decide_hedges(dq, 2e7, rng.random(100_000) < 0.7, 2), 5)
    print(f"hedge_decisions_per_s: {dq.size / t:.0f} decisions/s")


if __name__ == "__main__":
    main()
