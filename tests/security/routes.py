"""Every endpoint the server exposes, read from the URL conf and the websocket routes.

The permission matrix compares this list with its table, so an endpoint (or a method of one) added
without a row fails the matrix instead of shipping unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RoutePattern

from builder.realtime.routing import websocket_urlpatterns

API_PREFIX = "api/v1/"
WEBSOCKET = "WS"
# OPTIONS (DRF's metadata, answered by every view after authentication) and HEAD (Django answers
# it with the GET handler) say nothing of their own about permissions.
IMPLICIT_METHODS = frozenset({"OPTIONS", "HEAD"})
EVERY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Plain (non-DRF) views do not declare their methods: what each one accepts, by dotted name.
FUNCTION_VIEW_METHODS: dict[str, tuple[str, ...]] = {
    # The SSE chat answers 405 to anything but POST.
    "builder.conversations.sse.chat": ("POST",),
    # A plugin's webhook route accepts the methods the plugin registered: any of them.
    "builder.pluginhost.webhooks.plugin_webhook": EVERY_METHOD,
}

Endpoint = tuple[str, str]  # (method, route relative to API_PREFIX, or the websocket route)


def _patterns(patterns: Sequence[URLPattern | URLResolver], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def _dotted(callback: Callable[..., Any]) -> str:
    return f"{callback.__module__}.{callback.__qualname__}"


def view_methods(callback: Callable[..., Any]) -> tuple[str, ...]:
    """The HTTP methods a view handles (a class-based view's handlers, or the declared ones)."""
    view_class = getattr(callback, "view_class", None)
    if view_class is None:
        dotted = _dotted(callback)
        if dotted not in FUNCTION_VIEW_METHODS:
            raise LookupError(f"{dotted} is a plain view: declare its methods in FUNCTION_VIEW_METHODS")
        return FUNCTION_VIEW_METHODS[dotted]
    handled = {name.upper() for name in view_class.http_method_names if hasattr(view_class, name)}
    return tuple(sorted(handled - IMPLICIT_METHODS))


def api_routes() -> dict[str, tuple[str, ...]]:
    """Route (as the URL conf spells it, after ``api/v1/``) → the methods its view handles."""
    return {
        route.removeprefix(API_PREFIX): view_methods(callback)
        for route, callback in _patterns(get_resolver().url_patterns)
        if route.startswith(API_PREFIX)
    }


def websocket_routes() -> list[str]:
    return [route for route, _consumer in _patterns(websocket_urlpatterns)]


def _sample(path: str) -> str:
    """A concrete path for a matrix path: its ``{placeholders}`` filled with ids of the right shape."""
    filled = re.sub(r"\{plugin\}", "some-plugin", path)
    return re.sub(r"\{\w+\}", "00000000-0000-0000-0000-000000000000", filled).partition("#")[0].partition("?")[0]


def route_of(method: str, path: str) -> str:
    """The URL conf's route that serves a matrix path (``bots/{bot_A}/`` → ``bots/<uuid:bot_id>/``)."""
    if method == WEBSOCKET:
        return str(URLResolver(RoutePattern(""), websocket_urlpatterns).resolve(_sample(path)).route)
    return str(resolve("/" + API_PREFIX + _sample(path)).route).removeprefix(API_PREFIX)


def server_endpoints() -> set[Endpoint]:
    """Every (method, route) pair: the HTTP API's, and one ``WS`` connect per websocket route."""
    endpoints = {(method, route) for route, methods in api_routes().items() for method in methods}
    return endpoints | {(WEBSOCKET, route) for route in websocket_routes()}
