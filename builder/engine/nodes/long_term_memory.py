"""Long-term memory in model prompts (llm and agent ``long_term_memory``) and the agent's tool that
lets the model set user variables.

What the host remembers about the run's end user (``RuntimeServices.long_term_memory``) goes into
the system prompt as one delimited block, after the node's own system prompt::

    <user_memory>
    What you know about the user from earlier conversations (it may be out of date):
    - The user moved to Shanghai
    </user_memory>

The facts come from what users said, so each is flattened to one line and cannot close the block.
Memory never fails a node: a recall that raises is logged and recalls nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Annotated, Final

from pydantic import StringConstraints

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import NodeContext
from builder.engine.values import VARIABLE_TARGET, StrictModel

logger = logging.getLogger(__name__)

# The default heading; the host passes it translated in the bot's language (LongTermMemory.heading).
MEMORY_HEADING: Final = gettext_noop("What you know about the user from earlier conversations (it may be out of date)")
MAX_FACT_CHARS: Final = 500
_OPEN, _CLOSE = "<user_memory>", "</user_memory>"
_SPACES = re.compile(r"\s+")
_TAG = re.compile(r"</?\s*user_memory\s*>", re.IGNORECASE)


async def remembered(ctx: NodeContext, query: str, k: int) -> list[str]:
    """Up to ``k`` facts about the user relevant to ``query``; none without the host's memory."""
    service = ctx.services.long_term_memory
    if service is None or not query.strip():
        return []
    try:
        facts = await service.recall(query, k)
    except Exception:  # memory is a help, never the reason a turn fails
        logger.exception("long-term memory recall failed (node %s)", ctx.node_id)
        return []
    lines = (_SPACES.sub(" ", _TAG.sub(" ", str(fact))).strip()[:MAX_FACT_CHARS] for fact in facts)
    return [line for line in lines if line][:k]


def with_memories(ctx: NodeContext, system: str, memories: Sequence[str]) -> str:
    """``system`` followed by the block of remembered facts (``system`` unchanged when there are none)."""
    if not memories:
        return system
    service = ctx.services.long_term_memory
    heading = (service.heading if service is not None else "") or MEMORY_HEADING
    block = "\n".join([_OPEN, f"{heading}:", *(f"- {fact}" for fact in memories), _CLOSE])
    return f"{system}\n\n{block}" if system else block


# --- the agent's set_user_variable tool ---------------------------------------------------------------

USER_VARIABLE_TOOL: Final = "set_user_variable"
UserVariablePath = Annotated[str, StringConstraints(pattern=r"^user\.[A-Za-z_][A-Za-z0-9_]*$", max_length=80)]


class UserVariableChoice(StrictModel):
    """A user variable the agent's model may set (``"user.<name>"``; checked against the graph)."""

    variable: Annotated[UserVariablePath, VARIABLE_TARGET]

    @property
    def name(self) -> str:
        return self.variable.partition(".")[2]
