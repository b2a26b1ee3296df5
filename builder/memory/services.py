"""Writes: user variables around runs, learning facts from turns, and forgetting.

Forgetting always goes through the memory store, so a fact leaves the search index together with
its row; deleting a bot's memory (``bot_memory_delete``) does the same for every end user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.messages.ai import UsageMetadata
from pydantic import ValidationError

from builder.accounts.permissions import Actor
from builder.accounts.roles import Action
from builder.bots.models import Bot, BotVersion
from builder.bots.permissions import check_bot_permission
from builder.conversations.models import Message, Run
from builder.core.exceptions import NotFound, ValidationFailed
from builder.core.messages import translated_message
from builder.engine.graph import Settings
from builder.engine.runtime.contract import NodeError
from builder.engine.values import CoercionError, coerce_value
from builder.llm.chat_models import WorkspaceChatModels
from builder.llm.selectors import model_providers_for_run
from builder.memory.catalog import scope_of
from builder.memory.core import CandidateFact, MemoryChanges, TurnMessage, extract_facts
from builder.memory.models import EndUser, Fact, end_user_id_of
from builder.memory.selectors import declared_user_variables
from builder.memory.store import memory_store

logger = logging.getLogger(__name__)
T = TypeVar("T")


# --- user variables around a run ------------------------------------------------------------------


def user_variables_save(*, bot_id: Any, end_user_id: str, changes: Mapping[str, Any]) -> None:
    """Merge a run's changed user variables into what is stored (under a row lock, so two
    conversations of one user each keep their own changes) and mark the user as seen."""
    now = timezone.now()
    with transaction.atomic():
        end_user = _end_user_locked(bot_id=bot_id, end_user_id=end_user_id)
        end_user.variables = {**end_user.variables, **changes}
        end_user.last_seen_at = now
        end_user.save(update_fields=["variables", "last_seen_at", "updated_at"])


def _end_user_locked(*, bot_id: Any, end_user_id: str) -> EndUser:
    """The end user's row, created when missing, locked until the transaction ends."""
    rows = EndUser.objects.select_for_update().filter(bot_id=bot_id, end_user_id=end_user_id)
    end_user = rows.first()
    if end_user is not None:
        return end_user
    try:
        with transaction.atomic():  # a savepoint: a concurrent insert loses without breaking the transaction
            EndUser.objects.create(bot_id=bot_id, end_user_id=end_user_id)
    except IntegrityError:
        pass
    return rows.get()


# --- learning from a turn --------------------------------------------------------------------------


def turn_learn(*, run_id: Any) -> MemoryChanges | None:
    """Extract facts about the user from a finished run's messages and remember them.

    With the bot's ``memory.llm_extraction`` the bot's default chat model extracts them (the rules
    take over when it fails); otherwise the rules. Safe to run twice: a fact said again only
    refreshes the remembered one. None when there was nothing to learn from.
    """
    run = Run.objects.select_related("conversation", "bot").filter(pk=run_id).first()
    if run is None or run.status != Run.Status.FINISHED:
        return None
    settings = _run_settings(run)
    end_user_id = end_user_id_of(run.conversation)
    if settings is None or not settings.memory.enabled or not end_user_id:
        return None
    rows = Message.objects.filter(run=run).order_by("created_at").values_list("pk", "role", "content")
    messages = [TurnMessage(role=role, text=content, id=str(pk)) for pk, role, content in rows]
    if not any(message.role == Message.Role.USER for message in messages):
        return None
    models = None
    if settings.memory.llm_extraction:
        providers = model_providers_for_run(workspace_id=run.bot.workspace_id)
        models = WorkspaceChatModels(providers, bot_model=settings.model)
    with get_usage_metadata_callback() as used:
        candidates = _run_apart(_extract(run, messages, models))
    if models is not None and used.usage_metadata:
        _record_extraction_usage(run.pk, models, used.usage_metadata)
    now = timezone.now()
    with transaction.atomic():
        # One learner per end user at a time: consolidation reads what is remembered, then writes.
        end_user = _end_user_locked(bot_id=run.bot_id, end_user_id=end_user_id)
        changes = memory_store().learn(scope_of(run.bot_id, end_user_id), candidates, now=now)
        end_user.last_seen_at = now
        end_user.save(update_fields=["last_seen_at", "updated_at"])
    logger.info(
        "memory: run %s: %d new, %d superseded, %d refreshed facts",
        run_id,
        len(changes.added),
        len(changes.superseded),
        len(changes.refreshed),
    )
    return changes


def _record_extraction_usage(run_id: Any, models: WorkspaceChatModels, used: Mapping[str, UsageMetadata]) -> None:
    """The extraction's tokens and cost go on the run that caused them, beside its own usage (the
    run has finished and reported that already), as ``usage.memory_extraction``."""
    prompt = sum(usage.get("input_tokens", 0) for usage in used.values())
    completion = sum(usage.get("output_tokens", 0) for usage in used.values())
    cost = sum(
        models.cost(name, usage.get("input_tokens", 0), usage.get("output_tokens", 0)) for name, usage in used.items()
    )
    extraction = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost": cost,
        "model": next(iter(used)),
    }
    with transaction.atomic():
        run = Run.objects.select_for_update().only("usage").get(pk=run_id)
        run.usage = {**(run.usage or {}), "memory_extraction": extraction}
        run.save(update_fields=["usage"])


