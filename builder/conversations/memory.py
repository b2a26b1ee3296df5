"""The conversation's memory for llm nodes: the recent turns (``memory_window``) and the running
summary of the turns before them (``memory_summary``).

The summary lives on the ``Conversation`` with ``summary_until``, the ``created_at`` of the newest
message it covers. The engine decides when and how to summarise; this side only reads the turns
and stores the result with a conditional update on that marker, so two runs of one conversation
that summarise at the same time cannot interleave their writes: the second one is refused.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from builder.conversations.models import Conversation, Message
from builder.engine.runtime.contract import ConversationHistory


def _message(role: str, content: str, message_id: str | None = None) -> BaseMessage:
    if role == Message.Role.USER:
        return HumanMessage(content, id=message_id)
    return AIMessage(content, id=message_id)


class ConversationWindow:
    """Implements the engine's ``ConversationMemory`` for one run: the turns before this run."""

    def __init__(self, conversation_id: Any, run_id: Any) -> None:
        self.conversation_id = conversation_id
        self.run_id = run_id

    async def history(self, window: int, *, unsummarised: int = 0) -> ConversationHistory:
        # A turn is a user message and its answer; this run's own messages are not history.
        earlier = Message.objects.filter(conversation_id=self.conversation_id).exclude(run_id=self.run_id)
        recent: list[tuple[str, str, Any]] = []
        if window > 0:
            rows = earlier.order_by("-created_at").values_list("role", "content", "created_at")[: window * 2]
            recent = [row async for row in rows]
            recent.reverse()
        found = ConversationHistory(messages=[_message(role, content) for role, content, _at in recent])
        if unsummarised <= 0:
            return found
        found.summary, found.summary_until = await Conversation.objects.values_list("summary", "summary_until").aget(
            pk=self.conversation_id
        )
        if window > 0:
            if len(recent) < window * 2:
                return found  # the whole conversation fits in the window
            earlier = earlier.filter(created_at__lt=recent[0][2])
        if found.summary_until is not None:
            earlier = earlier.filter(created_at__gt=found.summary_until)
        pending = earlier.order_by("created_at").values_list("id", "role", "content")[: unsummarised * 2]
        found.unsummarised = [_message(role, content, str(pk)) async for pk, role, content in pending]
        return found

    async def save_summary(self, summary: str, *, until: str, previous: Any) -> bool:
        covered = (
            await Message.objects.filter(pk=until, conversation_id=self.conversation_id)
            .values_list("created_at", flat=True)
            .afirst()
        )
        if covered is None:
            return False
        unchanged = Q(summary_until__isnull=True) if previous is None else Q(summary_until=previous)
        # update() leaves updated_at alone: a summary is not activity that reorders the chat list.
        stored = await Conversation.objects.filter(unchanged, pk=self.conversation_id).aupdate(
            summary=summary, summary_until=covered
        )
        return stored == 1
