"""RFQs, quotes, trades, positions, axes, markouts and the desk's switches.

Only `dealer.desk.services` writes these rows; states move through `Rfq.TRANSITIONS`.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

QTY = {"max_digits": 16, "decimal_places": 2}
PRICE = {"max_digits": 14, "decimal_places": 6}
SIDES = [("buy", "buy"), ("sell", "sell")]


class Rfq(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received"
        PRICING = "pricing"
        QUOTED = "quoted"
        PENDING_REVIEW = "pending_review"
        ACCEPTED = "accepted"
        BOOKED = "booked"
        DECLINED = "declined"
        REJECTED = "rejected"
        EXPIRED = "expired"
        FAILED = "failed"

    TRANSITIONS: dict[str, set[str]] = {
        "received": {"pricing", "failed"},
        "pricing": {"quoted", "pending_review", "declined", "failed", "received"},
        "pending_review": {"quoted", "declined", "expired"},
        "quoted": {"accepted", "rejected", "expired", "quoted"},
        "accepted": {"booked", "failed"},
        "booked": set(),
        "declined": set(),
        "rejected": set(),
        "expired": set(),
        "failed": set(),
    }
    OPEN = ("received", "pricing", "pending_review", "quoted", "accepted")

    # No index of its own: (client, client_rfq_id) and (client, -received_at) lead with it.
    client = models.ForeignKey("crm.Client", on_delete=models.PROTECT, related_name="rfqs", db_index=False)
    client_rfq_id = models.CharField(max_length=64)
    instrument = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, related_name="rfqs")
    side = models.CharField(max_length=4, choices=SIDES, help_text="The client's side.")
    quantity = models.DecimalField(**QTY, help_text="Face amount.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    reason = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=8, default="rest")
    tier = models.PositiveSmallIntegerField(help_text="The client's tier when the RFQ arrived.")
    received_at = models.DateTimeField(db_index=True)
    priced_at = models.DateTimeField(null=True, blank=True)
    review_deadline = models.DateTimeField(null=True, blank=True)
    # Every status change rewrites each index of this table (status is indexed, so no update is
    # HOT): the foreign keys below are never searched by, so they carry no index.
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", db_index=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    quote = models.ForeignKey(
        "Quote", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
        help_text="The quote the client sees (the latest sent).",
    )
    recommendation = models.ForeignKey(
        "Quote", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
        help_text="The system's recommendation for a reviewed RFQ.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "client_rfq_id"], name="rfq_client_rfq_id_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="rfq_quantity_positive"),
            models.CheckConstraint(condition=Q(side__in=["buy", "sell"]), name="rfq_side_valid"),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"]),
            models.Index(fields=["client", "-received_at"]),
            # The RFQ table is also the pricing queue: these hold only the few live rows, so the
            # claim, the expiry sweep and the stuck-RFQ sweep read a handful of index entries (in
            # id order, no sort) however many RFQs have been answered, even between vacuums.
            models.Index(fields=["id"], condition=Q(status="received"), name="rfq_waiting"),
            models.Index(fields=["updated_at"], condition=Q(status__in=["received", "pricing"]), name="rfq_in_flight"),
            models.Index(fields=["id"], condition=Q(status__in=["quoted", "pending_review"]), name="rfq_open"),
            # The hit ratios' catch-up reads the outcomes stamped since its watermark, every few
            # seconds: without this it read the whole day's RFQs (a parallel scan of the table).
            models.Index(fields=["updated_at"], condition=Q(status__in=["booked", "expired", "rejected"]),
                         name="rfq_outcome_stamped"),
        ]

    def __str__(self) -> str:
        return f"RFQ {self.pk} {self.client_id} {self.side} {self.quantity} {self.status}"


class Quote(models.Model):
    class Status(models.TextChoices):
        RECOMMENDED = "recommended"
        ACTIVE = "active"
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        EXPIRED = "expired"
        REPLACED = "replaced"

    COMPONENTS = (
        "base", "liquidity", "volatility", "impact", "hedge", "funding",
        "uncertainty", "stress", "skew", "axe", "signal", "agreement",
    )

    rfq = models.ForeignKey(Rfq, on_delete=models.CASCADE, related_name="quotes")
    status = models.CharField(max_length=12, choices=Status.choices)
    source = models.CharField(max_length=16, default="auto", help_text="auto, recommendation or trader.")
    price = models.DecimalField(**PRICE)
    quantity = models.DecimalField(**QTY)
    mid = models.DecimalField(**PRICE)
    mid_se = models.FloatField(default=0.0)
    valid_until = models.DateTimeField(null=True, blank=True)
    components = models.JSONField(default=dict, help_text="bp of price per component.")
    half_spread_bp = models.FloatField(default=0.0)
    agreement = models.ForeignKey("crm.Agreement", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ci_low = models.DecimalField(**PRICE, null=True, blank=True)
    ci_high = models.DecimalField(**PRICE, null=True, blank=True)
    impact_bp = models.FloatField(null=True, blank=True)
    win_probability = models.FloatField(null=True, blank=True)
    expected_pnl = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", db_index=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="quote_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="quote_price_positive"),
        ]
        indexes = [models.Index(fields=["status", "valid_until"])]


class Decision(models.Model):
    """A senior trader's decision on a pending RFQ, kept with who, when and why."""

    ACTIONS = [("send", "send"), ("improve", "improve"), ("worsen", "worsen"), ("decline", "decline")]
    rfq = models.OneToOneField(Rfq, on_delete=models.CASCADE, related_name="decision")
    action = models.CharField(max_length=8, choices=ACTIONS)
    recommended_price = models.DecimalField(**PRICE, null=True, blank=True)
    price = models.DecimalField(**PRICE, null=True, blank=True)
    quantity = models.DecimalField(**QTY, null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()


class Trade(models.Model):
    rfq = models.OneToOneField(Rfq, on_delete=models.PROTECT, related_name="trade", null=True, blank=True)
    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="trade", null=True, blank=True)
    client = models.ForeignKey("crm.Client", on_delete=models.PROTECT, related_name="trades")
    instrument = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, related_name="trades")
    side = models.CharField(max_length=4, choices=SIDES, help_text="The client's side.")
    quantity = models.DecimalField(**QTY)
    price = models.DecimalField(**PRICE)
    mid_at_booking = models.DecimalField(**PRICE)
    booked_at = models.DateTimeField(db_index=True)
    tier = models.PositiveSmallIntegerField()
    next_markout_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-booked_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trade_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="trade_price_positive"),
        ]
        indexes = [
            models.Index(fields=["client", "booked_at"]),
            models.Index(fields=["instrument", "booked_at"]),
        ]

    @property
    def desk_quantity(self) -> Decimal:
        """The desk's signed change in position: a client buy makes the desk shorter."""
        return -self.quantity if self.side == "buy" else self.quantity


