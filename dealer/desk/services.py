"""Every write of the desk: RFQ intake, decisions, accept and book, expiry, switches.

Locks: `quote_accept` holds the RFQ, its quote, the position and the client rows
(`select_for_update`) for the whole booking, so concurrent accepts of one quote make one trade
and the position moves once. State moves go through `_move`, which refuses illegal ones.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from crm.models import Client
from dealer.db import prepared_cursor
from dealer.desk import events
from dealer.desk.models import Decision, Markout, Position, Quote, Rfq, Switch, Trade
from dealer.desk.selectors import rfq_rows, rfq_rows_from, rfqs_with_related
from dealer.errors import Conflict, DeskError, Forbidden, NotFound
from dealer.events import publish_many
from dealer.market.models import AssetClass, Instrument
from dealer.roles import MANAGEMENT, SENIOR_TRADER, has_role
from dealer.runflag import RunFlag

MAX_QUANTITY = Decimal("1e10")
RFQ_FIELDS = ("client_rfq_id", "isin", "side", "quantity")
_DECIMAL_RE = re.compile(r"[0-9]+(\.[0-9]{1,2})?")  # fullmatch: no sign, exponent, space or newline
MARKOUT_HORIZONS = (60, 300, 1800, 86400)
STUCK_AFTER_SECONDS = 5.0


class IllegalTransition(DeskError):
    status = 409


def _move(rfq: Rfq, new: str) -> None:
    if new not in Rfq.TRANSITIONS[rfq.status]:
        raise IllegalTransition(f"An RFQ that is {rfq.status} cannot become {new}.")
    rfq.status = new


@dataclass(frozen=True)
class RfqInput:
    client_rfq_id: str
    isin: str
    side: str
    quantity: Decimal


def parse_rfq_input(data: Any) -> RfqInput:
    """Validate an RFQ request body (REST or websocket); raises one DeskError naming every refused field."""
    if not isinstance(data, dict):
        raise DeskError("The body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    for name in sorted(set(data) - set(RFQ_FIELDS)):
        errors[name] = [f"Unknown field; allowed fields are {', '.join(RFQ_FIELDS)}."]
    for name in RFQ_FIELDS:
        if data.get(name) in (None, ""):
            errors[name] = ["This field is required."]
    rid = data.get("client_rfq_id")
    if "client_rfq_id" not in errors and (not isinstance(rid, str) or len(rid) > 64 or not rid.strip()):
        errors["client_rfq_id"] = ["Must be a non-empty string of at most 64 characters."]
    isin = data.get("isin")
    if "isin" not in errors and (not isinstance(isin, str) or len(isin) != 12):
        errors["isin"] = ["Must be a 12-character ISIN."]
    side = data.get("side")
    if "side" not in errors and side not in ("buy", "sell"):
        errors["side"] = ['Must be "buy" or "sell" (the client\'s side).']
    quantity = None
    if "quantity" not in errors:
        try:
            quantity = _rfq_quantity(data["quantity"])
        except DeskError as exc:
            errors["quantity"] = [exc.message]
    if errors:
        raise DeskError.of_fields(errors)
    assert quantity is not None
    return RfqInput(client_rfq_id=rid, isin=isin, side=side, quantity=quantity)


def _rfq_quantity(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise DeskError("Must be a decimal string such as \"1000000.00\".", field="quantity")
    text = str(raw) if not isinstance(raw, float) else repr(raw)
    if not _DECIMAL_RE.fullmatch(text):
        raise DeskError("Must be a positive decimal number with at most 2 decimals.", field="quantity")
    quantity = Decimal(text)
    if quantity <= 0:
        raise DeskError("Must be greater than 0.", field="quantity")
    if quantity > MAX_QUANTITY:
        raise DeskError("Must be at most 10000000000 (1e10) face.", field="quantity")
    return quantity.quantize(Decimal("0.01"))


pricing_flag = RunFlag("desk:price_rfqs")


def _enqueue_pricing() -> None:
    """Ring the running pricing run, or enqueue one if none is queued: a run claims every waiting
    RFQ (see `tasks.price_rfqs` for why none is left behind)."""
    from dealer.desk.tasks import price_rfqs

    if pricing_flag.signal():
        price_rfqs.delay()


def _same_request(rfq: Rfq, data: RfqInput) -> bool:
    return rfq.instrument.isin == data.isin and rfq.side == data.side and rfq.quantity == data.quantity


def _existing(client: Client, data: RfqInput) -> tuple[Rfq, bool]:
    existing = rfqs_with_related().filter(client=client, client_rfq_id=data.client_rfq_id).first()
    if existing is None:
        raise DeskError("The RFQ could not be stored; send it again.", status=503)
    if not _same_request(existing, data):
        raise Conflict(
            f"client_rfq_id {data.client_rfq_id!r} was already used for a different request "
            f"(RFQ {existing.id}: {existing.side} {existing.quantity} {existing.instrument.isin})."
        )
    return existing, False


def rfq_create(*, client: Client, data: RfqInput, channel: str = "rest") -> tuple[Rfq, bool]:
    """Store a new RFQ (status received) and enqueue pricing after commit.

    Returns (rfq, created). The client's `client_rfq_id` is the idempotency key, enforced by the
    database's unique (client, client_rfq_id): the same request again returns the first RFQ; the
    same key with other fields is a Conflict. The insert is one statement, so the hot path is one
    instrument lookup and one INSERT.
    """
    found = Instrument.objects.filter(isin=data.isin).values_list("id", "rfq_enabled", "asset_class__code").first()
    if found is None:
        if Rfq.objects.filter(client=client, client_rfq_id=data.client_rfq_id).exists():
            return _existing(client, data)
        raise DeskError(f"Unknown ISIN {data.isin}.", field="isin")
    instrument_id, rfq_enabled, asset_class = found
    if not rfq_enabled:
        if Rfq.objects.filter(client=client, client_rfq_id=data.client_rfq_id).exists():
            return _existing(client, data)
        raise DeskError(f"{data.isin} is not open for client RFQs.", field="isin")
    rfq = Rfq(client=client, client_rfq_id=data.client_rfq_id, instrument_id=instrument_id, side=data.side,
              quantity=data.quantity, status=Rfq.Status.RECEIVED, channel=channel, tier=client.tier.number,
              received_at=timezone.now())
    try:
        with transaction.atomic():
            rfq.save(force_insert=True)
            payload = rfq_payload_new(rfq, data.isin)
            events.rfq_changed(client.id, rfq.status, payload, received_desk_row(
                payload, code=client.code, name=client.name, tier=rfq.tier, asset_class=asset_class, channel=channel))
            transaction.on_commit(_enqueue_pricing)
    except IntegrityError:
        return _existing(client, data)
    return rfq, True


def rfq_payload_new(rfq: Any, isin: str) -> dict[str, Any]:
    """The representation of a just-stored RFQ (an `Rfq`, or anything with its id, client_rfq_id,
    side, quantity, status and received_at), built without touching the database."""
    return {
        "id": rfq.id, "client_rfq_id": rfq.client_rfq_id, "isin": isin, "side": rfq.side,
        "quantity": f"{rfq.quantity:.2f}", "status": rfq.status, "reason": "", "quote": None, "trade_id": None,
        "received_at": rfq.received_at.isoformat(),
    }


def received_desk_row(payload: dict[str, Any], *, code: str, name: str, tier: int, asset_class: str,
                      channel: str) -> dict[str, Any]:
    """The desk's row of a just-stored RFQ (its client's view plus who, tier and class)."""
    return {**payload, "client": code, "client_name": name, "tier": tier, "asset_class": asset_class,
            "review_deadline": None, "claimed_by": None, "channel": channel, "recommendation": None}


def _publish(rfq: Rfq) -> None:
    for row in rfq_rows([rfq.pk]):
        events.rfq_changed(*row)


# --- accept and book -----------------------------------------------------------------------

def _apply_fill(position: Position, desk_qty: Decimal, price: Decimal, per_point: Decimal = Decimal("0.01")) -> None:
    """Move a position by a signed fill, keeping average cost and realized P&L (`per_point`: money a
    point of price is worth per unit of quantity, dealer.market.units; 0.01 for face per 100)."""
    x, p = position.quantity, position.avg_price
    if x == 0 or (x > 0) == (desk_qty > 0):
        new_x = x + desk_qty
        position.avg_price = ((abs(x) * p + abs(desk_qty) * price) / abs(new_x)).quantize(Decimal("0.000001"))
        position.quantity = new_x
        return
    closed = min(abs(desk_qty), abs(x))
    sign = Decimal(1) if x > 0 else Decimal(-1)
    position.realized_pnl += (closed * (price - p) * sign * per_point).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    new_x = x + desk_qty
    position.quantity = new_x
    if new_x == 0:
        position.avg_price = Decimal("0")
    elif (new_x > 0) != (x > 0):
        position.avg_price = price


def position_apply(*, instrument_id: int, desk_qty: Decimal, price: Decimal,
                   per_point: Decimal = Decimal("0.01")) -> Position:
    """Lock (or create) the instrument's position and apply a fill. Caller holds a transaction.
    Client trades are in bonds (face per 100); a hedge fill passes its instrument's `per_point`."""
    position = Position.objects.select_for_update().filter(instrument_id=instrument_id).first()
    if position is None:
        Position.objects.get_or_create(instrument_id=instrument_id)
        position = Position.objects.select_for_update().get(instrument_id=instrument_id)
    _apply_fill(position, desk_qty, price, per_point)
    position.save(update_fields=["quantity", "avg_price", "realized_pnl", "updated_at"])
    return position


