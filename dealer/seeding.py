"""The demo book: reference data, demo users and clients, and two years of synthetic history.

Deterministic for a seed, transactional and idempotent: reference rows are upserted, and the
history is written once (a second run finds it and leaves it alone).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.utils import timezone

from crm.models import Client, ScoringSettings, Tier, TierLimit
from dealer.bulk import bulk_insert, next_id, reset_sequence
from dealer.desk.models import Markout, Position, Quote, Rfq, Switch, Trade
from dealer.market.models import AssetClass, DailyClose, Instrument, Venue
from dealer.market.simulator import VENUES, build_factor_model, simulate_daily_history, simulate_intraday_path
from dealer.market.universe import generate_universe
from dealer.roles import API_CLIENT, MANAGEMENT, RM, ROLES, SENIOR_TRADER, TRADER

ASSET_CLASSES = [
    ("govt", "Government bonds", True, False),
    ("ig_corp", "Investment-grade corporates", True, False),
    ("hy_corp", "High-yield corporates", True, False),
    ("cds_index", "CDS indices", False, True),
    ("rates_future", "Rates futures", False, True),
    ("credit_etf", "Credit ETFs", False, True),
]
# (ttl s, review deadline s, decision band bp, agreement min bp, agreement max bp)
TIERS = {1: ("Tier 1 - strategic", 30, 120, 5.0, -10.0, 10.0),
         2: ("Tier 2 - core", 15, 60, 3.0, -5.0, 10.0),
         3: ("Tier 3 - transactional", 10, 60, 2.0, -2.0, 10.0)}
BASE_SPREAD_BP = {"govt": (1.0, 2.0, 3.5), "ig_corp": (4.0, 7.0, 12.0), "hy_corp": (10.0, 18.0, 30.0),
                  "cds_index": (0.5, 1.0, 2.0), "rates_future": (0.2, 0.4, 0.8), "credit_etf": (2.0, 4.0, 6.0)}
AUTO_SIZE = (Decimal("1000000"), Decimal("1000000"), Decimal("1000000"))
MAX_SIZE = (Decimal("1000000000"), Decimal("250000000"), Decimal("50000000"))
CREDIT_LINE = (Decimal("2000000000"), Decimal("500000000"), Decimal("100000000"))
HIT_RATIO = (0.45, 0.30, 0.18)
TYPICAL_SIZE = (5_000_000.0, 1_000_000.0, 250_000.0)
PEOPLE = [("rm1", RM), ("rm2", RM), ("rm3", RM), ("rm4", RM), ("trader1", TRADER), ("trader2", TRADER),
          ("senior1", SENIOR_TRADER), ("senior2", SENIOR_TRADER), ("mgmt1", MANAGEMENT)]
HISTORY_DAYS = 520
MARKOUT_HORIZONS = (60, 300, 1800, 86400)
FIRST_NAMES = ["Atlas", "Boreal", "Cedar", "Delta", "Evergreen", "Falcon", "Granite", "Harbor", "Iron", "Juniper",
               "Keystone", "Lighthouse", "Meridian", "Northstar", "Oakmont", "Pinnacle", "Quarry", "Redwood",
               "Summit", "Tidewater", "Union", "Vanguard", "Westbrook", "Yardarm", "Zenith"]
LAST_NAMES = ["Capital", "Asset Management", "Pension Fund", "Insurance", "Partners", "Advisors", "Bank",
              "Investors", "Global Macro", "Credit Fund", "Treasury", "Wealth"]


@dataclass
class SeedReport:
    clients: int
    trades: int
    rfqs: int
    seconds: float
    history_written: bool


def client_tier(k: int, rng_u: float) -> int:
    """Tier of the k-th client (1-based): the contract's first ten, then about 10/30/60 %."""
    if k <= 3:
        return 1
    if k <= 6:
        return 2
    if k <= 10:
        return 3
    return 1 if rng_u < 0.10 else 2 if rng_u < 0.40 else 3


