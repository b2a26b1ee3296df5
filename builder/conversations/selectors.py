"""Reads for conversations and runs."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from builder.accounts.permissions import Actor
from builder.conversations.models import Conversation, Message, Run, RunEvent
from builder.conversations.ownership import check_conversation_owner, check_run_owner
from builder.core.exceptions import NotFound


def conversation_get(*, actor: Actor, conversation_id: Any, end_user: str = "") -> Conversation:
    """The actor's own conversation (``end_user``: the one an API key speaks for, see ``ownership``)."""
    try:
        conversation = (
            Conversation.objects.select_related("bot", "bot__workspace").filter(pk=conversation_id).first()
        )
    except (ValueError, DjangoValidationError):  # a malformed id is just "not found"
        conversation = None
    if conversation is None:
        raise NotFound(_("Conversation not found."))
    check_conversation_owner(actor=actor, conversation=conversation, end_user=end_user)
    return conversation


def run_get(*, actor: Actor, run_id: Any, end_user: str = "", conversation: Conversation | None = None) -> Run:
    """A run of one of the actor's conversations (of ``conversation`` when given)."""
    runs = Run.objects.select_related("bot", "bot__workspace", "conversation", "conversation__bot__workspace")
    if conversation is not None:
        runs = runs.filter(conversation=conversation)
    try:
        run = runs.filter(pk=run_id).first()
    except (ValueError, DjangoValidationError):
        run = None
    if run is None:
        raise NotFound(_("Run not found."))
    check_run_owner(actor=actor, run=run, end_user=end_user)
    return run


def message_list(*, actor: Actor, conversation: Conversation, end_user: str = "") -> QuerySet[Message]:
    check_conversation_owner(actor=actor, conversation=conversation, end_user=end_user)
    return conversation.messages.all()


def run_events_since(*, run: Run, seq: int) -> list[dict[str, Any]]:
    """The compact, persisted events after ``seq`` (token deltas are folded into message.completed)."""
    return [event.data for event in RunEvent.objects.filter(run=run, seq__gt=seq).order_by("seq")]
