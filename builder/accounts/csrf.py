"""Session authentication with one CSRF rule for every unsafe request a browser can be made to send.

DRF checks the CSRF token only for a logged-in session. The views anyone may call are anonymous by
definition, so they were left unchecked: a hostile page could log a visitor into the attacker's
account (login CSRF: what they then type lands with the attacker) or create accounts from the
visitors' browsers. Here an anonymous unsafe request to a view open to anonymous callers is checked
too. API keys are not ambient credentials: requests they authenticate (``ApiKeyAuthentication``,
first in the list) never reach this class. Anonymous writes to protected views stay a 401.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import authentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from builder.core.exceptions import PermissionDenied


class SessionAuthentication(authentication.SessionAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)  # checks CSRF for a logged-in session
        if result is None and _open_to_anonymous(request):
            self.enforce_csrf(request)
        return result

    def enforce_csrf(self, request: Request) -> None:
        check = authentication.CSRFCheck(lambda _request: None)  # type: ignore[arg-type]
        check.process_request(request)
        reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
        if reason:
            message = _(
                "CSRF check failed: %(reason)s Get the token with GET /api/v1/auth/csrf and send it in the "
                "X-CSRFToken header, or use an API key."
            ) % {"reason": reason}
            raise PermissionDenied(message, code="csrf_failed")


def _open_to_anonymous(request: Request) -> bool:
    view = (request.parser_context or {}).get("view")
    return view is not None and any(isinstance(permission, AllowAny) for permission in view.get_permissions())