def _reference(seed: int) -> None:
    for code, name, rfq, hedge in ASSET_CLASSES:
        AssetClass.objects.update_or_create(code=code, defaults={"name": name, "rfq_enabled": rfq, "is_hedge": hedge})
    classes = {a.code: a for a in AssetClass.objects.all()}
    for v in VENUES:
        Venue.objects.update_or_create(code=v.code, defaults={
            "name": v.name, "fee_bp": v.fee_bp, "latency_ms": v.latency_ms, "fill_probability": v.fill_probability})
    existing = set(Instrument.objects.values_list("isin", flat=True))
    specs = generate_universe(seed)
    new = []
    for i, s in enumerate(specs):
        if s.isin in existing:
            continue
        new.append(Instrument(
            isin=s.isin, description=s.description, asset_class=classes[s.asset_class], issuer=s.issuer,
            sector=s.sector, rating=s.rating, coupon=Decimal(str(s.coupon)), maturity=s.maturity,
            currency=s.currency, liquidity_bucket=s.liquidity_bucket, adv=Decimal(f"{s.adv:.2f}"),
            duration=s.duration, rfq_enabled=s.rfq_enabled, sim_index=i, hedge_factor=s.hedge_factor))
    Instrument.objects.bulk_create(new, batch_size=1000)
    for n, (name, ttl, deadline, band, amin, amax) in TIERS.items():
        tier, _ = Tier.objects.update_or_create(number=n, defaults={
            "name": name, "quote_ttl_seconds": ttl, "review_deadline_seconds": deadline,
            "decision_band_bp": band, "agreement_min_bp": amin, "agreement_max_bp": amax})
        for code, ac in classes.items():
            TierLimit.objects.get_or_create(tier=tier, asset_class=ac, defaults={
                "base_spread_bp": BASE_SPREAD_BP[code][n - 1], "auto_size": AUTO_SIZE[n - 1],
                "max_size": MAX_SIZE[n - 1]})
    if not ScoringSettings.objects.exists():
        ScoringSettings.objects.create()
    for name in ("kill", "stress"):
        Switch.objects.get_or_create(name=name, scope="desk")


AUDITED_APPS = ("crm", "desk", "hedging", "market", "reports")


def _people() -> dict[str, User]:
    groups = {r: Group.objects.get_or_create(name=r)[0] for r in ROLES}
    users: dict[str, User] = {}
    for username, role in PEOPLE:
        user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@desk.example"})
        if created:
            user.set_password("demo")
            user.save()
        user.groups.add(groups[role])
        users[username] = user
    admin, created = User.objects.get_or_create(username="admin", defaults={
        "email": "admin@desk.example", "is_staff": True, "is_superuser": True})
    if created:
        admin.set_password("demo")
        admin.save()
    mgmt = users["mgmt1"]
    if not mgmt.is_staff:
        mgmt.is_staff = True
        mgmt.save(update_fields=["is_staff"])
    # Management reads every record and its history in the admin (an audit), and changes nothing there.
    from django.contrib.auth.models import Permission

    groups[MANAGEMENT].permissions.add(*Permission.objects.filter(
        codename__startswith="view_", content_type__app_label__in=AUDITED_APPS))
    return users


