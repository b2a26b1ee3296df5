"""Reads for workspace credentials. Values never leave here in clear: only ``runtime.py`` decrypts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, check_workspace_permission
from builder.accounts.roles import Action
from builder.core.exceptions import NotFound
from builder.credentials.models import Credential


def credential_list(*, actor: Actor, workspace: Workspace) -> QuerySet[Credential]:
    """Names, kinds and masked hints, for those who may put credentials into bots (editors and up)."""
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.CREDENTIALS_MANAGE)
    return Credential.objects.filter(workspace=workspace).select_related("created_by")


def credential_get(*, actor: Actor, workspace: Workspace, credential_id: Any) -> Credential:
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.CREDENTIALS_MANAGE)
    credential = Credential.objects.filter(workspace=workspace, pk=credential_id).first()
    if credential is None:
        raise NotFound(_("Credential not found."))
    return credential


def workspace_credentials(*, workspace_id: Any, ids: Iterable[str]) -> dict[str, Credential]:
    """The workspace's credentials among ``ids``, by id (for a graph's references; no permission
    check: the caller checked the bot)."""
    wanted = {str(credential_id) for credential_id in ids}
    if not wanted:
        return {}
    found = Credential.objects.filter(workspace_id=workspace_id, pk__in=wanted)
    return {str(credential.pk): credential for credential in found}
