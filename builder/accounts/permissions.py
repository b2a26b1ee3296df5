"""Workspace-level permission checks. Services call these; views never decide on their own.

An actor is a signed-in ``User`` or an ``ApiKey``. A key acts with the lower of its own role and
its creator's current role, so removing or demoting the creator takes the key's power away too.
"""

from __future__ import annotations

from typing import TypeAlias

from django.utils.translation import gettext_lazy as _

from builder.accounts.models import ApiKey, Membership, User, Workspace
from builder.accounts.roles import Action, lower_role, role_allows
from builder.core.exceptions import NotFound, PermissionDenied

Actor: TypeAlias = User | ApiKey


def actor_user(actor: Actor) -> User:
    """The person behind an actor, for audit fields such as ``created_by``."""
    return actor.created_by if isinstance(actor, ApiKey) else actor


def check_not_api_key(actor: object) -> None:
    """Self-service account endpoints (me, logout, sign-up, accepting an invitation, creating a
    workspace) are for signed-in people: a key must not act as, or for, the person who made it."""
    if isinstance(actor, ApiKey):
        raise PermissionDenied(_("API keys cannot use account endpoints; sign in as a person."))


def signed_in_person(actor: Actor) -> User:
    """The person an account endpoint serves (403 for an API key, see ``check_not_api_key``)."""
    check_not_api_key(actor)
    assert isinstance(actor, User)
    return actor


def member_role(*, user: User, workspace: Workspace) -> str | None:
    if not user.is_active:
        return None
    return Membership.objects.filter(workspace=workspace, user=user).values_list("role", flat=True).first()


def workspace_role(*, actor: Actor, workspace: Workspace) -> str | None:
    """The role the actor holds in the workspace, or None when it is not in it."""
    if isinstance(actor, ApiKey):
        if not actor.is_active or actor.workspace_id != workspace.id:
            return None
        return lower_role(actor.role, member_role(user=actor.created_by, workspace=workspace))
    return member_role(user=actor, workspace=workspace)


def check_workspace_permission(*, actor: Actor, workspace: Workspace, action: Action) -> str:
    """Raise unless the actor may do ``action`` in ``workspace``; return the actor's role.

    Outsiders get 404, not 403: whether a workspace exists is not theirs to know.
    """
    role = workspace_role(actor=actor, workspace=workspace)
    if role is None:
        raise NotFound(_("Workspace not found."))
    if isinstance(actor, ApiKey) and actor.bot_id is not None and action != Action.WORKSPACE_VIEW:
        raise PermissionDenied(_("This API key is limited to one bot."))
    if not role_allows(role, action):
        raise PermissionDenied()
    return role
