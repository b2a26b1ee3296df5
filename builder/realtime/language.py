"""The language of a websocket, and run events in it.

A socket speaks the language the HTTP API would answer the same client in (``LocaleMiddleware``:
the ``django_language`` cookie, then the handshake's ``Accept-Language``), unless the URL names one
with ``?lang=`` (``zh-hans``, ``en``): a browser cannot set headers on a websocket, and its own
``Accept-Language`` may not be the language the user picked in the builder.

Run events are stored and broadcast in English (with each error's template and parameters); every
reader gets the error messages translated as they are sent: each socket in its language, each SSE
request in the request's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from django.http import HttpRequest
from django.utils import translation

from builder.core.messages import translated_error


def socket_language(scope: dict[str, Any]) -> str:
    """The language to speak on the socket of ``scope`` (a supported one, else the default)."""
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
    for asked in query.get("lang", [])[:1]:
        try:
            return translation.get_supported_language_variant(asked)
        except LookupError:
            break
    request = HttpRequest()
    request.COOKIES = dict(scope.get("cookies") or {})
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            request.META["HTTP_ACCEPT_LANGUAGE"] = value.decode("latin-1")
    return translation.get_language_from_request(request)


def translated_event(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` (a serialised run event) with its error message in the active language: a new dict
    when there is one to translate (``node.failed``, ``run.failed``, a ``node.finished`` that used its
    default outputs), else ``event`` itself. The event is shared with other readers: never changed."""
    error = event.get("error")
    if not isinstance(error, dict):
        return event
    return {**event, "error": translated_error(error)}
