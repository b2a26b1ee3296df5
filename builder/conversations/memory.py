"""The conversation's recent turns, for llm nodes with a memory window."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from builder.conversations.models import Message


class ConversationWindow:
    """Implements the engine's ``ConversationMemory``: the last ``limit`` turns before this run."""

    def __init__(self, conversation_id: Any, run_id: Any) -> None:
        self.conversation_id = conversation_id
        self.run_id = run_id

    async def recent_messages(self, limit: int) -> list[BaseMessage]:
        if limit <= 0:
            return []
        rows = (
            Message.objects.filter(conversation_id=self.conversation_id)
            .exclude(run_id=self.run_id)
            .order_by("-created_at")
            .values_list("role", "content")[: limit * 2]
        )
        messages: list[BaseMessage] = [
            HumanMessage(content) if role == Message.Role.USER else AIMessage(content) async for role, content in rows
        ]
        messages.reverse()
        return messages
