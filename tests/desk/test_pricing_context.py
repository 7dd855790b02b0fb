"""The pricer keeps its context between batches, and still prices every change from the next RFQ on.

Each step prices an RFQ (which warms the kept context), changes one thing the way the desk does,
and prices the same request again: the quote must move as the change says, with no wait.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.db import connection, transaction
from django.utils import timezone

from crm import services as crm_services
from crm.models import TierLimit
from dealer.desk import services
from dealer.desk.models import Axe, Quote, Rfq
from dealer.desk.pricing_service import price_waiting_rfqs
from dealer.market.models import Instrument

pytestmark = pytest.mark.django_db(transaction=True)

_ids = count()


def _price(client, isin: str, side: str = "buy", quantity: str = "250000", reads: list | None = None) -> Rfq:
    # Stored without enqueueing a pricing run, so that this call (not a worker left running by
    # an earlier test) prices it.
    rfq = Rfq.objects.create(client=client, client_rfq_id=f"ctx-{next(_ids)}", instrument=Instrument.objects.get(isin=isin),
                             side=side, quantity=Decimal(quantity), tier=client.tier.number, received_at=timezone.now())
    ran: list[str] = []

    def record(execute, sql, params, many, context):  # the statement's text, prepared or not
        ran.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        price_waiting_rfqs()
    if reads is not None:
        reads.extend(ran)
    return Rfq.objects.select_related("quote").get(id=rfq.id)


def test_limits_agreements_positions_axes_switches_and_stress_apply_to_the_next_rfq(book) -> None:
    client = book.client("CLT0007")
    isin = book.isin("ig_corp", 2)
    instrument = Instrument.objects.get(isin=isin)
    first = _price(client, isin)
    reads: list[str] = []
    again = _price(client, isin, reads=reads)
    assert first.status == again.status == "quoted"
    assert again.quote.price == first.quote.price  # nothing changed: the kept context prices the same
    context_tables = ("crm_tierlimit", "crm_agreement", "desk_position", "desk_axe", "desk_switch", "market_instrument")
    assert not [sql for sql in reads if any(t in sql for t in context_tables)]

    limit = TierLimit.objects.get(tier__number=client.tier.number, asset_class__code="ig_corp")
    limit.base_spread_bp += 10
    limit.save()
    wider = _price(client, isin)
    assert wider.quote.price - again.quote.price > Decimal("0.05")  # 10 bp more on both sides

    crm_services.agreement_create(user=book.user("mgmt1"), client=client, scope="instrument", value=isin,
                                  spread_adjustment_bp=-2, start=timezone.now().date(),
                                  end=timezone.now().date() + timedelta(days=30))
    agreed = _price(client, isin)
    assert agreed.quote.agreement_id is not None
    assert agreed.quote.price < wider.quote.price

    with transaction.atomic():
        services.position_apply(instrument_id=instrument.id, desk_qty=Decimal("20000000"), price=Decimal("100"))
    long_book = _price(client, isin)
    assert long_book.quote.price < agreed.quote.price  # long the bond: the offer comes down to sell it

    Axe.objects.create(instrument=instrument, side="sell", quantity=Decimal("5000000"), active=True,
                       created_by=book.user("trader1"))
    axed = _price(client, isin)
    assert axed.quote.components["axe"] != long_book.quote.components["axe"]

    services.switch_set(user=book.user("senior1"), name="stress", scope="desk", on=True, reason="test")
    stressed = _price(client, isin)
    assert stressed.quote.price > axed.quote.price

    services.switch_set(user=book.user("senior1"), name="kill", scope="ig_corp", on=True, reason="test")
    killed = _price(client, isin)
    assert killed.status == "pending_review"
    assert Quote.objects.filter(rfq=killed, status="active").count() == 0


def test_a_market_tick_prices_the_next_rfq_at_the_new_mids_with_the_book_it_holds(book) -> None:
    """A tick reloads the market alone: the next RFQ is priced at the new snapshot's mid, and the
    positions read before the tick still skew it (they are not read again until the book moves)."""
    from dealer.market import services as market_services
    from dealer.market.selectors import latest_snapshot

    client = book.client("CLT0007")
    isin = book.isin("ig_corp", 2)
    instrument = Instrument.objects.get(isin=isin)
    with transaction.atomic():
        services.position_apply(instrument_id=instrument.id, desk_qty=Decimal("20000000"), price=Decimal("100"))
    before = _price(client, isin)
    assert before.quote.components["skew"] != 0
    market_services.market_tick()
    reads: list[str] = []
    after = _price(client, isin, reads=reads)
    new_mid = float(latest_snapshot().arrays["mid"][instrument.sim_index])
    assert float(after.quote.mid) == pytest.approx(new_mid, abs=1e-6)
    assert after.quote.mid != before.quote.mid
    assert after.quote.components["skew"] == pytest.approx(before.quote.components["skew"], rel=0.05)
    assert not [sql for sql in reads if "desk_position" in sql or "desk_axe" in sql]

    with transaction.atomic():  # the book moves: the next RFQ reads it again
        services.position_apply(instrument_id=instrument.id, desk_qty=Decimal("-40000000"), price=Decimal("100"))
    short = _price(client, isin)
    # short now: selling the bond to the client costs the book more, the skew widens the offer
    assert short.quote.components["skew"] > after.quote.components["skew"] + 0.5
