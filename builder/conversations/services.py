"""Writes for conversations and runs. ``message_send`` orchestrates one bot turn."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from builder.accounts.models import ApiKey, User
from builder.accounts.permissions import Actor, actor_user
from builder.accounts.roles import Action
from builder.bots.models import Bot
from builder.bots.permissions import check_bot_permission
from builder.conversations.cancellation import request_cancel
from builder.conversations.dispatch import dispatch_run
from builder.conversations.models import Conversation, Message, Run, Source
from builder.conversations.ownership import chat_end_user, check_conversation_owner, check_run_owner
from builder.conversations.selectors import conversation_get
from builder.core.exceptions import Conflict, NotFound, ValidationFailed

MAX_MESSAGE_CHARS = 32_000


def conversation_create(
    *,
    actor: Actor,
    bot: Bot,
    source: str = Source.DEBUG,
    use_draft: bool = False,
    end_user_id: str = "",
    conversation_id: str | None = None,
) -> Conversation:
    """A new chat, owned by the actor (for an API key: the key and ``end_user_id``, the end user its
    client names). Chatting with the draft (the builder's debug panel) needs edit rights."""
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_EDIT if use_draft else Action.BOT_CHAT)
    end_user_id = chat_end_user(actor=actor, user=end_user_id)
    return _conversation_store(
        actor=actor,
        bot=bot,
        source=source,
        use_draft=use_draft,
        end_user_id=end_user_id,
        conversation_id=conversation_id,
    )


def _conversation_store(
    *, actor: Actor, bot: Bot, source: str, use_draft: bool, end_user_id: str, conversation_id: str | None
) -> Conversation:
    if not use_draft and bot.live_version_id is None:
        raise Conflict(_("This bot has not been published yet."), code="not_published")
    extra = {"id": conversation_id} if conversation_id else {}
    return Conversation.objects.create(
        **extra,
        bot=bot,
        use_draft=use_draft,
        source=source,
        user=actor if isinstance(actor, User) else None,
        api_key=actor if isinstance(actor, ApiKey) else None,
        end_user_id=end_user_id,
        variables={},
    )


def conversation_start(
    *, actor: Actor, bot_id: Any, text: str, source: str, end_user_id: str = "", conversation_id: str | None = None
) -> Run:
    """Open a chat with a published bot and send its first message (API clients): one check, one trip."""
    bot = Bot.objects.select_related("workspace").filter(pk=bot_id).first()
    if bot is None:
        raise NotFound(_("Bot not found."))
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_CHAT)
    end_user_id = chat_end_user(actor=actor, user=end_user_id)
    text = _checked_text(text)
    with transaction.atomic():
        conversation = _conversation_store(
            actor=actor,
            bot=bot,
            source=source,
            use_draft=False,
            end_user_id=end_user_id,
            conversation_id=conversation_id,
        )
        return _turn_store(actor=actor, conversation=conversation, text=text, fresh=True)


def _graph_for(conversation: Conversation) -> tuple[dict[str, Any] | None, Any]:
    """What the run executes: a copy of the draft, or the live version (immutable, not copied)."""
    bot = conversation.bot
    if conversation.use_draft:
        return bot.draft, None
    if bot.live_version_id is None:
        raise Conflict(_("This bot has not been published yet."), code="not_published")
    return None, bot.live_version_id


def _checked_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(fields={"text": [_("This field may not be blank.")]})
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValidationFailed(
            fields={"text": [_("Messages are limited to %(limit)d characters.") % {"limit": MAX_MESSAGE_CHARS}]}
        )
    return text


def message_send(*, actor: Actor, conversation: Conversation, text: str, end_user: str = "") -> Run:
    """Store the user's message, create the run and start it once the transaction commits (only
    in the actor's own conversation; ``end_user``: the one an API key speaks for)."""
    check_conversation_owner(actor=actor, conversation=conversation, end_user=end_user)
    return _turn_store(actor=actor, conversation=conversation, text=_checked_text(text))


def conversation_message_send(
    *, actor: Actor, conversation_id: Any, text: str, bot_id: Any = None, end_user: str = ""
) -> Run:
    """``message_send`` by conversation id (the websocket, the API; ``bot_id``: it must be this bot's):
    the conversation is loaded and the actor checked once."""
    conversation = conversation_get(actor=actor, conversation_id=conversation_id, end_user=end_user)
    if bot_id is not None and str(conversation.bot_id) != str(bot_id):
        raise NotFound(_("Conversation not found."))
    return _turn_store(actor=actor, conversation=conversation, text=_checked_text(text))


def _turn_store(*, actor: Actor, conversation: Conversation, text: str, fresh: bool = False) -> Run:
    with transaction.atomic():
        if not fresh:
            # One turn at a time per conversation: a second message waits for the first answer.
            list(Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list("pk"))
            if conversation.runs.filter(status__in=[*Run.ACTIVE, Run.Status.PAUSED]).exists():
                raise Conflict(_("The bot is still answering the previous message."), code="run_in_progress")
        graph, version_id = _graph_for(conversation)
        run = Run.objects.create(
            conversation=conversation,
            bot=conversation.bot,
            bot_version_id=version_id,
            graph=graph,
            query=text,
            created_by=actor_user(actor),
            api_key=actor if isinstance(actor, ApiKey) else None,
        )
        Message.objects.create(conversation=conversation, role=Message.Role.USER, content=text, run=run)
        transaction.on_commit(lambda: dispatch_run(str(run.pk)))
    return run


def run_cancel(*, actor: Actor, run: Run, end_user: str = "") -> Run:
    check_run_owner(actor=actor, run=run, end_user=end_user)
    if run.status == Run.Status.PAUSED:
        Run.objects.filter(pk=run.pk, status=Run.Status.PAUSED).update(status=Run.Status.CANCELLED)
    elif run.status in Run.ACTIVE:
        request_cancel(str(run.pk))
    else:
        raise Conflict(_("This run has already ended."), code="run_ended")
    run.refresh_from_db()
    return run


def question_answer(*, actor: Actor, run: Run, answer: Any, end_user: str = "") -> Run:
    """Resume a run paused on a question node with the user's answer (the conversation's owner's)."""
    check_run_owner(actor=actor, run=run, end_user=end_user)
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        raise ValidationFailed(fields={"answer": [_("This field may not be blank.")]})
    with transaction.atomic():
        resumed = Run.objects.filter(pk=run.pk, status=Run.Status.PAUSED).update(status=Run.Status.QUEUED)
        if not resumed:
            raise Conflict(_("This run is not waiting for an answer."), code="run_not_paused")
        Message.objects.create(
            conversation_id=run.conversation_id, role=Message.Role.USER, content=str(answer), run=run
        )
        transaction.on_commit(lambda: dispatch_run(str(run.pk), resume=answer))
    run.refresh_from_db()
    return run
