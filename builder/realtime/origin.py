"""Websocket origin check that fits both browsers and API clients.

Browsers always send ``Origin`` on a websocket handshake (and cookies with it, even cross-site), so
a present Origin must name one of ALLOWED_HOSTS. Programs (API-key clients, chat connectors) send
none and carry no cookie to abuse: they authenticate with their key instead.
"""

from __future__ import annotations

from typing import Any

from channels.security.websocket import AllowedHostsOriginValidator


class BrowserOriginValidator:
    def __init__(self, application: Any) -> None:
        self.application = application
        self.checked = AllowedHostsOriginValidator(application)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not any(name == b"origin" for name, _value in scope.get("headers", [])):
            return await self.application(scope, receive, send)
        return await self.checked(scope, receive, send)
