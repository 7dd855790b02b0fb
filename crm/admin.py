from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from simple_history.admin import SimpleHistoryAdmin

from dealer.market.models import AssetClass
from crm.models import Agreement, Client, Interest, RelationshipScore, ScoringSettings, Tier, TierLimit


class TierLimitFormSet(BaseInlineFormSet):
    """A tier must carry its parameters for every asset class clients can ask quotes in."""

    def clean(self) -> None:
        super().clean()
        covered = {f.cleaned_data["asset_class"].code for f in self.forms
                   if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("asset_class")}
        missing = sorted(set(AssetClass.objects.filter(rfq_enabled=True).values_list("code", flat=True)) - covered)
        if missing:
            raise ValidationError(f"limits: the tier has no parameters for {', '.join(missing)} "
                                  "(base spread, automatic size and maximum size are required).")


class TierLimitInline(admin.TabularInline):
    model = TierLimit
    formset = TierLimitFormSet
    extra = 0


@admin.register(Tier)
class TierAdmin(SimpleHistoryAdmin):
    list_display = ("number", "name", "quote_ttl_seconds", "review_deadline_seconds", "decision_band_bp",
                    "agreement_min_bp", "agreement_max_bp")
    inlines = [TierLimitInline]


class AgreementInline(admin.TabularInline):
    model = Agreement
    extra = 0


class InterestInline(admin.TabularInline):
    model = Interest
    extra = 0


@admin.register(Client)
class ClientAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "tier", "suggested_tier", "score", "rm", "credit_line", "credit_used", "active")
    list_filter = ("tier", "rm", "active")
    search_fields = ("code", "name")
    list_select_related = ("tier", "rm")
    inlines = [AgreementInline, InterestInline]


@admin.register(Agreement)
class AgreementAdmin(SimpleHistoryAdmin):
    list_display = ("client", "scope", "value", "spread_adjustment_bp", "start", "end")
    list_filter = ("scope",)
    search_fields = ("client__code", "value")


@admin.register(Interest)
class InterestAdmin(SimpleHistoryAdmin):
    list_display = ("client", "scope", "value", "side")
    search_fields = ("client__code", "value")


@admin.register(RelationshipScore)
class RelationshipScoreAdmin(admin.ModelAdmin):
    list_display = ("client", "computed_at", "score", "volume", "profitability", "flow_quality", "diversification",
                    "suggested_tier")
    list_select_related = ("client",)


admin.site.register(ScoringSettings, SimpleHistoryAdmin)
