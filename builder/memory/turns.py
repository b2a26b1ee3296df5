"""What memory does around one run (``builder/conversations/executor.py``).

Before: the end user's stored user variables go into ``RunRequest.user`` (only declared ones of the
declared type: the engine fills the others with their defaults). After: the variables the run
changed are merged into what is stored, and a finished turn is learned from in the background
when the bot has long-term memory on.

A bot that declares no user variables and has memory off costs no query here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async

from builder.conversations.models import Run
from builder.engine.graph import BotGraph
from builder.engine.runtime.runner import RunOutcome
from builder.engine.values import value_matches_type
from builder.memory.dispatch import dispatch_turn_learning
from builder.memory.models import EndUser, end_user_id_of
from builder.memory.services import user_variables_save

logger = logging.getLogger(__name__)


@dataclass
class TurnMemory:
    run: Run
    graph: BotGraph
    end_user_id: str
    # The declared user variables as the run starts: stored values, else defaults.
    user: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def load(cls, run: Run, graph: BotGraph) -> TurnMemory:
        memory = cls(run, graph, end_user_id_of(run.conversation))
        declared = {variable.name: variable for variable in graph.variables if variable.scope == "user"}
        if not declared or not memory.end_user_id:
            return memory
        stored: Mapping[str, Any] = (
            await EndUser.objects.filter(bot_id=run.bot_id, end_user_id=memory.end_user_id)
            .values_list("variables", flat=True)
            .afirst()
        ) or {}
        memory.user = {name: variable.default for name, variable in declared.items()}
        memory.user.update(
            (name, value)
            for name, value in stored.items()
            if name in declared and value_matches_type(value, declared[name].type)
        )
        return memory

    async def after_run(self, outcome: RunOutcome) -> None:
        """Store the user variables the run changed; learn from a finished turn (never raises for that)."""
        changes = {
            name: value for name, value in outcome.user.items() if name in self.user and self.user[name] != value
        }
        if changes:
            await sync_to_async(user_variables_save)(
                bot_id=self.run.bot_id, end_user_id=self.end_user_id, changes=changes
            )
        if outcome.status == "finished" and self.graph.settings.memory.enabled and self.end_user_id:
            try:
                dispatch_turn_learning(str(self.run.pk))
            except Exception:  # a broker outage costs the memory of one turn, never the turn
                logger.exception("memory: could not queue learning from run %s", self.run.pk)
