"""Workspace roles and what each may do. One table, read by every permission check."""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    EDITOR = "editor", _("Editor")
    VIEWER = "viewer", _("Viewer")


# What an API key may be given: never owner (a key must not delete the workspace).
API_KEY_ROLES = [
    (Role.ADMIN.value, Role.ADMIN.label),
    (Role.EDITOR.value, Role.EDITOR.label),
    (Role.VIEWER.value, Role.VIEWER.label),
]

ROLE_RANK: dict[str, int] = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3, Role.OWNER: 4}


class BotRole(models.TextChoices):
    """What a per-bot grant may give: it raises or lowers a member's workspace role on one bot."""

    EDITOR = "editor", _("Editor")
    VIEWER = "viewer", _("Viewer")


class Action(StrEnum):
    WORKSPACE_VIEW = "workspace.view"
    WORKSPACE_UPDATE = "workspace.update"
    WORKSPACE_DELETE = "workspace.delete"
    MEMBERS_MANAGE = "members.manage"
    API_KEYS_MANAGE = "api_keys.manage"
    BOT_CREATE = "bot.create"
    BOT_VIEW = "bot.view"
    BOT_CHAT = "bot.chat"
    BOT_EDIT = "bot.edit"
    BOT_PUBLISH = "bot.publish"
    BOT_EXPORT = "bot.export"
    BOT_DELETE = "bot.delete"
    BOT_SHARE = "bot.share"
    MODEL_PROVIDERS_VIEW = "model_providers.view"
    MODEL_PROVIDERS_MANAGE = "model_providers.manage"
    # Workspace credentials (secrets bot graphs reference): list, add, change, delete, reference.
    CREDENTIALS_MANAGE = "credentials.manage"
    KNOWLEDGE_VIEW = "knowledge.view"
    KNOWLEDGE_EDIT = "knowledge.edit"


_VIEWER = {Action.WORKSPACE_VIEW, Action.BOT_VIEW, Action.BOT_CHAT, Action.KNOWLEDGE_VIEW}
# Editors pick models on the canvas, so they see the providers (never their keys).
_EDITOR = _VIEWER | {
    Action.BOT_CREATE,
    Action.BOT_EDIT,
    Action.BOT_PUBLISH,
    Action.BOT_EXPORT,
    Action.MODEL_PROVIDERS_VIEW,
    Action.KNOWLEDGE_EDIT,
    Action.CREDENTIALS_MANAGE,
}
_ADMIN = _EDITOR | {
    Action.WORKSPACE_UPDATE,
    Action.MEMBERS_MANAGE,
    Action.API_KEYS_MANAGE,
    Action.BOT_DELETE,
    Action.BOT_SHARE,
    Action.MODEL_PROVIDERS_MANAGE,
}
_OWNER = _ADMIN | {Action.WORKSPACE_DELETE}

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.VIEWER: frozenset(_VIEWER),
    Role.EDITOR: frozenset(_EDITOR),
    Role.ADMIN: frozenset(_ADMIN),
    Role.OWNER: frozenset(_OWNER),
}


def role_allows(role: str | None, action: Action) -> bool:
    return role is not None and action in ROLE_ACTIONS.get(role, frozenset())


def lower_role(first: str | None, second: str | None) -> str | None:
    if first is None or second is None:
        return None
    return first if ROLE_RANK[first] <= ROLE_RANK[second] else second