def _clients(n_clients: int, rng: np.random.Generator, users: dict[str, User]) -> list[Client]:
    tiers = {t.number: t for t in Tier.objects.all()}
    api_group = Group.objects.get(name=API_CLIENT)
    existing = {c.code: c for c in Client.objects.all()}
    rms = [users["rm1"], users["rm2"], users["rm3"], users["rm4"]]
    u = rng.random(n_clients + 1)
    names = rng.integers(0, len(FIRST_NAMES), n_clients + 1), rng.integers(0, len(LAST_NAMES), n_clients + 1)
    new: list[Client] = []
    for k in range(1, n_clients + 1):
        code = f"CLT{k:04d}"
        if code in existing:
            continue
        tier = client_tier(k, float(u[k]))
        rm = users["rm1"] if k <= 5 else users["rm2"] if k <= 10 else rms[k % len(rms)]
        new.append(Client(code=code, name=f"{FIRST_NAMES[names[0][k]]} {LAST_NAMES[names[1][k]]} {k}",
                          tier=tiers[tier], rm=rm, credit_line=CREDIT_LINE[tier - 1], suggested_tier=tier))
    Client.objects.bulk_create(new, batch_size=2000)
    for k in range(1, min(n_clients, 10) + 1):
        code = f"CLT{k:04d}"
        client = Client.objects.get(code=code)
        if client.user_id is None:
            user = User.objects.create_user(username=code, password="demo")
            user.groups.add(api_group)
            client.user = user
            client.save(update_fields=["user"])
    return list(Client.objects.select_related("tier").order_by("id"))


def _ts(seconds: np.ndarray) -> list[str]:
    """Epoch seconds -> timestamp strings the database takes in raw inserts (UTC)."""
    us = (seconds * 1e6).astype("int64").astype("datetime64[us]")
    text = np.datetime_as_string(us, unit="us")
    if connection.vendor == "postgresql":
        return [t.replace("T", " ") + "+00:00" for t in text]
    return [t.replace("T", " ") for t in text]


