"""``Authorization: Bearer al_…`` for API clients; the builder uses session auth."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from builder.accounts.models import ApiKey, User
from builder.accounts.services import api_key_authenticate
from builder.accounts.tokens import API_KEY_PREFIX


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _sep, raw_key = header.partition(" ")
        if scheme != self.keyword or not raw_key.startswith(API_KEY_PREFIX + "_"):
            return None
        key = api_key_authenticate(raw_key=raw_key.strip())
        if key is None:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked API key."))
        return key.created_by, key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def request_actor(request: Any) -> User | ApiKey:
    """The actor for services: the API key when one authenticated the request, else the user."""
    return request.auth if isinstance(request.auth, ApiKey) else request.user
