from django.apps import AppConfig


class DeskConfig(AppConfig):
    name = "dealer.desk"
    label = "desk"
