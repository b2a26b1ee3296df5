"""Reads for workspaces, members, invitations and API keys."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from builder.accounts.models import ApiKey, Invitation, Membership, User, Workspace
from builder.accounts.permissions import Actor, check_workspace_permission, signed_in_person
from builder.accounts.roles import Action
from builder.core.exceptions import NotFound


def workspace_list(*, actor: Actor) -> QuerySet[Workspace]:
    if isinstance(actor, ApiKey):
        return Workspace.objects.filter(pk=actor.workspace_id, memberships__user=actor.created_by)
    return Workspace.objects.filter(memberships__user=actor)


def workspace_get(*, actor: Actor, workspace_id: Any, action: Action = Action.WORKSPACE_VIEW) -> Workspace:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        raise NotFound(_("Workspace not found."))
    check_workspace_permission(actor=actor, workspace=workspace, action=action)
    return workspace


def _members_read_action(actor: Actor) -> Action:
    """Members see each other; an API key reads the members (their emails) only with the right to
    manage them (and never when it is limited to one bot: ``check_workspace_permission``)."""
    return Action.MEMBERS_MANAGE if isinstance(actor, ApiKey) else Action.WORKSPACE_VIEW


def membership_list(*, actor: Actor, workspace: Workspace) -> QuerySet[Membership]:
    check_workspace_permission(actor=actor, workspace=workspace, action=_members_read_action(actor))
    return Membership.objects.filter(workspace=workspace).select_related("user")


def member_get(*, actor: Actor, workspace: Workspace, user_id: Any) -> User:
    check_workspace_permission(actor=actor, workspace=workspace, action=_members_read_action(actor))
    membership = Membership.objects.filter(workspace=workspace, user_id=user_id).select_related("user").first()
    if membership is None:
        raise NotFound(_("Member not found."))
    return membership.user


def invitation_list(*, actor: Actor, workspace: Workspace) -> QuerySet[Invitation]:
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.MEMBERS_MANAGE)
    return Invitation.objects.filter(workspace=workspace).select_related("invited_by")


def invitation_get(*, actor: Actor, workspace: Workspace, invitation_id: Any) -> Invitation:
    invitation = invitation_list(actor=actor, workspace=workspace).filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound(_("Invitation not found."))
    return invitation


def api_key_list(*, actor: Actor, workspace: Workspace) -> QuerySet[ApiKey]:
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.API_KEYS_MANAGE)
    return ApiKey.objects.filter(workspace=workspace).select_related("created_by", "bot")


def api_key_get(*, actor: Actor, workspace: Workspace, key_id: Any) -> ApiKey:
    key = api_key_list(actor=actor, workspace=workspace).filter(pk=key_id).first()
    if key is None:
        raise NotFound(_("API key not found."))
    return key


def me(*, actor: Actor) -> User:
    """The signed-in person (an API key is refused: it must not read or change its creator)."""
    return signed_in_person(actor)
