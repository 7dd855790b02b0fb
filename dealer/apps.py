from django.apps import AppConfig


class DealerConfig(AppConfig):
    name = "dealer"
    verbose_name = "Dealer desk"