def _check_accept_allowed(rfq: Rfq, quote: Quote, now: datetime) -> None:
    if quote.rfq_id != rfq.id:
        raise DeskError(f"Quote {quote.id} is not a quote of RFQ {rfq.id}.", field="quote_id")
    if rfq.quote_id != quote.id and quote.status != Quote.Status.ACCEPTED:
        if quote.status in (Quote.Status.ACTIVE, Quote.Status.REPLACED):
            raise Conflict(f"Quote {quote.id} was replaced by a newer quote.")
        if quote.status == Quote.Status.RECOMMENDED:
            now_live = f"; the RFQ's live quote is {rfq.quote_id}" if rfq.quote_id and rfq.status == Rfq.Status.QUOTED else ""
            raise Conflict(f"Quote {quote.id} was never sent to you{now_live}.")
    if quote.status == Quote.Status.EXPIRED or (
        quote.status == Quote.Status.ACTIVE and quote.valid_until is not None and quote.valid_until <= now
    ):
        raise Conflict(f"Quote {quote.id} expired at {quote.valid_until.isoformat() if quote.valid_until else '?'}.")
    if quote.status == Quote.Status.REJECTED or rfq.status == Rfq.Status.REJECTED:
        raise Conflict(f"Quote {quote.id} was rejected.")
    if quote.status != Quote.Status.ACTIVE or rfq.status != Rfq.Status.QUOTED:
        raise Conflict(f"RFQ {rfq.id} is {rfq.status}; quote {quote.id} cannot be accepted.")


