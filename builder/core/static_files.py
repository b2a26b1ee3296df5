"""Static files through WhiteNoise without making every request synchronous.

WhiteNoise's middleware is sync-only. One sync middleware in ``MIDDLEWARE`` turns Django's whole
chain sync under ASGI, so each async view (the chat endpoint) would hop loop → thread → loop. This
middleware is async: static paths go to WhiteNoise in a worker thread, everything else stays on the
event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware  # type: ignore[import-untyped]

Handler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class AsyncStaticFilesMiddleware:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Handler) -> None:
        if not iscoroutinefunction(get_response):  # pragma: no cover - Django adapts for us
            raise TypeError("AsyncStaticFilesMiddleware needs an async get_response")
        self.get_response = get_response
        self.prefix = settings.STATIC_URL or ""
        # A path WhiteNoise does not know falls through (None) to the rest of the chain.
        self.whitenoise = WhiteNoiseMiddleware(get_response=lambda request: None)
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.prefix.startswith("/") and request.path_info.startswith(self.prefix):
            served: HttpResponseBase | None = await sync_to_async(self.whitenoise, thread_sensitive=False)(request)
            if served is not None:
                return served
        return await self.get_response(request)
