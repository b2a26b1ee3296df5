"""Reads for conversations and runs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from builder.accounts.permissions import Actor
from builder.accounts.roles import Action
from builder.bots.permissions import check_bot_permission
from builder.conversations.models import Conversation, Message, Run, RunEvent
from builder.core.exceptions import NotFound


def conversation_get(*, actor: Actor, conversation_id: Any) -> Conversation:
    conversation = Conversation.objects.select_related("bot", "bot__workspace").filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound(_("Conversation not found."))
    check_bot_permission(actor=actor, bot=conversation.bot, action=Action.BOT_CHAT)
    return conversation


def run_get(*, actor: Actor, run_id: Any, conversation: Conversation | None = None) -> Run:
    runs = Run.objects.select_related("bot", "bot__workspace")
    if conversation is not None:
        runs = runs.filter(conversation=conversation)
    run = runs.filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("Run not found."))
    check_bot_permission(actor=actor, bot=run.bot, action=Action.BOT_CHAT)
    return run


def message_list(*, actor: Actor, conversation: Conversation) -> QuerySet[Message]:
    check_bot_permission(actor=actor, bot=conversation.bot, action=Action.BOT_CHAT)
    return conversation.messages.all()


def run_events_since(*, run: Run, seq: int) -> list[dict[str, Any]]:
    """The compact, persisted events after ``seq`` (token deltas are folded into message.completed)."""
    return [event.data for event in RunEvent.objects.filter(run=run, seq__gt=seq).order_by("seq")]
