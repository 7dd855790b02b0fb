from django.urls import path

from dealer.reports import api

urlpatterns = [path("reports/profitability/", api.Profitability.as_view(), name="api-reports-profitability")]
