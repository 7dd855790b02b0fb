"""ASGI entry point: HTTP through Django, websockets through Channels (`dealer.routing`)."""
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
