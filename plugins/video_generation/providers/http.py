"""What the provider clients share: JSON calls through the plugin's HTTP client, and one set of
error codes for what providers say in their own words.

Every failure a user should understand becomes a ``ToolError`` with one of these codes:

``unauthorized`` (the key or token was refused) · ``quota_exceeded`` (no balance or credits) ·
``rate_limited`` (retryable) · ``content_rejected`` (the provider's moderation) ·
``invalid_request`` (the provider refused the parameters) · ``provider_unavailable`` (5xx,
retryable) · ``job_not_found`` · ``generation_failed`` (the job failed; the provider's message).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from builder.engine.i18n import gettext_noop
from builder.sdk import PluginContext, ToolError

UNAUTHORIZED: Final = "unauthorized"
QUOTA_EXCEEDED: Final = "quota_exceeded"
RATE_LIMITED: Final = "rate_limited"
CONTENT_REJECTED: Final = "content_rejected"
INVALID_REQUEST: Final = "invalid_request"
UNAVAILABLE: Final = "provider_unavailable"
NOT_FOUND: Final = "job_not_found"
GENERATION_FAILED: Final = "generation_failed"

# English templates marked for translation: the host shows them in the reader's language.
_TEMPLATES: Final = {
    UNAUTHORIZED: gettext_noop(
        "%(provider)s refused the credentials: %(detail)s Check the keys in the plugin's settings."
    ),
    QUOTA_EXCEEDED: gettext_noop("The %(provider)s account has no quota left: %(detail)s"),
    RATE_LIMITED: gettext_noop("%(provider)s is limiting requests right now: %(detail)s Try again in a minute."),
    CONTENT_REJECTED: gettext_noop(
        "%(provider)s refused this video under its content policy: %(detail)s Try a different prompt."
    ),
    INVALID_REQUEST: gettext_noop("%(provider)s refused the request: %(detail)s"),
    UNAVAILABLE: gettext_noop("%(provider)s is unavailable: %(detail)s Try again later."),
    NOT_FOUND: gettext_noop("%(provider)s has no such video job: %(detail)s"),
    GENERATION_FAILED: gettext_noop("%(provider)s could not generate the video: %(detail)s"),
}
_RETRYABLE: Final = frozenset({RATE_LIMITED, UNAVAILABLE})
MAX_DETAIL_CHARS: Final = 400
REQUEST_TIMEOUT_S: Final = 30.0


def failure(provider: str, code: str, detail: str) -> ToolError:
    detail = " ".join(detail.split())[:MAX_DETAIL_CHARS] or "no details given."
    if detail[-1] not in ".!?。":
        detail += "."
    return ToolError.from_template(
        code,
        _TEMPLATES[code],
        retryable=code in _RETRYABLE,
        details={"provider": provider},
        provider=provider,
        detail=detail,
    )


def code_for_status(status: int) -> str:
    """The error code an HTTP status means when the body says nothing more precise."""
    if status in (401, 403):
        return UNAUTHORIZED
    if status == 402:
        return QUOTA_EXCEEDED
    if status == 404:
        return NOT_FOUND
    if status == 429:
        return RATE_LIMITED
    if status >= 500:
        return UNAVAILABLE
    return INVALID_REQUEST


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any  # the JSON body, or None when it is not JSON
    text: str
    content: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def field(self, *path: str) -> Any:
        """``data[path[0]][path[1]]…``, or None where the path does not exist."""
        value = self.data
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value


async def call(
    ctx: PluginContext,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    json_body: Any = None,
    params: Mapping[str, str] | None = None,
    timeout_s: float = REQUEST_TIMEOUT_S,
) -> Reply:
    response = await ctx.http.request(
        method,
        url,
        headers={"Accept": "application/json", **headers},
        json=json_body,
        params=params,
        timeout_s=timeout_s,
    )
    try:
        data = json.loads(response.body) if response.body else None
    except ValueError:
        data = None
    return Reply(status=response.status_code, data=data, text=response.body, content=response.content)


def error_object(reply: Reply, key: str = "error") -> dict[str, Any]:
    """The ``{"code", "message", …}`` object of an error body (OpenAI's and Ark's shape), or {}."""
    error = reply.field(key)
    if isinstance(error, Mapping):
        return dict(error)
    return {"message": str(error)} if error else {}


def base_url(ctx: PluginContext, field: str) -> str:
    return str(ctx.config.get(field) or "").rstrip("/")


def estimated_percent(started_at: float, expected_s: float) -> float:
    """A progress estimate for providers that report none: rises quickly, then slows, never past 90."""
    elapsed = max(time.time() - started_at, 0.0)
    return round(10 + 80 * (1 - math.exp(-elapsed / expected_s)), 1)
