"""Clients, tiers, agreements, interests and relationship scores."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class Tier(models.Model):
    """A client tier: how much automation, spread and size the desk gives."""

    number = models.PositiveSmallIntegerField(
        unique=True, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    name = models.CharField(max_length=40)
    quote_ttl_seconds = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(60)],
        help_text="Time-to-live of a quote sent to the client (5-60 s).",
    )
    review_deadline_seconds = models.PositiveIntegerField(
        default=120, validators=[MinValueValidator(5), MaxValueValidator(3600)],
        help_text="Time a senior trader has to decide a pending RFQ.",
    )
    decision_band_bp = models.FloatField(
        default=5.0, validators=[MinValueValidator(0)],
        help_text="A trader's price further than this from the recommendation needs a reason.",
    )
    agreement_min_bp = models.FloatField(default=-5.0, help_text="Most generous agreement adjustment.")
    agreement_max_bp = models.FloatField(default=10.0, help_text="Widest agreement adjustment.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=Q(number__gte=1, number__lte=3), name="tier_number_1_3"),
            models.CheckConstraint(
                condition=Q(agreement_min_bp__lte=models.F("agreement_max_bp")),
                name="tier_agreement_bounds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"Tier {self.number}"

    def clean(self) -> None:
        if self.agreement_min_bp is not None and self.agreement_max_bp is not None:
            if self.agreement_min_bp > self.agreement_max_bp:
                raise ValidationError({"agreement_min_bp": "Must not exceed agreement_max_bp."})


class TierLimit(models.Model):
    """Per tier and asset class: base spread, automatic size and maximum size."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="limits")
    asset_class = models.ForeignKey("market.AssetClass", on_delete=models.PROTECT)
    base_spread_bp = models.FloatField(validators=[MinValueValidator(0)])
    auto_size = models.DecimalField(
        max_digits=18, decimal_places=2, validators=[MinValueValidator(0)],
        help_text="Largest face quoted without review.",
    )
    max_size = models.DecimalField(
        max_digits=18, decimal_places=2, validators=[MinValueValidator(0)],
        help_text="Largest face the desk will consider at all.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["tier__number", "asset_class_id"]
        constraints = [
            models.UniqueConstraint(fields=["tier", "asset_class"], name="tier_limit_unique"),
            models.CheckConstraint(condition=Q(auto_size__lte=models.F("max_size")), name="tier_limit_auto_le_max"),
            models.CheckConstraint(condition=Q(base_spread_bp__gte=0), name="tier_limit_spread_non_negative"),
        ]

    def clean(self) -> None:
        if self.auto_size is not None and self.max_size is not None and self.auto_size > self.max_size:
            raise ValidationError({"auto_size": "The automatic size cannot exceed the maximum size."})


class Client(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="clients")
    rm = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="managed_clients", verbose_name="relationship manager",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="api_client", help_text="The API user the client authenticates as.",
    )
    credit_line = models.DecimalField(
        max_digits=18, decimal_places=2, validators=[MinValueValidator(0)],
        help_text="Maximum open notional (face) the desk will trade with the client.",
    )
    credit_used = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    suggested_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    tier_reason = models.CharField(max_length=200, blank=True)
    score_change = models.FloatField(null=True, blank=True, help_text="Score minus the previous computation's.")
    latest_score = models.ForeignKey(
        "RelationshipScore", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The latest score row (trailing metrics for the client list).",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["credit_used", "latest_score", "score_change"])

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(credit_line__gte=0), name="client_credit_line_non_negative"),
        ]

    def __str__(self) -> str:
        return self.code


class Agreement(models.Model):
    """A pricing agreement: a spread adjustment on everything or on a scope, between dates."""

    SCOPES = [("all", "all"), ("instrument", "instrument"), ("issuer", "issuer"), ("sector", "sector"), ("side", "side")]
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="agreements")
    scope = models.CharField(max_length=12, choices=SCOPES)
    value = models.CharField(max_length=80, null=True, blank=True)
    spread_adjustment_bp = models.FloatField(help_text="Negative tightens the client's quotes.")
    max_size = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    start = models.DateField()
    end = models.DateField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lte=models.F("end")), name="agreement_dates_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.scope}={self.value} {self.spread_adjustment_bp:+.1f}bp"


