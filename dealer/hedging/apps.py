from django.apps import AppConfig


class HedgingConfig(AppConfig):
    name = "dealer.hedging"
    label = "hedging"
