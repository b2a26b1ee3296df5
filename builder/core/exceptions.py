"""The one error hierarchy. Services raise these; the API handler turns them into one shape:
``{"error": {"code": "...", "message": "...", "fields": {...}}}``."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    status_code = 400
    default_code = "invalid"
    default_message: Any = _("The request could not be processed.")

    def __init__(
        self,
        message: Any = None,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        self.code = code or self.default_code
        self.fields = fields or {}
        self.extra = extra or {}
        super().__init__(str(self.message))


class ValidationFailed(ApplicationError):
    status_code = 400
    default_code = "invalid"
    default_message = _("Some fields are invalid.")


class NotAuthenticated(ApplicationError):
    status_code = 401
    default_code = "not_authenticated"
    default_message = _("Authentication credentials were not provided or are invalid.")


class PermissionDenied(ApplicationError):
    status_code = 403
    default_code = "permission_denied"
    default_message = _("You do not have permission to do this.")


class NotFound(ApplicationError):
    status_code = 404
    default_code = "not_found"
    default_message = _("Not found.")


class Conflict(ApplicationError):
    status_code = 409
    default_code = "conflict"
    default_message = _("The resource was changed by someone else.")


class PayloadTooLarge(ApplicationError):
    status_code = 413
    default_code = "payload_too_large"
    default_message = _("The upload is too large.")
