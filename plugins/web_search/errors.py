"""The tool errors a search can end with: stable codes, English templates marked for translation.

A provider's HTTP answer is classified once, here, by its status; a provider module only says
where its API differs (Brave's 422 for a bad token, Tavily's 432/433 and Bocha's 403 for used-up
credit). Rate limits and outages are retryable; a refused key or an empty account is not.
"""

from __future__ import annotations

import http
from typing import Any, Final

from builder.engine.i18n import gettext_noop
from builder.sdk import ToolError

AUTH_FAILED: Final = "search_auth_failed"
RATE_LIMITED: Final = "search_rate_limited"
QUOTA_EXCEEDED: Final = "search_quota_exceeded"
UNAVAILABLE: Final = "search_unavailable"
BAD_RESPONSE: Final = "search_bad_response"
REJECTED: Final = "search_request_rejected"
NOT_CONFIGURED: Final = "search_not_configured"

MAX_DETAIL_CHARS: Final = 200

_TEMPLATES: Final = {
    AUTH_FAILED: gettext_noop(
        "%(provider)s refused the API key (HTTP %(status)s: %(detail)s). "
        "Check the key in the web search plugin's settings."
    ),
    RATE_LIMITED: gettext_noop(
        "%(provider)s is limiting the rate of searches (HTTP %(status)s: %(detail)s). Try again in a moment."
    ),
    QUOTA_EXCEEDED: gettext_noop(
        "The %(provider)s account has used up its quota or credit (HTTP %(status)s: %(detail)s)."
    ),
    UNAVAILABLE: gettext_noop("%(provider)s is unavailable (HTTP %(status)s: %(detail)s). Try again later."),
    REJECTED: gettext_noop("%(provider)s refused the search (HTTP %(status)s: %(detail)s)."),
}
_RETRYABLE: Final = frozenset({RATE_LIMITED, UNAVAILABLE})


def status_error(code: str, provider: str, status: int, detail: str = "") -> ToolError:
    """The error for an HTTP answer of ``provider`` classified as ``code`` (one of the templates)."""
    return ToolError.from_template(
        code,
        _TEMPLATES[code],
        retryable=code in _RETRYABLE,
        details={"status": status},
        provider=provider,
        status=status,
        detail=_shortened(detail) or _reason(status),
    )


def code_for_status(status: int) -> str | None:
    """The usual meaning of an HTTP status from a search API; None for success."""
    if 200 <= status < 300:
        return None
    if status in (401, 403):
        return AUTH_FAILED
    if status == 402:
        return QUOTA_EXCEEDED
    if status == 429:
        return RATE_LIMITED
    if status == 408 or status >= 500:
        return UNAVAILABLE
    return REJECTED


def unreachable(provider: str, url: str, reason: str) -> ToolError:
    return ToolError.from_template(
        UNAVAILABLE,
        gettext_noop("Could not reach %(provider)s at %(url)s: %(reason)s"),
        retryable=True,
        provider=provider,
        url=url,
        reason=reason,
    )


def bad_response(provider: str, problem: str) -> ToolError:
    return ToolError.from_template(
        BAD_RESPONSE,
        gettext_noop("%(provider)s sent an answer that is not a list of search results: %(problem)s"),
        provider=provider,
        problem=problem,
    )


def not_configured(template: str, **params: Any) -> ToolError:
    return ToolError.from_template(NOT_CONFIGURED, template, **params)


def provider_message(body: Any) -> str:
    """The human-readable message inside an API's JSON error body, wherever that API puts it
    (``{"detail": {"error": …}}``, ``{"error": {"detail": …}}``, ``{"message": …}``…)."""
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        for key in ("detail", "message", "msg", "error", "error_description"):
            found = provider_message(body.get(key))
            if found:
                return found
    return ""


def _shortened(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "error"
