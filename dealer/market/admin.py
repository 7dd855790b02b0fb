from django.contrib import admin

from dealer.market.models import AssetClass, DailyClose, Instrument, MarketPrint, Venue


@admin.register(AssetClass)
class AssetClassAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "rfq_enabled", "is_hedge")


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("isin", "description", "asset_class", "issuer", "sector", "rating", "coupon", "maturity",
                    "liquidity_bucket", "adv", "rfq_enabled")
    list_filter = ("asset_class", "sector", "rating", "liquidity_bucket", "currency", "rfq_enabled")
    search_fields = ("isin", "description", "issuer")


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "fee_bp", "latency_ms", "fill_probability")


@admin.register(MarketPrint)
class MarketPrintAdmin(admin.ModelAdmin):
    list_display = ("instrument", "price", "size", "printed_at")
    list_select_related = ("instrument",)
    date_hierarchy = "printed_at"


@admin.register(DailyClose)
class DailyCloseAdmin(admin.ModelAdmin):
    list_display = ("instrument", "date", "close")
    list_select_related = ("instrument",)
    search_fields = ("instrument__isin",)
