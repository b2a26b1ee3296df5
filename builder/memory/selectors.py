"""Reads: a bot's end users, their facts and user variables.

Two audiences. Bot editors (``Action.BOT_EDIT``) see every end user of a bot. An end user sees
only what the bot remembers about them, through the same credentials a chat uses
(``Action.BOT_CHAT``), as the chat knows them (``end_user_id_of``): a signed-in person is
themselves and names nobody (``?user=`` is refused); an API key speaks for its own end users, the
``user`` it names as in the chat API (its callers who name nobody: the key itself). A key never
reaches a signed-in person's memory, another key's end users, or the builder's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from pydantic import ValidationError

from builder.accounts.models import ApiKey
from builder.accounts.permissions import Actor
from builder.accounts.roles import Action
from builder.bots.models import Bot
from builder.bots.permissions import check_bot_permission
from builder.conversations.ownership import chat_end_user
from builder.core.exceptions import NotFound
from builder.engine.graph import Variable
from builder.memory.models import EndUser, Fact, api_end_user_id


@dataclass(frozen=True)
class VariableValue:
    """A declared user variable and its value for one end user (the default when never set)."""

    name: str
    type: str
    description: str
    default: Any
    value: Any
    is_set: bool


# --- bot editors -----------------------------------------------------------------------------------


def _fact_count(*, current: bool) -> Coalesce:
    facts = Fact.objects.filter(bot_id=OuterRef("bot_id"), end_user_id=OuterRef("end_user_id"))
    facts = facts.filter(superseded_by__isnull=current)
    counted = facts.order_by().values("end_user_id").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _counted(bot: Bot) -> QuerySet[EndUser]:
    return EndUser.objects.filter(bot=bot).annotate(
        fact_count=_fact_count(current=True), superseded_count=_fact_count(current=False)
    )


def end_user_list(*, actor: Actor, bot: Bot) -> QuerySet[EndUser]:
    """End users the bot remembers something about, with ``fact_count`` (current facts) and
    ``superseded_count``; the most recently seen first."""
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_EDIT)
    return _counted(bot).filter(~Q(variables={}) | Q(fact_count__gt=0) | Q(superseded_count__gt=0))


def end_user_get(*, actor: Actor, bot: Bot, end_user_pk: Any) -> EndUser:
    """One end user of the bot (with the counts of ``end_user_list``)."""
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_EDIT)
    end_user = _counted(bot).select_related("bot").filter(pk=end_user_pk).first()
    if end_user is None:
        raise NotFound(_("This bot has no such end user."))
    return end_user


def end_user_fact_list(*, actor: Actor, end_user: EndUser) -> QuerySet[Fact]:
    """All the facts, superseded ones included, oldest observation first."""
    check_bot_permission(actor=actor, bot=end_user.bot, action=Action.BOT_EDIT)
    return _facts(end_user.bot, end_user.end_user_id)


def end_user_variables(*, actor: Actor, end_user: EndUser) -> list[VariableValue]:
    check_bot_permission(actor=actor, bot=end_user.bot, action=Action.BOT_EDIT)
    return variable_values(declared_user_variables(end_user.bot), end_user.variables)


# --- the end user themselves -----------------------------------------------------------------------


def own_end_user_id(*, actor: Actor, user: str | None) -> str:
    """Whose memory an end-user request reaches: a signed-in person's own (naming anyone is a 400
    on ``user``), or the API key's end user it names (the key's own namespace, see ``api_end_user_id``)."""
    named = chat_end_user(actor=actor, user=user)
    if isinstance(actor, ApiKey):
        return api_end_user_id(actor.pk, named)
    return str(actor.pk)


def own_fact_list(*, actor: Actor, bot: Bot, end_user_id: str) -> QuerySet[Fact]:
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_CHAT)
    return _facts(bot, end_user_id)


def own_variables(*, actor: Actor, bot: Bot, end_user_id: str) -> list[VariableValue]:
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_CHAT)
    stored = EndUser.objects.filter(bot=bot, end_user_id=end_user_id).values_list("variables", flat=True).first()
    return variable_values(declared_user_variables(bot), stored or {})


# --- helpers ---------------------------------------------------------------------------------------


def _facts(bot: Bot, end_user_id: str) -> QuerySet[Fact]:
    return Fact.objects.filter(bot=bot, end_user_id=end_user_id).order_by("observed_at", "updated_at", "id")


def user_variables_of(documents: Iterable[Mapping[str, Any] | None]) -> dict[str, Variable]:
    """The user variables declared in graph documents (the first declaration of a name wins);
    declarations that do not validate are skipped (a draft may be unfinished)."""
    declared: dict[str, Variable] = {}
    for document in documents:
        for item in (document or {}).get("variables") or ():
            try:
                variable = Variable.model_validate(item)
            except ValidationError:
                continue
            if variable.scope == "user":
                declared.setdefault(variable.name, variable)
    return declared


def declared_user_variables(bot: Bot) -> dict[str, Variable]:
    """The user variables of the draft and of the live version: what the builder shows and what
    published chats use."""
    live = bot.live_version.graph if bot.live_version_id is not None and bot.live_version is not None else None
    return user_variables_of([bot.draft, live])


def variable_values(declared: Mapping[str, Variable], stored: Mapping[str, Any]) -> list[VariableValue]:
    return [
        VariableValue(
            name=name,
            type=variable.type,
            description=variable.description,
            default=variable.default,
            value=stored.get(name, variable.default),
            is_set=name in stored,
        )
        for name, variable in declared.items()
    ]
