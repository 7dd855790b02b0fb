from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "dealer.reports"
    label = "reports"
