from django.contrib import admin

from dealer.hedging.models import HedgeDecision, HedgeFill, HedgeOrder


@admin.register(HedgeDecision)
class HedgeDecisionAdmin(admin.ModelAdmin):
    list_display = ("trade", "decision", "reason", "decided_at")
    list_filter = ("decision",)


@admin.register(HedgeOrder)
class HedgeOrderAdmin(admin.ModelAdmin):
    list_display = ("id", "decision", "instrument", "side", "quantity", "filled", "status", "release_at")
    list_filter = ("status", "side")


@admin.register(HedgeFill)
class HedgeFillAdmin(admin.ModelAdmin):
    list_display = ("order", "venue", "quantity", "price", "filled_at")