def seed_closes(*, seed: int, instruments: list[Instrument] | None = None, specs: Any = None,
                model: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Two years of daily closes from the simulator's factor model (written once)."""
    instruments = instruments or list(Instrument.objects.order_by("sim_index"))
    specs = specs or generate_universe(seed)
    model = model or build_factor_model(specs)
    today = timezone.now().date()
    dates, closes = simulate_daily_history(specs, model, HISTORY_DAYS, seed, today - timedelta(days=1))
    if not DailyClose.objects.exists():
        bulk_insert(DailyClose, ["instrument_id", "date", "close"],
                    ((inst.id, str(d), float(closes[inst.sim_index, j]))
                     for inst in instruments for j, d in enumerate(dates.astype(str))))
    return dates, closes


def _history(seed: int, n_trades: int, clients: list[Client], rng: np.random.Generator) -> tuple[int, int]:
    instruments = list(Instrument.objects.select_related("asset_class").order_by("sim_index"))
    specs = generate_universe(seed)
    model = build_factor_model(specs)
    dates, closes = seed_closes(seed=seed, instruments=instruments, specs=specs, model=model)

    tradable = np.array([i.sim_index for i in instruments if i.rfq_enabled])
    inst_id = np.array([i.id for i in instruments])
    ac_code = np.array([i.asset_class.code for i in instruments])
    bucket = np.array([i.liquidity_bucket for i in instruments])
    client_ids = np.array([c.id for c in clients])
    client_tier_arr = np.array([c.tier.number for c in clients])
    n_clients = len(clients)
    activity = rng.lognormal(0.0, 1.0, n_clients) * np.where(client_tier_arr == 1, 4.0, np.where(client_tier_arr == 2, 2.0, 1.0))
    activity /= activity.sum()
    toxicity = rng.normal(0.0, 1.5, n_clients) + np.where(rng.random(n_clients) < 0.08, 6.0, 0.0)
    hit = np.array(HIT_RATIO)[client_tier_arr - 1]
    mean_hit = float((activity * hit).sum())
    n_rfq = int(round(n_trades / mean_hit)) if n_trades <= 100_000 else n_trades + 200_000
    c = rng.choice(n_clients, size=n_rfq, p=activity)
    liq_w = 1.0 / bucket[tradable]
    inst = tradable[rng.choice(len(tradable), size=n_rfq, p=liq_w / liq_w.sum())]
    day = rng.integers(0, len(dates), n_rfq)
    secs_in_day = rng.uniform(8 * 3600, 17 * 3600, n_rfq)
    day_epoch = dates.astype("datetime64[s]").astype("int64").astype(np.float64)
    t = day_epoch[day] + secs_in_day
    order = np.argsort(t, kind="stable")
    c, inst, day, t = c[order], inst[order], day[order], t[order]
    tier = client_tier_arr[c]
    size = np.round(rng.lognormal(np.log(np.array(TYPICAL_SIZE)[tier - 1]), 0.7) / 1000.0) * 1000.0
    size = np.maximum(size, 1000.0)
    side_buy = rng.random(n_rfq) < 0.5
    base = np.array([BASE_SPREAD_BP[ac_code[i]][tr - 1] for i, tr in zip(inst, tier)])
    half_bp = base * (1.0 + 0.15 * (bucket[inst] - 1)) * rng.uniform(0.8, 1.3, n_rfq)
    mid = closes[inst, day] * (1.0 + rng.normal(0.0, 5e-4, n_rfq))
    sgn = np.where(side_buy, 1.0, -1.0)
    price = np.round(mid * (1.0 + sgn * half_bp * 1e-4), 6)
    p_hit = np.clip(hit[c] * np.exp(-(half_bp / base - 1.0)), 0.02, 0.95)
    if n_rfq > n_trades:
        won = np.zeros(n_rfq, dtype=bool)
        probs = p_hit / p_hit.sum()
        won[rng.choice(n_rfq, size=n_trades, replace=False, p=probs)] = True
    else:
        won = np.ones(n_rfq, dtype=bool)
    status = np.where(won, "booked", np.where(rng.random(n_rfq) < 0.8, "expired", "rejected"))

    rfq_id0, quote_id0, trade_id0 = next_id(Rfq), next_id(Quote), next_id(Trade)
    rfq_ids = rfq_id0 + np.arange(n_rfq)
    quote_ids = quote_id0 + np.arange(n_rfq)
    t_txt = _ts(t)
    t_quote = _ts(t + 0.05)
    t_valid = _ts(t + 15.0)
    sides = np.where(side_buy, "buy", "sell")
    qty_txt = [f"{q:.2f}" for q in size]
    price_txt = [f"{p:.6f}" for p in price]
    mid_txt = [f"{m:.6f}" for m in mid]
    cid = client_ids[c]
    iid = inst_id[inst]
    reasons = np.where(status == "expired", "the quote's time-to-live ran out",
                       np.where(status == "rejected", "rejected by the client", ""))
    # SQLite checks a deferred foreign key from the parent's side too: each quote inserted while RFQs
    # point at quotes not yet there scans desk_rfq (its quote_id has no index), quadratic in the
    # history (14 minutes for the demo book). There the RFQs get their quote in one UPDATE after.
    link_now = connection.vendor == "postgresql"
    bulk_insert(Rfq, ["id", "client_id", "client_rfq_id", "instrument_id", "side", "quantity", "status", "reason",
                      "channel", "tier", "received_at", "priced_at", "quote_id", "updated_at"],
                ((int(rfq_ids[k]), int(cid[k]), f"H{rfq_ids[k]}", int(iid[k]), sides[k], qty_txt[k], status[k],
                  reasons[k], "history", int(tier[k]), t_txt[k], t_quote[k],
                  int(quote_ids[k]) if link_now else None, t_quote[k])
                 for k in range(n_rfq)))
    q_status = np.where(won, "accepted", np.where(status == "expired", "expired", "rejected"))
    bulk_insert(Quote, ["id", "rfq_id", "status", "source", "price", "quantity", "mid", "mid_se", "valid_until",
                        "components", "half_spread_bp", "created_at"],
                ((int(quote_ids[k]), int(rfq_ids[k]), q_status[k], "auto", price_txt[k], qty_txt[k], mid_txt[k],
                  0.0, t_valid[k], "{}", float(half_bp[k]), t_quote[k]) for k in range(n_rfq)))
    if not link_now:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {Rfq._meta.db_table} SET quote_id = id + %s WHERE id BETWEEN %s AND %s",
                           [quote_id0 - rfq_id0, rfq_id0, rfq_id0 + n_rfq - 1])
    w = np.flatnonzero(won)
    n_tr = len(w)
    trade_ids = trade_id0 + np.arange(n_tr)
    t_book = _ts(t[w] + 3.0)
    bulk_insert(Trade, ["id", "rfq_id", "quote_id", "client_id", "instrument_id", "side", "quantity", "price",
                        "mid_at_booking", "booked_at", "tier"],
                ((int(trade_ids[j]), int(rfq_ids[k]), int(quote_ids[k]), int(cid[k]), int(iid[k]), sides[k],
                  qty_txt[k], price_txt[k], mid_txt[k], t_book[j], int(tier[k])) for j, k in enumerate(w)))
    # Informed clients' flow moves the mid against the dealer after the trade: client buys -> mid rises.
    alpha = toxicity[c[w]] * sgn[w]
    paths = simulate_intraday_path(model, inst[w], t[w], mid[w], np.array(MARKOUT_HORIZONS, dtype=float), seed,
                                   alpha_bp=alpha)
    dealer_sign = -sgn[w]  # the dealer sold when the client bought
    px = price[w]
    bps = dealer_sign[:, None] * (paths - px[:, None]) / px[:, None] * 1e4
    pnl = dealer_sign[:, None] * (paths - px[:, None]) * size[w][:, None] / 100.0
    rec = [_ts(t[w] + 3.0 + h) for h in MARKOUT_HORIZONS]
    bulk_insert(Markout, ["trade_id", "horizon_seconds", "mid", "markout_bp", "pnl", "recorded_at"],
                ((int(trade_ids[j]), MARKOUT_HORIZONS[h], float(paths[j, h]), float(bps[j, h]), float(pnl[j, h]),
                  rec[h][j]) for j in range(n_tr) for h in range(len(MARKOUT_HORIZONS))))
    for m in (Rfq, Quote, Trade, Markout, DailyClose):
        reset_sequence(m)
    return n_tr, n_rfq