def quote_accept(*, client: Client, rfq_id: int, quote_id: Any) -> tuple[Trade, bool]:
    """Book the trade of an accepted quote. Returns (trade, created); repeats return the trade."""
    try:
        quote_id = int(quote_id)
    except (TypeError, ValueError):
        raise DeskError("Must be the id (an integer) of the RFQ's quote.", field="quote_id") from None
    with transaction.atomic():
        rfq = Rfq.objects.select_for_update().filter(id=rfq_id, client=client).first()
        if rfq is None:
            raise NotFound("No such RFQ.")
        quote = Quote.objects.select_for_update().filter(id=quote_id).first()
        if quote is None or quote.rfq_id != rfq.id:
            raise DeskError(f"Quote {quote_id} is not a quote of RFQ {rfq.id}.", field="quote_id")
        existing = Trade.objects.filter(quote=quote).first()
        if existing is not None:
            return existing, False
        now = timezone.now()
        _check_accept_allowed(rfq, quote, now)
        locked_client = Client.objects.select_for_update().get(pk=client.pk)
        headroom = locked_client.credit_line - locked_client.credit_used
        if quote.quantity > headroom:
            raise Conflict(f"The trade of {quote.quantity} face exceeds the client's remaining credit line ({headroom}).")
        _move(rfq, Rfq.Status.ACCEPTED)
        desk_qty = -quote.quantity if rfq.side == "buy" else quote.quantity
        position = position_apply(instrument_id=rfq.instrument_id, desk_qty=desk_qty, price=quote.price)
        Client.objects.filter(pk=client.pk).update(credit_used=F("credit_used") + quote.quantity)
        quote.status = Quote.Status.ACCEPTED
        quote.save(update_fields=["status"])
        # Written last, stamped as it is written: the trade's time is its booking's, and its hedge
        # decision (timed from it) is rung first after the commit.
        booked_at = timezone.now()
        trade = Trade.objects.create(
            rfq=rfq, quote=quote, client=client, instrument_id=rfq.instrument_id, side=rfq.side,
            quantity=quote.quantity, price=quote.price, mid_at_booking=quote.mid, booked_at=booked_at,
            tier=rfq.tier, next_markout_at=booked_at + timedelta(seconds=MARKOUT_HORIZONS[0]),
        )
        _move(rfq, Rfq.Status.BOOKED)
        rfq.save(update_fields=["status", "updated_at"])
        transaction.on_commit(lambda: _after_booking(trade.id))
        _publish(rfq)
        events.desk_event({"type": "position", "position": position_event(position)})
    return trade, True


