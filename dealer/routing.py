"""Websocket routes: `/ws/client/` (API clients, token, no Origin needed) and `/ws/desk/`
(people on the desk: session, own origin only)."""
from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from dealer.desk.consumers import ClientConsumer, DeskConsumer, TokenAuthMiddleware

websocket_urlpatterns = [
    path("ws/client/", TokenAuthMiddleware(ClientConsumer.as_asgi())),
    path("ws/desk/", AllowedHostsOriginValidator(AuthMiddlewareStack(DeskConsumer.as_asgi()))),
]
