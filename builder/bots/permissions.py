"""Bot-level permission checks.

Effective role on a bot:
- workspace owners and admins keep their role on every bot (they manage the sharing itself);
- a per-bot grant replaces the member's workspace role on that bot, raising or lowering it;
- otherwise the workspace role, except that private bots are hidden from members without a
  grant, apart from their creator (who edits them).
An API key additionally must be scoped to the bot's workspace (and to the bot, if it names one)
and never exceeds its own role.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from builder.accounts.models import ApiKey, User
from builder.accounts.permissions import Actor, member_role
from builder.accounts.roles import ROLE_RANK, Action, Role, lower_role, role_allows
from builder.bots.models import Bot, BotGrant, Visibility
from builder.core.exceptions import NotFound, PermissionDenied


def user_bot_role(*, user: User, bot: Bot) -> str | None:
    role = member_role(user=user, workspace=bot.workspace)
    if role is None:
        return None
    if ROLE_RANK[role] >= ROLE_RANK[Role.ADMIN]:
        return role
    grant = BotGrant.objects.filter(bot=bot, user=user).values_list("role", flat=True).first()
    if grant is not None:
        return grant
    if bot.visibility == Visibility.PRIVATE:
        return Role.EDITOR if bot.created_by_id == user.pk else None
    return role


def bot_role(*, actor: Actor, bot: Bot) -> str | None:
    if isinstance(actor, ApiKey):
        if not actor.is_active or actor.workspace_id != bot.workspace_id:
            return None
        if actor.bot_id is not None and actor.bot_id != bot.pk:
            return None
        return lower_role(actor.role, user_bot_role(user=actor.created_by, bot=bot))
    return user_bot_role(user=actor, bot=bot)


def check_bot_permission(*, actor: Actor, bot: Bot, action: Action) -> str:
    """Raise unless the actor may do ``action`` on ``bot``; return the effective role.

    A bot the actor cannot even view answers 404, so its existence does not leak.
    """
    role = bot_role(actor=actor, bot=bot)
    if role is None or not role_allows(role, Action.BOT_VIEW):
        raise NotFound(_("Bot not found."))
    if not role_allows(role, action):
        raise PermissionDenied()
    return role


def visible_bots(*, actor: Actor, queryset: QuerySet[Bot] | None = None) -> QuerySet[Bot]:
    """Bots the actor may view, as one query (mirrors ``user_bot_role``)."""
    queryset = Bot.objects.all() if queryset is None else queryset
    user = actor.created_by if isinstance(actor, ApiKey) else actor
    if not user.is_active:
        return queryset.none()
    managed = Q(workspace__memberships__user=user, workspace__memberships__role__in=[Role.OWNER, Role.ADMIN])
    granted = Q(grants__user=user, workspace__memberships__user=user)
    shared = Q(visibility=Visibility.WORKSPACE, workspace__memberships__user=user)
    own_private = Q(visibility=Visibility.PRIVATE, created_by=user, workspace__memberships__user=user)
    visible = queryset.filter(managed | granted | shared | own_private).distinct()
    if isinstance(actor, ApiKey):
        if not actor.is_active:
            return queryset.none()
        visible = visible.filter(workspace_id=actor.workspace_id)
        if actor.bot_id is not None:
            visible = visible.filter(pk=actor.bot_id)
    return visible