def position_event(position: Position) -> dict[str, Any]:
    return {
        "instrument_id": position.instrument_id,
        "quantity": str(position.quantity),
        "avg_price": str(position.avg_price),
        "realized_pnl": str(position.realized_pnl),
    }


def _after_booking(trade_id: int) -> None:
    from dealer.hedging.tasks import enqueue_decisions
    from dealer.reports.tasks import update_rollups

    enqueue_decisions()
    update_rollups.delay(trade_id)


def rfq_reject(*, client: Client, rfq_id: int) -> Rfq:
    """The client turns the quote down: the quote is rejected and nothing is held for it."""
    with transaction.atomic():
        rfq = Rfq.objects.select_for_update().filter(id=rfq_id, client=client).first()
        if rfq is None:
            raise NotFound("No such RFQ.")
        if rfq.status == Rfq.Status.REJECTED:
            return rfqs_with_related().get(pk=rfq.pk)
        if rfq.status != Rfq.Status.QUOTED:
            raise Conflict(f"RFQ {rfq.id} is {rfq.status}: there is no live quote to reject.")
        live = Quote.objects.filter(pk=rfq.quote_id).values_list("valid_until", flat=True).first()
        if live is not None and live <= timezone.now():  # as an accept would be refused: the sweep expires it
            raise Conflict(f"Quote {rfq.quote_id} expired at {live.isoformat()}: there is no live quote to reject.")
        Quote.objects.filter(rfq=rfq, status=Quote.Status.ACTIVE).update(status=Quote.Status.REJECTED)
        _move(rfq, Rfq.Status.REJECTED)
        rfq.reason = "rejected by the client"
        rfq.save(update_fields=["status", "reason", "updated_at"])
        _publish(rfq)
    return rfqs_with_related().get(pk=rfq.pk)


# --- Tier 1 review ----------------------------------------------------------------------------

CLAIM_SECONDS = 60


def _require_senior(user: Any) -> None:
    if not has_role(user, SENIOR_TRADER):
        raise Forbidden("Only senior traders decide on reviewed RFQs.")


def review_claim(*, user: Any, rfq_id: int) -> Rfq:
    """Claim a pending RFQ so that no other senior trader decides it at the same time."""
    _require_senior(user)
    with transaction.atomic():
        rfq = Rfq.objects.select_for_update().filter(id=rfq_id).first()
        if rfq is None:
            raise NotFound("No such RFQ.")
        now = timezone.now()
        if rfq.status != Rfq.Status.PENDING_REVIEW:
            raise Conflict(f"RFQ {rfq.id} is {rfq.status}, no longer waiting for a decision.")
        if rfq.claimed_by_id and rfq.claimed_by_id != user.id and rfq.claimed_at and (now - rfq.claimed_at).total_seconds() < CLAIM_SECONDS:
            raise Conflict(f"RFQ {rfq.id} is being decided by {rfq.claimed_by.username}.")
        rfq.claimed_by = user
        rfq.claimed_at = now
        rfq.save(update_fields=["claimed_by", "claimed_at", "updated_at"])
        events.review_event({"type": "review.claimed", "rfq_id": rfq.id, "by": user.username})
    return rfq