class Interest(models.Model):
    """The client is a natural buyer or seller of an instrument, issuer or sector."""

    SCOPES = [("instrument", "instrument"), ("issuer", "issuer"), ("sector", "sector")]
    SIDES = [("buy", "buy"), ("sell", "sell")]
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="interests")
    scope = models.CharField(max_length=12, choices=SCOPES)
    value = models.CharField(max_length=80)
    side = models.CharField(max_length=4, choices=SIDES)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "scope", "value", "side"], name="interest_unique"),
        ]


class RelationshipScore(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="scores")
    computed_at = models.DateTimeField(db_index=True)
    volume = models.FloatField()
    profitability = models.FloatField()
    flow_quality = models.FloatField()
    diversification = models.FloatField()
    score = models.FloatField()
    suggested_tier = models.PositiveSmallIntegerField()
    # Trailing-12-month raw inputs, kept so the client list reads them with the score.
    notional = models.FloatField(default=0.0, help_text="Traded notional (face x price / 100).")
    pnl = models.FloatField(default=0.0, help_text="Realized P&L: the 1-day markout P&L of each trade.")
    toxicity_bp = models.FloatField(default=0.0, help_text="Notional-weighted mean of -markout (5 min), bp.")
    n_asset_classes = models.PositiveSmallIntegerField(default=0)
    n_trades = models.PositiveIntegerField(default=0)
    n_rfqs = models.PositiveIntegerField(default=0)
    hit_ratio = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-computed_at"]
        indexes = [models.Index(fields=["client", "-computed_at"])]


class ScoringSettings(models.Model):
    """Management's weights (percent, summing to 100) and tier thresholds (score 0-100)."""

    weight_volume = models.FloatField(default=25.0)
    weight_profitability = models.FloatField(default=35.0)
    weight_flow_quality = models.FloatField(default=30.0)
    weight_diversification = models.FloatField(default=10.0)
    tier1_threshold = models.FloatField(default=80.0)
    tier2_threshold = models.FloatField(default=50.0)
    history = HistoricalRecords()

    def clean(self) -> None:
        total = self.weight_volume + self.weight_profitability + self.weight_flow_quality + self.weight_diversification
        if abs(total - 100.0) > 1e-9:
            raise ValidationError({"weight_volume": f"The weights must sum to 100%, not {total:g}%."})
        if not (0 <= self.tier2_threshold < self.tier1_threshold <= 100):
            raise ValidationError({"tier1_threshold": "Need 0 <= tier 2 threshold < tier 1 threshold <= 100."})


class ScoreRun(models.Model):
    """One recomputation of every client's score, with its progress (0..1) for the page's bar."""

    STATUSES = [("queued", "queued"), ("running", "running"), ("done", "done"), ("failed", "failed")]
    status = models.CharField(max_length=8, choices=STATUSES, default="queued")
    progress = models.FloatField(default=0.0)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    n_clients = models.PositiveIntegerField(default=0)
    n_changed = models.PositiveIntegerField(default=0, help_text="Clients whose suggested tier changed.")
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class CreditLineRequest(models.Model):
    """An RM's request to raise a client's credit line, pending management's approval."""

    STATUSES = [("pending", "pending"), ("approved", "approved"), ("rejected", "rejected")]
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="credit_requests")
    current = models.DecimalField(max_digits=18, decimal_places=2)
    requested = models.DecimalField(max_digits=18, decimal_places=2, validators=[MinValueValidator(0)])
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=STATUSES, default="pending")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["client"], condition=Q(status="pending"),
                                    name="credit_request_one_pending"),
        ]
