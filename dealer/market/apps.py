from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "dealer.market"
    label = "market"
