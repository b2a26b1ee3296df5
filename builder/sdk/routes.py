"""What ``register_routes`` returns: HTTP endpoints a provider calls back (a video job finished…).

A route is served at ``/api/v1/plugins/<plugin id>/webhooks/<path>``, without authentication,
because the caller is another service: the handler must verify the caller itself (a signature
header, a token in the path) before it trusts the body. The manifest must declare
``"permissions": {"webhooks": true}``. A handler reports a job's new status (the provider says
the video is ready) with ``WebhookResponse(job_updates=[JobCallback(job_id=..., status=...)])``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from builder.sdk.jobs import JobCallback

ROUTE_PATH: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-/]{0,199}$")
METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class WebhookResponse:
    status: int = 200
    # Sent as JSON unless None (then an empty body).
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # New statuses of this plugin's jobs (a provider's "job finished" callback): the host applies
    # them at once, as if a poll had answered them (builder.sdk.jobs).
    job_updates: Sequence[JobCallback] = ()


@dataclass(frozen=True)
class WebhookRoute:
    path: str
    handler: Callable[[WebhookRequest], Awaitable[WebhookResponse]]
    methods: frozenset[str] = frozenset({"POST"})

    def __post_init__(self) -> None:
        if not ROUTE_PATH.match(self.path) or ".." in self.path:
            raise ValueError(f"Route path {self.path!r}: letters, digits, _, - and /, not starting with /.")
        unknown = set(self.methods) - METHODS
        if unknown:
            raise ValueError(f"Route {self.path}: unknown methods {sorted(unknown)}.")
