"""Reads for bots."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, check_workspace_permission
from builder.accounts.roles import Action
from builder.bots.models import Bot, BotGrant, BotVersion
from builder.bots.permissions import check_bot_permission, visible_bots
from builder.core.exceptions import NotFound, ValidationFailed
from builder.engine.graph_diff import GraphDiff, diff_graphs


def bot_list(*, actor: Actor, workspace: Workspace) -> QuerySet[Bot]:
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.WORKSPACE_VIEW)
    return visible_bots(actor=actor, queryset=Bot.objects.filter(workspace=workspace)).select_related(
        "live_version", "created_by"
    )


def bot_get(*, actor: Actor, bot_id: Any, action: Action = Action.BOT_VIEW) -> Bot:
    bot = Bot.objects.select_related("workspace", "live_version").filter(pk=bot_id).first()
    if bot is None:
        raise NotFound(_("Bot not found."))
    check_bot_permission(actor=actor, bot=bot, action=action)
    return bot


def bot_version_list(*, actor: Actor, bot: Bot) -> QuerySet[BotVersion]:
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_VIEW)
    return bot.versions.select_related("created_by").order_by("-number")


def bot_version_get(*, actor: Actor, bot: Bot, number: int) -> BotVersion:
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_VIEW)
    version = bot.versions.filter(number=number).first()
    if version is None:
        raise NotFound(_("Version not found."))
    return version


def _graph_at(*, actor: Actor, bot: Bot, ref: str, field: str) -> dict[str, Any]:
    """``draft`` or a version number."""
    if ref == "draft":
        graph = bot.draft
    elif ref.isdigit():
        graph = bot_version_get(actor=actor, bot=bot, number=int(ref)).graph
    else:
        raise ValidationFailed(fields={field: [_("Use a version number or 'draft'.")]})
    return dict(graph)


def bot_diff(*, actor: Actor, bot: Bot, from_ref: str, to_ref: str) -> GraphDiff:
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_VIEW)
    old = _graph_at(actor=actor, bot=bot, ref=from_ref, field="from")
    new = _graph_at(actor=actor, bot=bot, ref=to_ref, field="to")
    return diff_graphs(old, new)


def bot_grant_list(*, actor: Actor, bot: Bot) -> QuerySet[BotGrant]:
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_VIEW)
    return bot.grants.select_related("user")