class Position(models.Model):
    instrument = models.OneToOneField("market.Instrument", on_delete=models.PROTECT, related_name="position")
    quantity = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    avg_price = models.DecimalField(**PRICE, default=Decimal("0"))
    realized_pnl = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["instrument__sim_index"]


class Axe(models.Model):
    """The desk wants to buy or sell an instrument: quotes that move the book toward it improve."""

    instrument = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, related_name="axes")
    side = models.CharField(max_length=4, choices=SIDES, help_text="The desk's side.")
    quantity = models.DecimalField(**QTY)
    note = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="axe_quantity_positive")]


class Markout(models.Model):
    trade = models.ForeignKey(Trade, on_delete=models.CASCADE, related_name="markouts")
    horizon_seconds = models.PositiveIntegerField()
    mid = models.FloatField()
    markout_bp = models.FloatField(help_text="Dealer's P&L from the trade price to the later mid, bp.")
    pnl = models.FloatField()
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["trade_id", "horizon_seconds"]
        constraints = [models.UniqueConstraint(fields=["trade", "horizon_seconds"], name="markout_unique")]


class Switch(models.Model):
    """The kill switch (stop automatic quoting) and the stress switch, per scope."""

    NAMES = [("kill", "kill"), ("stress", "stress")]
    name = models.CharField(max_length=8, choices=NAMES)
    scope = models.CharField(max_length=20, default="desk", help_text="desk or an asset class code.")
    on = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "scope"]
        constraints = [models.UniqueConstraint(fields=["name", "scope"], name="switch_unique")]


class WinProbModel(models.Model):
    """The fitted hit-probability model (pricing.winprob), refitted from RFQ outcomes."""

    coef = models.JSONField()
    cov = models.JSONField()
    n_obs = models.PositiveIntegerField()
    hit_ratio = models.FloatField()
    fitted_at = models.DateTimeField()

    class Meta:
        ordering = ["-fitted_at"]
        get_latest_by = "fitted_at"
