"""Who owns a conversation, defined once (DESIGN.md §7) and checked by every path that reads,
writes or listens to one: REST messages, runs (get, cancel, answer), the SSE chat continuing a
conversation, the websocket, and the end user's memory.

- Opened by a signed-in person: that person, never an API key.
- Opened with an API key: that key together with the end user its client speaks for (``user`` in
  the chat body, ``?user=`` elsewhere; "" when it names nobody).
- A debug (draft) conversation: its owner, and only while they may still edit the bot.

Anyone else is told the conversation does not exist (404): its existence is not theirs to know.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from builder.accounts.models import ApiKey
from builder.accounts.permissions import Actor
from builder.accounts.roles import Action
from builder.bots.permissions import check_bot_permission
from builder.conversations.models import Conversation, Run
from builder.core.exceptions import NotFound, ValidationFailed
from builder.core.json_input import unstorable_text_reason
from builder.core.untrusted import is_valid_text
from builder.memory.models import END_USER_NAME_MAX

# The code of a refused ``user`` (not "invalid": a client tells it apart from a malformed message).
END_USER_NOT_ALLOWED = "end_user_not_allowed"


def chat_end_user(*, actor: Actor, user: Any) -> str:
    """The end user a request speaks for: for an API key, the ``user`` its client names ("" for
    none); a signed-in person chats as themselves, and naming anyone is refused (400 on ``user``)."""
    if user is None or user == "":
        return ""
    if isinstance(user, int) and not isinstance(user, bool):
        user = str(user)
    if not isinstance(user, str):
        raise ValidationFailed(fields={"user": [_("Must be text.")]})
    if not isinstance(actor, ApiKey):
        reason = _("Only API keys name an end user; signed-in people chat as themselves.")
        raise ValidationFailed(reason, code=END_USER_NOT_ALLOWED, fields={"user": [reason]})
    named = user.strip()
    if not is_valid_text(named):  # a websocket's ?user= comes past no other check
        raise ValidationFailed(fields={"user": [unstorable_text_reason()]})
    if len(named) > END_USER_NAME_MAX:
        raise ValidationFailed(fields={"user": [_("At most %(limit)d characters.") % {"limit": END_USER_NAME_MAX}]})
    return named


def owns_conversation(*, actor: Actor, conversation: Conversation, end_user: str) -> bool:
    if isinstance(actor, ApiKey):
        return conversation.api_key_id == actor.pk and conversation.end_user_id == end_user
    return conversation.api_key_id is None and conversation.user_id is not None and conversation.user_id == actor.pk


def check_conversation_owner(
    *, actor: Actor, conversation: Conversation, end_user: str, not_found: str | None = None
) -> None:
    """Raise unless the actor (speaking for ``end_user``) owns the conversation and may still use
    it: chat with the bot, or, for a debug conversation, edit it (re-checked on every call)."""
    if not owns_conversation(actor=actor, conversation=conversation, end_user=end_user):
        raise NotFound(not_found or _("Conversation not found."))
    action = Action.BOT_EDIT if conversation.use_draft else Action.BOT_CHAT
    check_bot_permission(actor=actor, bot=conversation.bot, action=action)


def check_run_owner(*, actor: Actor, run: Run, end_user: str) -> None:
    """Runs are reached through their conversation's ownership (``Run.created_by`` is for audit)."""
    not_found = _("Run not found.")
    check_conversation_owner(actor=actor, conversation=run.conversation, end_user=end_user, not_found=not_found)
