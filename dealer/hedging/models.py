"""Hedge decisions, the orders that carry them out, and their fills."""
from __future__ import annotations

from django.db import models
from django.db.models import F, Q

QTY = {"max_digits": 18, "decimal_places": 2}


class HedgeDecision(models.Model):
    DECISIONS = [(d, d) for d in ("offset", "schedule", "proxy", "internalize", "hold")]
    trade = models.OneToOneField("desk.Trade", on_delete=models.PROTECT, related_name="hedge_decision")
    decision = models.CharField(max_length=12, choices=DECISIONS)
    reason = models.CharField(max_length=300)
    figures = models.JSONField(default=dict)
    decided_at = models.DateTimeField()

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
    release_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="hedge_order_quantity_positive"),
            models.CheckConstraint(condition=Q(filled__gte=0, filled__lte=F("quantity")), name="hedge_order_fill_bounded"),
        ]


class HedgeFill(models.Model):
    order = models.ForeignKey(HedgeOrder, on_delete=models.PROTECT, related_name="fills")
    venue = models.ForeignKey("market.Venue", on_delete=models.PROTECT)
    fill_key = models.CharField(max_length=64, unique=True, help_text="Idempotency key of the fill.")
    quantity = models.DecimalField(**QTY)
    price = models.DecimalField(max_digits=14, decimal_places=6)
    filled_at = models.DateTimeField()

    class Meta:
        ordering = ["filled_at"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="hedge_fill_quantity_positive")]
