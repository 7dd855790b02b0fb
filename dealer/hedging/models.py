"""Hedge decisions, the orders that carry them out, their fills, settings and manual actions."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

QTY = {"max_digits": 18, "decimal_places": 2}


class HedgeSettings(models.Model):
    """The desk's hedging parameters (one row, audited)."""

    schedule_horizon_hours = models.FloatField(default=4.0, validators=[MinValueValidator(0.01)])
    schedule_steps = models.PositiveIntegerField(default=8, validators=[MinValueValidator(1)])
    risk_aversion = models.FloatField(default=1e-6, validators=[MinValueValidator(0)],
                                      help_text="Almgren-Chriss lambda.")
    small_fraction = models.FloatField(default=0.05, help_text="Offset at once below this share of ADV.")
    max_order_notional = models.DecimalField(**QTY, default=50_000_000)
    max_daily_notional = models.DecimalField(**QTY, default=2_000_000_000)
    history_days = models.PositiveIntegerField(default=250, help_text="Days of closes for proxy hedge ratios.")
    history = HistoricalRecords()

    @classmethod
    def current(cls) -> "HedgeSettings":
        row = cls.objects.order_by("id").first()
        return row if row is not None else cls.objects.create()


class HedgeDecision(models.Model):
    DECISIONS = [(d, d) for d in ("offset", "schedule", "proxy", "internalize", "hold")]
    trade = models.OneToOneField("desk.Trade", on_delete=models.PROTECT, related_name="hedge_decision")
    decision = models.CharField(max_length=12, choices=DECISIONS)
    reason = models.CharField(max_length=300)
    figures = models.JSONField(default=dict)
    decided_at = models.DateTimeField()
    latency_ms = models.FloatField(null=True, blank=True, help_text="From the trade's commit to the decision.")

    class Meta:
        ordering = ["-decided_at"]


class HedgeOrder(models.Model):
    STATUSES = [(s, s) for s in ("pending", "working", "filled", "cancelled", "rejected")]
    decision = models.ForeignKey(HedgeDecision, on_delete=models.PROTECT, related_name="orders")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    instrument = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=[("buy", "buy"), ("sell", "sell")], help_text="The desk's side.")
    quantity = models.DecimalField(**QTY)
    filled = models.DecimalField(**QTY, default=0)
    status = models.CharField(max_length=10, choices=STATUSES, default="pending")
    reason = models.CharField(max_length=200, blank=True)
    release_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="hedge_order_quantity_positive"),
            models.CheckConstraint(condition=Q(filled__gte=0, filled__lte=F("quantity")), name="hedge_order_fill_bounded"),
        ]
        indexes = [models.Index(fields=["status", "release_at"])]

    @property
    def remaining(self):  # type: ignore[no-untyped-def]
        return self.quantity - self.filled


class HedgeFill(models.Model):
    order = models.ForeignKey(HedgeOrder, on_delete=models.PROTECT, related_name="fills")
    venue = models.ForeignKey("market.Venue", on_delete=models.PROTECT)
    fill_key = models.CharField(max_length=64, unique=True, help_text="Idempotency key: order and attempt.")
    quantity = models.DecimalField(**QTY)
    price = models.DecimalField(max_digits=14, decimal_places=6)
    filled_at = models.DateTimeField()

    class Meta:
        ordering = ["filled_at"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="hedge_fill_quantity_positive")]
        # The day's hedge notional (the daily limit) is summed over today's fills on every decision batch.
        indexes = [models.Index(fields=["filled_at"])]


class HedgeAction(models.Model):
    """A trader's manual step on a hedge (cancel, change horizon, hedge now), kept for audit."""

    decision = models.ForeignKey(HedgeDecision, on_delete=models.PROTECT, related_name="actions")
    action = models.CharField(max_length=20)
    detail = models.JSONField(default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
