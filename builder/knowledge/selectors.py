"""Reads for knowledge bases; what a search may see."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, check_workspace_permission
from builder.accounts.roles import Action
from builder.core.exceptions import ApplicationError, NotFound, ValidationFailed
from builder.knowledge.embeddings import EmbeddingError
from builder.knowledge.models import Chunk, Document, KnowledgeBase


def _check_view(actor: Actor, kb: KnowledgeBase) -> None:
    check_workspace_permission(actor=actor, workspace=kb.workspace, action=Action.KNOWLEDGE_VIEW)


def status_count_name(status: str) -> str:
    """The annotation holding how many documents of a knowledge base have ``status``."""
    return f"documents_{status}"


def _with_document_counts(queryset: QuerySet[KnowledgeBase]) -> QuerySet[KnowledgeBase]:
    counts = {
        status_count_name(status): Count("documents", filter=Q(documents__status=status))
        for status in Document.Status.values
    }
    return queryset.annotate(document_count=Count("documents"), **counts)


def knowledge_base_list(*, actor: Actor, workspace: Workspace) -> QuerySet[KnowledgeBase]:
    """With ``document_count`` and one count per document status (``status_count_name``)."""
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.KNOWLEDGE_VIEW)
    # Explicitly ordered: a GROUP BY query ignores Meta.ordering.
    return _with_document_counts(KnowledgeBase.objects.filter(workspace=workspace)).order_by("name")


def knowledge_base_get(*, actor: Actor, knowledge_base_id: Any, with_counts: bool = False) -> KnowledgeBase:
    queryset = KnowledgeBase.objects.select_related("workspace").filter(pk=knowledge_base_id)
    kb = (_with_document_counts(queryset) if with_counts else queryset).first()
    if kb is None:
        raise NotFound(_("Knowledge base not found."))
    _check_view(actor, kb)
    return kb


def document_list(*, actor: Actor, knowledge_base: KnowledgeBase) -> QuerySet[Document]:
    _check_view(actor, knowledge_base)
    return knowledge_base.documents.all()


def document_get(*, actor: Actor, document_id: Any) -> Document:
    document = Document.objects.select_related("knowledge_base__workspace").filter(pk=document_id).first()
    if document is None:
        raise NotFound(_("Document not found."))
    _check_view(actor, document.knowledge_base)
    return document


def chunk_list(*, actor: Actor, document: Document) -> QuerySet[Chunk]:
    _check_view(actor, document.knowledge_base)
    return document.chunks.order_by("position")


def chunk_get(*, actor: Actor, chunk_id: Any) -> Chunk:
    chunk = Chunk.objects.select_related("document", "knowledge_base__workspace").filter(pk=chunk_id).first()
    if chunk is None:
        raise NotFound(_("Chunk not found."))
    _check_view(actor, chunk.knowledge_base)
    return chunk


def knowledge_base_retrieve(
    *, actor: Actor, knowledge_base: KnowledgeBase, query: str, top_k: int, score_threshold: float | None, mode: str
) -> list[dict[str, Any]]:
    """Hit testing: what the knowledge_retrieval node would find in this knowledge base, the same way."""
    # Imported here: the retriever reads searchable_documents from this module.
    from builder.knowledge.retriever import WorkspaceKnowledge

    _check_view(actor, knowledge_base)
    try:
        return WorkspaceKnowledge(knowledge_base.workspace_id).search(
            query, [str(knowledge_base.pk)], top_k, score_threshold or None, mode
        )
    except EmbeddingError as error:
        raise ApplicationError(
            _("The embedding model failed: %(reason)s") % {"reason": error}, code="embedding_failed"
        ) from None
    except ValueError as error:  # retrieve()'s argument checks: the API validates before this
        raise ValidationFailed(fields={"non_field_errors": [str(error)]}) from None


def searchable_documents(*, workspace_id: Any, knowledge_base_ids: Collection[str]) -> dict[str, str]:
    """Ready, enabled documents of these knowledge bases (of this workspace only): id → name."""
    rows = Document.objects.filter(
        knowledge_base__workspace_id=workspace_id,
        knowledge_base_id__in=list(knowledge_base_ids),
        status=Document.Status.READY,
        enabled=True,
    ).values_list("pk", "name")
    return {str(pk): name for pk, name in rows}
