"""Websocket routes, mounted by ``builder/config/asgi.py`` under the session auth middleware."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from builder.realtime.consumers import ConversationConsumer, KnowledgeConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/conversations/<uuid:conversation_id>/", ConversationConsumer.as_asgi()),
    path("ws/knowledge/<uuid:knowledge_base_id>/", KnowledgeConsumer.as_asgi()),
]
