from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from dealer.desk.models import Axe, Decision, Markout, Position, Quote, Rfq, Switch, Trade


class ReadOnlyAdmin(admin.ModelAdmin):
    """Desk records change only through the services; the admin shows them."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Rfq)
class RfqAdmin(ReadOnlyAdmin):
    list_display = ("id", "client", "client_rfq_id", "instrument", "side", "quantity", "status", "tier", "received_at")
    list_filter = ("status", "tier", "channel", "side")
    search_fields = ("client__code", "client_rfq_id", "instrument__isin")
    list_select_related = ("client", "instrument")
    date_hierarchy = "received_at"


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdmin):
    list_display = ("id", "rfq_id", "status", "source", "price", "quantity", "mid", "valid_until")
    list_filter = ("status", "source")


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ("id", "client", "instrument", "side", "quantity", "price", "booked_at", "tier")
    list_filter = ("tier", "side")
    search_fields = ("client__code", "instrument__isin")
    list_select_related = ("client", "instrument")
    date_hierarchy = "booked_at"


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ("instrument", "quantity", "avg_price", "realized_pnl", "updated_at")
    list_select_related = ("instrument",)


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("rfq", "action", "recommended_price", "price", "quantity", "decided_by", "decided_at")


@admin.register(Markout)
class MarkoutAdmin(ReadOnlyAdmin):
    list_display = ("trade", "horizon_seconds", "markout_bp", "pnl")


@admin.register(Axe)
class AxeAdmin(SimpleHistoryAdmin):
    list_display = ("instrument", "side", "quantity", "active", "created_by", "created_at")
    list_filter = ("active", "side")


@admin.register(Switch)
class SwitchAdmin(SimpleHistoryAdmin, ReadOnlyAdmin):
    list_display = ("name", "scope", "on", "reason", "changed_by", "changed_at")
