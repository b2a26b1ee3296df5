"""The sub_bot node's host side: run another bot of the workspace, at its live version, inside the
caller's run. Its answer and end outputs become the node's outputs; its streamed text reaches the
caller's trace as node deltas. Depth is bounded so bots calling each other cannot recurse forever.
A draft run may call only the bots its principal may chat with (``run_rights``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_noop

from builder.bots.models import Bot
from builder.conversations.run_rights import RunRights
from builder.core.exceptions import ApplicationError
from builder.engine.runtime.contract import NodeContext, RuntimeServices, node_error, phrase
from builder.engine.runtime.events import MessageDelta, RunEvent, ToolFile
from builder.engine.runtime.runner import RunOutcome, RunRequest

if TYPE_CHECKING:
    from builder.conversations.models import Run
    from builder.llm.models import ModelProvider

MAX_DEPTH = 3


class PublishedBotRunner:
    """Implements the engine's ``SubBotRunner`` for one run."""

    def __init__(
        self, run: Run, providers: list[ModelProvider], *, depth: int = 0, rights: RunRights | None = None
    ) -> None:
        self.run_ = run
        self.providers = providers
        self.depth = depth
        self.rights = rights if rights is not None else RunRights.of(run)

    def _load(self, bot_id: str) -> dict[str, Any]:
        """The callee's live graph, if the run may call it (same workspace only; see ``run_rights``)."""
        try:
            bot = Bot.objects.select_related("workspace", "live_version").filter(pk=bot_id).first()
        except (ValueError, DjangoValidationError):
            bot = None
        if bot is None or bot.workspace_id != self.run_.bot.workspace_id:
            raise node_error("not_found", gettext_noop("There is no bot %(bot)s in this workspace."), bot=bot_id)
        try:
            self.rights.check_bot_call(bot)
        except ApplicationError as error:
            # Named by its id, as the graph names it: its name is not the principal's to read.
            template = gettext_noop("This run may not call the bot %(bot)s.")
            raise node_error("permission_denied", template, bot=bot_id) from error
        if bot.live_version is None:
            raise node_error("not_published", gettext_noop("%(bot)s has not been published yet."), bot=bot.name)
        return dict(bot.live_version.graph)

    async def run(self, bot_id: str, inputs: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        if self.depth >= MAX_DEPTH:
            template = gettext_noop("Bots may call each other at most %(depth)s levels deep.")
            raise node_error("sub_bot_depth", template, depth=MAX_DEPTH)
        from builder.conversations.wiring import runner_for, runtime_services

        runner = await runner_for(await sync_to_async(self._load)(bot_id))
        # The callee runs its live version: vetted when it was published, like everything it calls.
        services: RuntimeServices = runtime_services(self.run_, runner, self.providers, rights=RunRights.published())
        services.memory = None
        services.sub_bots = PublishedBotRunner(
            self.run_, self.providers, depth=self.depth + 1, rights=RunRights.published()
        )
        inputs = dict(inputs)
        query = str(inputs.pop("query", "") or ctx.render("{{ sys.query }}"))

        async def forward(event: RunEvent) -> None:
            if isinstance(event, MessageDelta):
                await ctx.emit_node_delta({"text": event.text})
            elif isinstance(event, ToolFile):  # the called bot's video belongs to the caller's answer too
                file = event.model_dump(include={"url", "name", "content_type", "size", "field"})
                await ctx.emit_tool_file(event.tool, **file)

        outcome = await runner.run(
            RunRequest(
                run_id=f"{ctx.run_id}/{bot_id}",
                thread_id=str(uuid.uuid4()),
                query=query,
                inputs=inputs,
                sys={"user_id": ctx.render("{{ sys.user_id }}"), "conversation_id": "", "files": []},
            ),
            forward,
            services=services,
        )
        if outcome.status != "finished":
            template = gettext_noop("The called bot did not finish: %(reason)s")
            raise node_error("sub_bot_failed", template, reason=_reason(outcome))
        return {"answer": outcome.answer, "outputs": outcome.outputs}


def _reason(outcome: RunOutcome) -> dict[str, Any] | str:
    """Why a called bot did not finish: its own error (translated along with the sub_bot node's)."""
    if outcome.error is not None:
        return outcome.error.as_param()
    if outcome.status == "paused":
        return phrase(gettext_noop("it stopped to ask a question"))
    return outcome.status
