from __future__ import annotations

from django.core.management import call_command

from crm.models import Client
from dealer.desk.models import Markout, Quote, Rfq, Trade
from dealer.market.models import DailyClose, Instrument, Venue


def _counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Instrument, Venue, Client, Rfq, Quote, Trade, Markout, DailyClose)}


def test_seed_demo_twice_leaves_the_same_counts(db) -> None:
    call_command("seed_demo", "--clients", "30", "--trades", "400", "--seed", "3")
    first = _counts()
    call_command("seed_demo", "--clients", "30", "--trades", "400", "--seed", "3")
    assert _counts() == first
    assert first["Trade"] == 400
    assert first["Client"] == 30
    assert first["Markout"] == 4 * 400
    assert first["Venue"] == 4


def test_demo_book_follows_the_contract(db) -> None:
    call_command("seed_demo", "--clients", "40", "--trades", "300")
    tiers = dict(Client.objects.filter(code__lte="CLT0010").values_list("code", "tier__number"))
    assert [tiers[f"CLT{k:04d}"] for k in range(1, 11)] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 3]
    rms = dict(Client.objects.filter(code__lte="CLT0010").values_list("code", "rm__username"))
    assert {rms[f"CLT{k:04d}"] for k in range(1, 6)} == {"rm1"}
    assert {rms[f"CLT{k:04d}"] for k in range(6, 11)} == {"rm2"}
    for c in Client.objects.filter(code__in=["CLT0001", "CLT0002", "CLT0003"]).select_related("tier"):
        assert c.credit_line >= 250_000_000
        assert c.tier.limits.get(asset_class__code="ig_corp").max_size >= 250_000_000
    assert all(c.credit_line < 5_000_000_000 for c in Client.objects.all())
    enabled = set(Instrument.objects.filter(rfq_enabled=True).values_list("asset_class__code", flat=True))
    hedges = set(Instrument.objects.filter(rfq_enabled=False).values_list("asset_class__code", flat=True))
    assert enabled == {"govt", "ig_corp", "hy_corp"}
    assert hedges == {"cds_index", "rates_future", "credit_etf"}
    # Realistic hit ratios: Tier 1 wins more of its RFQs than Tier 3.
    hit = {}
    for tier in (1, 3):
        rfqs = Rfq.objects.filter(tier=tier).count()
        hit[tier] = Trade.objects.filter(tier=tier).count() / max(rfqs, 1)
    assert hit[1] > hit[3] > 0.05


def test_the_history_links_each_rfq_to_its_own_quote_and_the_book_opens_scored(db) -> None:
    call_command("seed_demo", "--clients", "30", "--trades", "300", "--seed", "5")
    rfqs = Rfq.objects.filter(channel="history")
    assert rfqs.count() == Quote.objects.count() > 300
    assert not rfqs.filter(quote__isnull=True).exists()
    assert all(q_rfq == rfq_id for rfq_id, q_rfq in rfqs.values_list("id", "quote__rfq_id"))
    traded = Client.objects.filter(trades__isnull=False).distinct()
    assert traded.exists()
    assert not traded.filter(score=0).exists()
    assert Client.objects.exclude(suggested_tier=None).count() == Client.objects.count()
    from crm.models import ScoreRun

    run = ScoreRun.objects.get()
    assert run.status == "done" and run.n_clients == Client.objects.count()
