from __future__ import annotations

import time
from decimal import Decimal

from crm.models import Client
from dealer.desk import services
from dealer.desk.models import Position, Rfq, Trade
from dealer.desk.pricing_service import price_waiting_rfqs
from dealer.market.models import Instrument

_n = [0]


def flat_instrument(asset_class: str, *, liquid: bool) -> Instrument:
    """An instrument of the class with no desk position, liquid (bucket <= 2) or not (>= 3)."""
    held = Position.objects.exclude(quantity=0).values_list("instrument_id", flat=True)
    qs = Instrument.objects.filter(asset_class__code=asset_class, rfq_enabled=True).exclude(id__in=held)
    qs = qs.filter(liquidity_bucket__lte=2) if liquid else qs.filter(liquidity_bucket__gte=3)
    return qs.order_by("sim_index").first()


def book_trade(code: str, instrument: Instrument, side: str, quantity: str, senior=None) -> Trade:
    """A trade through the real services: intake, pricing, (Tier 1: the senior's send), accept."""
    client = Client.objects.select_related("tier").get(code=code)
    _n[0] += 1
    rfq, _ = services.rfq_create(client=client, data=services.RfqInput(f"h{_n[0]}", instrument.isin, side,
                                                                       Decimal(quantity)))
    price_waiting_rfqs()
    rfq = Rfq.objects.get(id=rfq.id)
    deadline = time.monotonic() + 10
    while rfq.status in ("received", "pricing") and time.monotonic() < deadline:
        time.sleep(0.02)  # a worker left running by an earlier test claimed it first
        price_waiting_rfqs()
        rfq = Rfq.objects.get(id=rfq.id)
    if rfq.status == "pending_review":
        services.review_decide(user=senior, rfq_id=rfq.id, action="send")
        rfq = Rfq.objects.get(id=rfq.id)
    assert rfq.status == "quoted", (rfq.status, rfq.reason)
    trade, _ = services.quote_accept(client=client, rfq_id=rfq.id, quote_id=rfq.quote_id)
    return trade
