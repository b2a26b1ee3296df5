"""Reads for knowledge bases; what a search may see."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, check_workspace_permission
from builder.accounts.roles import Action
from builder.core.exceptions import NotFound
from builder.knowledge.models import Document, KnowledgeBase


def knowledge_base_list(*, actor: Actor, workspace: Workspace) -> QuerySet[KnowledgeBase]:
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.KNOWLEDGE_VIEW)
    return KnowledgeBase.objects.filter(workspace=workspace)


def knowledge_base_get(*, actor: Actor, knowledge_base_id: Any) -> KnowledgeBase:
    kb = KnowledgeBase.objects.select_related("workspace").filter(pk=knowledge_base_id).first()
    if kb is None:
        raise NotFound(_("Knowledge base not found."))
    check_workspace_permission(actor=actor, workspace=kb.workspace, action=Action.KNOWLEDGE_VIEW)
    return kb


def searchable_documents(*, workspace_id: Any, knowledge_base_ids: Collection[str]) -> dict[str, str]:
    """Ready, enabled documents of these knowledge bases (of this workspace only): id → name."""
    rows = Document.objects.filter(
        knowledge_base__workspace_id=workspace_id,
        knowledge_base_id__in=list(knowledge_base_ids),
        status=Document.Status.READY,
        enabled=True,
    ).values_list("pk", "name")
    return {str(pk): name for pk, name in rows}
