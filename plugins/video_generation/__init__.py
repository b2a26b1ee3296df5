"""Video generation: one tool, ``generate_video``, with the provider a workspace chooses.

- ``storyboard`` (the default): rendered on this server, no account (title and caption cards).
- ``openai``: OpenAI's video API (Sora).
- ``ark``: Volcengine Ark (Seedance / Doubao video).
- ``kling``: Kling (Kuaishou).

The tool is long-running: it starts a job that the host follows to the finished MP4, showing
progress in the chat. See ``README.md`` for the settings of each provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from builder.sdk import CredentialCheck, PluginContext, ToolError, ToolSpec, hookimpl
from plugins.video_generation import providers
from plugins.video_generation.tool import generate_video

PLUGIN_ID: Final = "video_generation"


@hookimpl
def register_tools() -> list[ToolSpec[Any, Any]]:
    return [generate_video()]


@hookimpl
async def validate_config(plugin_id: str, config: Mapping[str, Any], ctx: PluginContext) -> CredentialCheck | None:
    if plugin_id != PLUGIN_ID:
        return None
    try:
        provider = providers.configured(ctx)
        return await provider.check(config, ctx)
    except ToolError as error:
        return CredentialCheck(ok=False, message=error.message)
