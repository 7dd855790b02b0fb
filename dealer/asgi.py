"""ASGI entry point: HTTP through Django, websockets through Channels (`dealer.routing`)."""
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealer.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dealer.desk.fast_intake import RfqIntakeFastPath  # noqa: E402
from dealer.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {"http": RfqIntakeFastPath(django_asgi_app), "websocket": URLRouter(websocket_urlpatterns)}
)
# What is loaded by now (Django, the apps, their modules) lives as long as the server: out of the
# collector's sight, a full collection no longer walks it (one took 100-250 ms in a web process
# during `bench rfq`, every RFQ in flight waiting behind it).
gc.freeze()
