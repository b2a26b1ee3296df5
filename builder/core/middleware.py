"""Django's middleware, minus a thread hop per hook under ASGI.

``MiddlewareMixin`` runs every ``process_request``/``process_response`` in a worker thread when the
chain is async, in case the hook blocks: about ten thread round trips per request with our stack,
a measurable share of a chat turn. The hooks below do no I/O (they read headers and cookies, set
lazy objects, activate a language), so they run on the event loop. The ones that can touch the
database (saving a modified session, storing flash messages) still go to a thread, only then; any
other database access on the loop would raise ``SynchronousOnlyOperation`` rather than block.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.locale import LocaleMiddleware
from django.middleware.security import SecurityMiddleware

from builder.core.exception_handler import error_body
from builder.core.exceptions import ValidationFailed
from builder.core.json_input import unstorable_text_reason
from builder.core.untrusted import is_valid_text, printable_path


class _InlineHooks:
    """``__acall__`` for a ``MiddlewareMixin`` whose hooks are non-blocking (see the module doc)."""

    get_response: Any

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase | None = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            response = process_request(request)
        response = response or await self.get_response(request)
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            if self.response_needs_thread(request, response):
                response = await sync_to_async(process_response, thread_sensitive=True)(request, response)
            else:
                response = process_response(request, response)
        assert response is not None
        return response


class InlineSecurityMiddleware(_InlineHooks, SecurityMiddleware):
    pass


class InlineSessionMiddleware(_InlineHooks, SessionMiddleware):
    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        session = getattr(request, "session", None)
        # Saving (or deleting) a session writes to the database; reading the flags does not.
        return session is not None and (session.modified or session.accessed)


class InlineLocaleMiddleware(_InlineHooks, LocaleMiddleware):
    pass


class InlineCommonMiddleware(_InlineHooks, CommonMiddleware):
    pass


class InlineCsrfViewMiddleware(_InlineHooks, CsrfViewMiddleware):
    async def process_view(  # type: ignore[override]
        self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> HttpResponseBase | None:
        # Reads the cookie, the header or the (already received) form body: no I/O.
        return super().process_view(request, callback, callback_args, callback_kwargs)


class InlineAuthenticationMiddleware(_InlineHooks, AuthenticationMiddleware):
    pass


class InlineMessageMiddleware(_InlineHooks, MessageMiddleware):
    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        storage = getattr(request, "_messages", None)
        # Untouched storage stores nothing; otherwise it may read the session.
        return storage is not None and (storage.used or storage.added_new)


class InlineXFrameOptionsMiddleware(_InlineHooks, XFrameOptionsMiddleware):
    pass


class QueryTextMiddleware:
    """A query parameter (name or value) holding text no database keeps (a NUL, a lone surrogate) is
    a 400 naming it, before any view reads it: views filter and store what they read from the query
    string (``?user=`` becomes an end user's id), and PostgreSQL refuses a NUL with a 500.
    Comes after the locale middleware, so the reason is in the request's language."""

    sync_capable = async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        refused = _refused_query(request)
        if iscoroutinefunction(self):
            return self._acall(request, refused)
        return refused or self.get_response(request)

    async def _acall(self, request: HttpRequest, refused: HttpResponseBase | None) -> HttpResponseBase:
        return refused or await self.get_response(request)


def _refused_query(request: HttpRequest) -> HttpResponseBase | None:
    for name, values in request.GET.lists():
        if not is_valid_text(name) or not all(is_valid_text(value) for value in values):
            fields = {printable_path(name): [unstorable_text_reason()]}
            body = error_body(ValidationFailed.default_code, ValidationFailed.default_message, fields)
            return JsonResponse(body, status=400)
    return None