def _price_arg(price: Any) -> Decimal:
    try:
        value = Decimal(str(price))
    except (InvalidOperation, TypeError, ValueError):
        raise DeskError("Must be a decimal price per 100 face.", field="price") from None
    if not value.is_finite() or value <= 0:
        raise DeskError("Must be a positive price per 100 face.", field="price")
    return value.quantize(Decimal("0.000001"))


SANITY_BAND_BP = 500.0


def review_decide(*, user: Any, rfq_id: int, action: str, price: Any = None, quantity: Any = None,
                  reason: str = "") -> Rfq:
    """A senior trader's decision on a pending RFQ: send, improve, worsen or decline."""
    _require_senior(user)
    if action not in ("send", "improve", "worsen", "decline"):
        raise DeskError('Must be one of "send", "improve", "worsen", "decline".', field="action")
    reason = (reason or "").strip()
    with transaction.atomic():
        rfq = Rfq.objects.select_for_update().filter(id=rfq_id).first()
        if rfq is None:
            raise NotFound("No such RFQ.")
        now = timezone.now()
        if hasattr(rfq, "decision") and Decision.objects.filter(rfq=rfq).exists():
            raise Conflict(f"RFQ {rfq.id} was already decided.")
        if rfq.status != Rfq.Status.PENDING_REVIEW:
            raise Conflict(f"RFQ {rfq.id} is {rfq.status}: it can no longer be decided.")
        if rfq.review_deadline and rfq.review_deadline <= now:
            raise Conflict(f"The review deadline of RFQ {rfq.id} has passed.")
        if rfq.claimed_by_id and rfq.claimed_by_id != user.id and rfq.claimed_at and (now - rfq.claimed_at).total_seconds() < CLAIM_SECONDS:
            raise Conflict(f"RFQ {rfq.id} is being decided by another trader.")
        rec = rfq.recommendation
        tier = rfq.client.tier
        if action == "decline":
            Decision.objects.create(rfq=rfq, action=action, recommended_price=rec.price if rec else None,
                                    reason=reason or "declined by the desk", decided_by=user, decided_at=now)
            _move(rfq, Rfq.Status.DECLINED)
            rfq.reason = reason or "declined by the desk"
            rfq.save(update_fields=["status", "reason", "updated_at"])
        else:
            if rec is None:
                raise Conflict(f"RFQ {rfq.id} has no recommendation to decide from.")
            if action == "send":
                new_price = rec.price
            else:
                if price in (None, ""):
                    raise DeskError(f"A price is required to {action} the recommendation.", field="price")
                new_price = _price_arg(price)
                client_buys = rfq.side == "buy"
                better = new_price < rec.price if client_buys else new_price > rec.price
                worse = new_price > rec.price if client_buys else new_price < rec.price
                if action == "improve" and not better:
                    raise DeskError("An improved price must be better for the client than the recommendation.", field="price")
                if action == "worsen" and not worse:
                    raise DeskError("A worsened price must be worse for the client than the recommendation.", field="price")
            mid = rec.mid
            if abs(float(new_price - mid) / float(mid) * 1e4) > SANITY_BAND_BP:
                raise DeskError(f"The price is more than {SANITY_BAND_BP:.0f} bp from the mid {mid}: refused.", field="price")
            qty = rfq.quantity
            if quantity not in (None, ""):
                try:
                    qty = Decimal(str(quantity))
                    if not qty.is_finite():
                        raise ValueError(quantity)
                    qty = qty.quantize(Decimal("0.01"))
                except (InvalidOperation, ValueError):
                    raise DeskError("Must be a decimal face amount.", field="quantity") from None
                if qty <= 0 or qty > rfq.quantity:
                    raise DeskError(f"Must be more than 0 and at most the requested {rfq.quantity}.", field="quantity")
            departure_bp = abs(float(new_price - rec.price) / float(mid) * 1e4)
            if departure_bp > tier.decision_band_bp and not reason:
                raise DeskError(
                    f"The price departs {departure_bp:.1f} bp from the recommendation (band {tier.decision_band_bp:g} bp): give a reason.",
                    field="reason",
                )
            Decision.objects.create(rfq=rfq, action=action, recommended_price=rec.price, price=new_price,
                                    quantity=qty, reason=reason, decided_by=user, decided_at=now)
            components = dict(rec.components)
            components["trader"] = round(departure_bp * (1 if action == "worsen" else -1 if action == "improve" else 0), 6)
            quote = Quote.objects.create(
                rfq=rfq, status=Quote.Status.ACTIVE, source="trader", price=new_price, quantity=qty,
                mid=rec.mid, mid_se=rec.mid_se, components=components, half_spread_bp=rec.half_spread_bp,
                agreement=rec.agreement, valid_until=now + timedelta(seconds=tier.quote_ttl_seconds),
                created_by=user, created_at=now,
            )
            rfq.quote = quote
            _move(rfq, Rfq.Status.QUOTED)
            rfq.reason = ""
            rfq.save(update_fields=["status", "quote", "reason", "updated_at"])
        events.review_event({"type": "review.decision", "rfq_id": rfq.id, "action": action, "by": user.username})
        _publish(rfq)
    return rfqs_with_related().select_related("recommendation").get(pk=rfq.pk)


