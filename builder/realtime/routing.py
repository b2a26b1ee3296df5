"""Websocket routes, mounted by ``builder/config/asgi.py`` under the session auth middleware."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from builder.realtime.consumers import ConversationConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/conversations/<uuid:conversation_id>/", ConversationConsumer.as_asgi()),
]
