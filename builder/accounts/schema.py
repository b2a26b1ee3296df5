"""Describe API-key authentication in the OpenAPI schema (loaded by AccountsConfig.ready)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "builder.accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "al_<prefix>_<secret>",
            "description": "A workspace or bot API key, created under /api/v1/workspaces/{id}/api-keys/.",
        }


class CsrfSessionAuthenticationScheme(SessionScheme):
    """The builder's session authentication (CSRF held for anonymous requests too) is a session cookie."""

    target_class = "builder.accounts.csrf.SessionAuthentication"