# --- expiry, stuck RFQs and markouts -------------------------------------------------------------

QUOTE_EXPIRED_REASON = "the quote's time-to-live ran out"
_LONG_AGO = datetime(2000, 1, 1, tzinfo=dt_timezone.utc)
REVIEW_EXPIRED_REASON = "no decision before the review deadline"


def expire_due(*, now: datetime | None = None, limit: int = 2000, reviews: bool = True, outbox: Any = None,
               since: datetime | None = None) -> int:
    """Expire quotes past their time-to-live and (with `reviews`) reviews past their deadline,
    set-based, and publish the changes after commit. The pricing run calls it every 25 ms
    (`QuoteExpiry`: quotes only; their events go in its `outbox`, an `events.Outbox`, with its next
    wait for an RFQ), so that expiries go out a few at a time as they fall due; the beat sweep
    catches the rest. Rows an accept holds are skipped (`SKIP LOCKED`) and looked at again next time; the
    accept checks the time-to-live itself. Idempotent. With `since`, only quotes whose
    time-to-live ran out after it (see `QuoteExpiry`)."""
    now = now or timezone.now()
    send = outbox.add if outbox is not None else publish_many
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        rows = _expire_quotes_in_one_statement(now, limit, since or _LONG_AGO)
        if rows:
            send([m for row in rfq_rows_from(sorted(rows)) for m in events.rfq_changed_messages(*row)])
        if not reviews:
            return len(rows)
        with transaction.atomic():
            reviewed = _expire_reviews(now, limit)
            _publish_all(reviewed)
        return len(rows) + len(reviewed)
    with transaction.atomic():
        quotes_due = Rfq.objects.filter(status=Rfq.Status.QUOTED, quote__status=Quote.Status.ACTIVE,
                                        quote__valid_until__lte=now,
                                        quote__valid_until__gt=since or _LONG_AGO).order_by("quote__valid_until")
        if connection.features.has_select_for_update_skip_locked:
            quotes_due = quotes_due.select_for_update(skip_locked=True, of=("self",))
        quoted = list(quotes_due.values_list("id", flat=True)[:limit])
        if quoted:
            Quote.objects.filter(rfq_id__in=quoted, status=Quote.Status.ACTIVE, valid_until__lte=now).update(
                status=Quote.Status.EXPIRED)
            Rfq.objects.filter(id__in=quoted, status=Rfq.Status.QUOTED).update(
                status=Rfq.Status.EXPIRED, reason=QUOTE_EXPIRED_REASON, updated_at=now)
        expired = quoted + (_expire_reviews(now, limit) if reviews else [])
        _publish_all(expired, send)
    return len(expired)


