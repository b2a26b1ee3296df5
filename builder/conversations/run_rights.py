"""A run acts with exactly the rights of what started it (DESIGN.md §7).

Its principal is the API key that started it when one did (the key's role and scope: a key for
bot A reaches nothing but bot A), else the person (``Run.created_by``). A draft (debug) run's graph
was never vetted, so every bot it calls and every knowledge base it searches is checked against
the principal when the run reaches it. A published version was vetted when it was published or
rolled back to (``builder/bots/references.py``): its runs, and the published bots a run calls,
need only find what they reference in the bot's workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from builder.accounts.permissions import Actor
from builder.accounts.roles import Action
from builder.bots.models import Bot
from builder.bots.permissions import check_bot_permission
from builder.core.exceptions import PermissionDenied

if TYPE_CHECKING:
    from builder.conversations.models import Run


def run_principal(run: Run) -> Actor | None:
    """What started the run: its API key, else the person (None once they are deleted)."""
    return run.api_key if run.api_key_id is not None else run.created_by


@dataclass(frozen=True)
class RunRights:
    # Whose rights the run's references are checked against; unused when ``vetted``.
    principal: Actor | None
    # The graph is a published version: its references were checked when it was published.
    vetted: bool

    @classmethod
    def of(cls, run: Run) -> RunRights:
        return cls(principal=run_principal(run), vetted=run.graph is None)

    @classmethod
    def published(cls) -> RunRights:
        """A published bot's (a called bot runs its live version)."""
        return cls(principal=None, vetted=True)

    def check_bot_call(self, bot: Bot) -> None:
        """Raise (an ``ApplicationError``) unless the run may call ``bot``, a bot of its workspace."""
        if self.vetted:
            return
        if self.principal is None:
            raise PermissionDenied()
        check_bot_permission(actor=self.principal, bot=bot, action=Action.BOT_CHAT)
