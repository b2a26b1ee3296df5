"""Websocket routes, mounted by ``builder/config/asgi.py`` under the session auth middleware.

Each entry is a ``django.urls.path`` to a consumer's ``as_asgi()``, e.g. the run event stream.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