_EXPIRE_QUOTES_SQL = """
    WITH due AS (
        SELECT r.id FROM {quote} q JOIN {rfq} r ON r.id = q.rfq_id AND r.quote_id = q.id
        WHERE q.status = 'active' AND q.valid_until <= %(now)s AND q.valid_until > %(since)s AND r.status = 'quoted'
        ORDER BY q.valid_until LIMIT %(limit)s
        FOR UPDATE OF r SKIP LOCKED
    ),
    expired_quotes AS (
        UPDATE {quote} q SET status = 'expired' FROM due
        WHERE q.rfq_id = due.id AND q.status = 'active' AND q.valid_until <= %(now)s
    )
    UPDATE {rfq} r SET status = 'expired', reason = %(reason)s, updated_at = %(now)s
    FROM due, {quote} q, {instrument} i, {asset_class} a, {client} c
    WHERE r.id = due.id AND q.id = r.quote_id AND i.id = r.instrument_id AND a.id = i.asset_class_id
        AND c.id = r.client_id
    RETURNING r.id, r.client_id, r.client_rfq_id, r.side, r.quantity, r.status, r.reason, r.received_at, r.tier,
        r.review_deadline, r.channel, r.quote_id, r.recommendation_id,
        (SELECT u.username FROM {user} u WHERE u.id = r.claimed_by_id), NULL::bigint,
        i.isin, i.description, a.code, c.code, c.name, q.price, q.quantity, q.valid_until, q.components, q.mid,
        q.source
"""


def _expire_quotes_in_one_statement(now: datetime, limit: int, since: datetime) -> list[tuple[Any, ...]]:
    """PostgreSQL: find the quotes due (an index scan in time-to-live order over `(status,
    valid_until)`), lock their RFQs and expire both, in one statement: its own transaction, one
    round trip. Returns the expired RFQs as `selectors.rfq_rows_from` takes them (their events
    need no second read)."""
    from django.contrib.auth import get_user_model

    sql = _EXPIRE_QUOTES_SQL.format(quote=Quote._meta.db_table, rfq=Rfq._meta.db_table,
                                    instrument=Instrument._meta.db_table, asset_class=AssetClass._meta.db_table,
                                    client=Client._meta.db_table, user=get_user_model()._meta.db_table)
    with prepared_cursor() as cursor:
        cursor.execute(sql, {"now": now, "limit": limit, "reason": QUOTE_EXPIRED_REASON, "since": since})
        return cursor.fetchall()


class QuoteExpiry:
    """A pricing run's quote expiry: each pass looks only at quotes whose time-to-live ran out
    since the last pass that left none behind (less a margin), instead of from the oldest.

    Why: every expired quote leaves its `active` index entry behind until a vacuum reaches it,
    and a scan from the oldest walks them all. Measured with pg_stat_statements during
    `bench rfq` (200/s, autovacuum off as on this machine): 2.1 ms per pass, 366 buffers, 40
    passes a second, the most expensive statement of the RFQ path. Nothing expires behind the
    mark: a quote's time-to-live (five seconds at least) ends long after it is written. The first
    pass of each run and the beat sweep look at every quote due (a quote an accept held, skipped
    once, is caught there)."""

    MARGIN = timedelta(seconds=1)

    def __init__(self) -> None:
        self.through: datetime | None = None

    def expire(self, *, limit: int, outbox: Any = None) -> int:
        now = timezone.now()
        since = None if self.through is None else self.through - self.MARGIN
        n = expire_due(now=now, limit=limit, reviews=False, outbox=outbox, since=since)
        if n < limit:
            self.through = now
        return n


def _expire_reviews(now: datetime, limit: int) -> list[int]:
    due = Rfq.objects.filter(status=Rfq.Status.PENDING_REVIEW, review_deadline__lte=now).order_by("id")
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True, of=("self",))
    reviewed = list(due.values_list("id", flat=True)[:limit])
    if reviewed:
        Rfq.objects.filter(id__in=reviewed, status=Rfq.Status.PENDING_REVIEW).update(
            status=Rfq.Status.EXPIRED, reason=REVIEW_EXPIRED_REASON, updated_at=now)
    return reviewed


def _publish_all(ids: list[int], send: Any = publish_many) -> None:
    """Every state change of `ids`, from flat reads, in one round trip after commit (`send`)."""
    if ids:
        messages = [m for row in rfq_rows(ids) for m in events.rfq_changed_messages(*row)]
        transaction.on_commit(lambda: send(messages))


