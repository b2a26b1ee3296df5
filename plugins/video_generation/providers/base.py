"""What every video provider implements, and the request it receives."""

from __future__ import annotations

from typing import Any, Protocol

from builder.sdk import CredentialCheck, JobHandle, PluginContext
from builder.sdk.jobs import JobStatus
from plugins.video_generation.models import VideoRequest


class VideoProvider(Protocol):
    """One service behind ``generate_video``. ``name`` is its value of the ``provider`` setting and
    is kept in every job's state, so a job is followed by the provider that started it."""

    name: str
    label: str

    async def start(self, request: VideoRequest, ctx: PluginContext) -> JobHandle:
        """Submit the job; the handle's state holds what ``poll`` needs after a restart."""

    async def poll(self, handle: JobHandle, ctx: PluginContext) -> JobStatus:
        """Where the job is: running (with a percent when known), succeeded (output and files) or failed."""

    async def cancel(self, handle: JobHandle, ctx: PluginContext) -> None:
        """Ask the provider to stop the job, when it can; never raises for a job that is already over."""

    async def check(self, config: Any, ctx: PluginContext) -> CredentialCheck:
        """A cheap real call with the configured credentials (the settings' *Test* button)."""
