"""The video providers, by their value of the ``provider`` setting."""

from __future__ import annotations

from typing import Final

from builder.engine.i18n import gettext_noop
from builder.sdk import JobHandle, PluginContext, ToolError
from plugins.video_generation.providers.ark import ArkProvider
from plugins.video_generation.providers.base import VideoProvider
from plugins.video_generation.providers.kling import KlingProvider
from plugins.video_generation.providers.sora import SoraProvider
from plugins.video_generation.providers.storyboard import StoryboardProvider

DEFAULT: Final = "storyboard"
PROVIDERS: Final[dict[str, VideoProvider]] = {
    provider.name: provider for provider in (StoryboardProvider(), SoraProvider(), ArkProvider(), KlingProvider())
}


def _named(name: str) -> VideoProvider:
    provider = PROVIDERS.get(name)
    if provider is None:
        raise ToolError.from_template(
            "invalid_settings",
            gettext_noop("Unknown video provider %(name)s: choose one of %(names)s in the plugin's settings."),
            name=repr(name),
            names=", ".join(PROVIDERS),
        )
    return provider


def configured(ctx: PluginContext) -> VideoProvider:
    """The provider the workspace chose."""
    return _named(str(ctx.config.get("provider") or DEFAULT))


def of_job(handle: JobHandle) -> VideoProvider:
    """The provider that started the job (the setting may have changed since)."""
    return _named(str(handle.state.get("provider") or DEFAULT))


__all__ = ["DEFAULT", "PROVIDERS", "VideoProvider", "configured", "of_job"]