def _run_settings(run: Run) -> Settings | None:
    document = run.graph
    if document is None and run.bot_version_id is not None:
        document = BotVersion.objects.filter(pk=run.bot_version_id).values_list("graph", flat=True).first()
    try:
        return Settings.model_validate((document or {}).get("settings") or {})
    except ValidationError:
        return None


def _run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on an event loop of its own, leaving the thread's current loop (a Celery worker keeps a
    long-lived one, see ``conversations.tasks``) as it was, which ``asyncio.run`` would unset."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _extract(run: Run, messages: list[TurnMessage], models: WorkspaceChatModels | None) -> list[CandidateFact]:
    """The turn's candidate facts: by the bot's default chat model when ``models`` are given (the
    client built here, in this event loop, which its HTTP connections belong to), else by the rules."""
    model = None
    if models is not None:
        try:
            model = models.get(None)
        except NodeError as error:
            logger.warning("memory: run %s: no model for extraction, using the rules: %s", run.pk, error.message)
    return await extract_facts(messages, model=model, now=run.finished_at or timezone.now())


# --- bot editors ----------------------------------------------------------------------------------


def end_user_variables_update(*, actor: Actor, end_user: EndUser, values: Mapping[str, Any]) -> EndUser:
    """Set some of an end user's user variables; each must be declared, and is converted to its type."""
    check_bot_permission(actor=actor, bot=end_user.bot, action=Action.BOT_EDIT)
    declared = declared_user_variables(end_user.bot)
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        variable = declared.get(name)
        if variable is None:
            errors[f"values.{name}"] = [_("This bot declares no user variable %(name)s.") % {"name": name}]
            continue
        try:
            cleaned[name] = coerce_value(value, variable.type)
        except CoercionError as error:
            reason = translated_message(str(error), error.template, error.params)
            message = _("The value is not valid: %(error)s (%(type)s).") % {"error": reason, "type": variable.type}
            errors[f"values.{name}"] = [message]
    if errors:
        raise ValidationFailed(fields=errors)
    user_variables_save(bot_id=end_user.bot_id, end_user_id=end_user.end_user_id, changes=cleaned)
    end_user.refresh_from_db()
    return end_user


def end_user_fact_forget(*, actor: Actor, end_user: EndUser, fact_id: Any) -> None:
    check_bot_permission(actor=actor, bot=end_user.bot, action=Action.BOT_EDIT)
    _fact_forget(bot=end_user.bot, end_user_id=end_user.end_user_id, fact_id=fact_id)


def end_user_forget(*, actor: Actor, end_user: EndUser) -> None:
    """Forget everything about one end user: their facts and their user variables."""
    check_bot_permission(actor=actor, bot=end_user.bot, action=Action.BOT_EDIT)
    _forget_all(bot=end_user.bot, end_user_id=end_user.end_user_id)


# --- the end user themselves ----------------------------------------------------------------------


def own_fact_forget(*, actor: Actor, bot: Bot, end_user_id: str, fact_id: Any) -> None:
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_CHAT)
    _fact_forget(bot=bot, end_user_id=end_user_id, fact_id=fact_id)


def own_memory_forget(*, actor: Actor, bot: Bot, end_user_id: str) -> None:
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_CHAT)
    _forget_all(bot=bot, end_user_id=end_user_id)


# --- forgetting -----------------------------------------------------------------------------------


def _fact_forget(*, bot: Bot, end_user_id: str, fact_id: Any) -> None:
    if not memory_store().forget(scope_of(bot.pk, end_user_id), str(fact_id).replace("-", "")):
        raise NotFound(_("Nothing is remembered under this id."))


def _forget_all(*, bot: Bot, end_user_id: str) -> None:
    memory_store().forget_all(scope_of(bot.pk, end_user_id))
    EndUser.objects.filter(bot=bot, end_user_id=end_user_id).delete()


def bot_memory_delete(*, bot: Bot) -> int:
    """Forget every end user of a bot (facts, index entries, user variables), before the bot is
    deleted: the database would drop the rows with the bot, but not the search index's copies.
    Returns how many end users were forgotten."""
    forgotten = _forget_on_commit(Q(bot=bot))
    EndUser.objects.filter(bot=bot).delete()
    return forgotten


def workspace_memory_forget(*, workspace_id: Any) -> None:
    """Before a workspace's rows go: the search index's copies of its bots' memories, once committed."""
    _forget_on_commit(Q(bot__workspace_id=workspace_id))


def _forget_on_commit(owners: Q) -> int:
    """Have the index forget the memory scopes (bot × end user) of these rows after the commit (a
    rolled-back deletion loses nothing); how many there are."""
    pairs = set(EndUser.objects.filter(owners).values_list("bot_id", "end_user_id"))
    pairs |= set(Fact.objects.filter(owners).values_list("bot_id", "end_user_id").distinct())
    scopes = [scope_of(bot_id, end_user_id) for bot_id, end_user_id in pairs]
    store = memory_store()

    def forget() -> None:
        for scope in scopes:
            store.forget_all(scope)

    transaction.on_commit(forget)
    return len(scopes)