def _opening_book(rng: np.random.Generator) -> None:
    if Position.objects.exists():
        return
    instruments = list(Instrument.objects.filter(rfq_enabled=True).order_by("sim_index"))
    picks = rng.choice(len(instruments), size=min(60, len(instruments)), replace=False)
    closes = {d["instrument_id"]: d["close"] for d in DailyClose.objects.filter(
        instrument_id__in=[instruments[i].id for i in picks]).order_by("date").values("instrument_id", "close")}
    rows = []
    for i in picks:
        inst = instruments[i]
        qty = Decimal(int(rng.normal(0, 4_000_000) / 1000) * 1000)
        px = Decimal(f"{closes.get(inst.id, 100.0):.6f}")
        rows.append(Position(instrument=inst, quantity=qty, avg_price=px))
    Position.objects.bulk_create(rows)


def seed_demo(*, seed: int = 7, n_clients: int = 300, n_trades: int = 20_000) -> SeedReport:
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    with transaction.atomic():
        _reference(seed)
        users = _people()
        clients = _clients(n_clients, rng, users)
        history_written = False
        if not Trade.objects.filter(rfq__channel="history").exists() and n_trades > 0:
            _history(seed, n_trades, clients, rng)
            from dealer.reports.services import rollups_rebuild; rollups_rebuild()  # noqa: E702
            history_written = True
        _opening_book(rng)
        from dealer.market.services import simulator_ensure

        simulator_ensure(seed=seed)
        from dealer.desk.context_versions import invalidate_all

        invalidate_all()  # bulk inserts send no signals: the pricer must read the new book
    if history_written:  # relationship managers open the CRM on scores, not on "no score run yet"
        from crm.services import score_run_execute

        score_run_execute(run_id=None)  # recorded as a run, as the nightly one is
    return SeedReport(clients=Client.objects.count(), trades=Trade.objects.count(), rfqs=Rfq.objects.count(),
                      seconds=time.perf_counter() - started, history_written=history_written)
