from django.apps import AppConfig


class DeskConfig(AppConfig):
    name = "dealer.desk"
    label = "desk"

    def ready(self) -> None:
        from dealer.desk.context_versions import connect_signals

        connect_signals()