def requeue_stuck(*, now: datetime | None = None) -> int:
    """RFQs left in received or pricing by a dead worker go back to the queue."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=STUCK_AFTER_SECONDS)
    with transaction.atomic():
        stuck_pricing = Rfq.objects.filter(status=Rfq.Status.PRICING, updated_at__lte=cutoff).update(
            status=Rfq.Status.RECEIVED, updated_at=now
        )
    waiting = Rfq.objects.filter(status=Rfq.Status.RECEIVED, updated_at__lte=cutoff).exists()
    if stuck_pricing or waiting:
        _enqueue_pricing()
    return stuck_pricing


def record_markouts(*, now: datetime | None = None, mids: dict[int, float] | None = None) -> int:
    """Record the mid at each due markout horizon of recent trades (dealer-signed bp and money)."""
    from dealer.market.selectors import current_mids

    now = now or timezone.now()
    due = list(Trade.objects.filter(next_markout_at__lte=now).select_related("instrument")[:2000])
    if not due:
        return 0
    mids = mids if mids is not None else current_mids()
    recorded: dict[int, set[int]] = {}
    for trade_id, horizon in Markout.objects.filter(trade__in=due).values_list("trade_id", "horizon_seconds"):
        recorded.setdefault(trade_id, set()).add(horizon)
    rows = []
    for trade in due:
        done = recorded.get(trade.id, set())
        mid = mids.get(trade.instrument_id)
        if mid is None:
            continue
        age = (now - trade.booked_at).total_seconds()
        for h in MARKOUT_HORIZONS:
            if h <= age + 1e-6 and h not in done:
                sign = 1.0 if trade.side == "sell" else -1.0  # the dealer bought when the client sold
                price = float(trade.price)
                bp = sign * (mid - price) / price * 1e4
                pnl = sign * (mid - price) * float(trade.quantity) / 100.0
                rows.append(Markout(trade=trade, horizon_seconds=h, mid=mid, markout_bp=bp, pnl=pnl, recorded_at=now))
        remaining = [h for h in MARKOUT_HORIZONS if h > age + 1e-6]
        trade.next_markout_at = trade.booked_at + timedelta(seconds=remaining[0]) if remaining else None
    with transaction.atomic():
        Markout.objects.bulk_create(rows, ignore_conflicts=True)
        Trade.objects.bulk_update(due, ["next_markout_at"])
    return len(rows)


# --- switches --------------------------------------------------------------------------------

def switch_set(*, user: Any, name: str, scope: str, on: Any, reason: str) -> Switch:
    """Flip the kill or stress switch for the desk or one asset class (audited, with the person's
    reason: turning it on or off, the log says why)."""
    if not has_role(user, SENIOR_TRADER, MANAGEMENT):
        raise Forbidden("Only senior traders and management flip the desk's switches.")
    if name not in ("kill", "stress"):
        raise DeskError('Must be "kill" or "stress".', field="name")
    if scope != "desk" and not AssetClass.objects.filter(code=scope).exists():
        raise DeskError(f"Unknown scope {scope!r}: use \"desk\" or an asset class code.", field="scope")
    if not isinstance(on, bool):
        raise DeskError("Must be true or false.", field="on")
    reason = (reason or "").strip()
    if not reason:
        raise DeskError(f"Say why you turn {name} {'on' if on else 'off'} for {scope}.", field="reason")
    if len(reason) > 200:
        raise DeskError("At most 200 characters.", field="reason")
    with transaction.atomic():
        fields = {"on": on, "reason": reason, "changed_by": user, "changed_at": timezone.now()}
        switch = Switch.objects.select_for_update().filter(name=name, scope=scope).first()
        if switch is None:
            switch = Switch.objects.create(name=name, scope=scope, **fields)
        else:
            for key, value in fields.items():
                setattr(switch, key, value)
            switch.save()
        if name == "stress" and scope == "desk":
            from dealer.market.services import simulator_set_stress

            simulator_set_stress(stressed=on)
        events.desk_event({"type": "switch", "switch": switch_payload(switch)})
    return switch


def switch_payload(switch: Switch) -> dict[str, Any]:
    return {
        "name": switch.name,
        "scope": switch.scope,
        "on": switch.on,
        "reason": switch.reason,
        "changed_by": switch.changed_by.username if switch.changed_by_id and switch.changed_by else None,
        "changed_at": switch.changed_at.isoformat() if switch.changed_at else None,
    }
