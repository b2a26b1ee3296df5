"""Channel-layer group names, in one place."""

from __future__ import annotations


def conversation_group(conversation_id: object) -> str:
    return f"conversation.{conversation_id}"
