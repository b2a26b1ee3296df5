"""The engine's ``KnowledgeRetriever`` for one run: searches the workspace's knowledge bases.

Only ready, enabled documents answer (the allow-list), only knowledge bases of the run's workspace
are searched, and each hit names its document so the answer can cite its sources. Knowledge bases
that share an embedding model are searched together; economical ones (no vectors) by full text
whatever the node asks, and the groups' rankings are fused by reciprocal rank.

A draft run searches only with its principal's rights (``acting_for``: the API key or person that
started it, ``builder/conversations/run_rights.py``): without ``KNOWLEDGE_VIEW`` in the workspace (a
bot-scoped key has none) the node fails with a typed error. A published version was vetted when it
was published (``vetted``): its runs need only the knowledge base to be in the workspace.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Any

from asgiref.sync import sync_to_async
from django.utils.translation import gettext_noop

from builder.accounts.permissions import Actor, check_workspace_permission
from builder.accounts.roles import Action
from builder.core.exceptions import ApplicationError, PermissionDenied
from builder.engine.runtime.contract import node_error
from builder.knowledge.embedders import embedder_for
from builder.knowledge.embeddings import Embedder
from builder.knowledge.index import Hit, SearchFilter, reciprocal_rank_fusion
from builder.knowledge.index_store import knowledge_index
from builder.knowledge.models import Chunk, KnowledgeBase
from builder.knowledge.retrieval import RetrievalMode, retrieve
from builder.knowledge.selectors import searchable_documents


class WorkspaceKnowledge:
    def __init__(self, workspace_id: Any, *, acting_for: Actor | None = None, vetted: bool = True) -> None:
        self.workspace_id = workspace_id
        self.acting_for = acting_for
        self.vetted = vetted

    async def retrieve(
        self, query: str, knowledge_bases: list[str], *, top_k: int, score_threshold: float, mode: str
    ) -> list[dict[str, Any]]:
        return await sync_to_async(self.search)(query, knowledge_bases, top_k, score_threshold or None, mode)

    def search(
        self, query: str, knowledge_bases: list[str], top_k: int, score_threshold: float | None, mode: str
    ) -> list[dict[str, Any]]:
        kbs = list(
            KnowledgeBase.objects.select_related("workspace").filter(
                workspace_id=self.workspace_id, pk__in=_uuids(knowledge_bases)
            )
        )
        self._check_access(kbs)
        documents = searchable_documents(workspace_id=self.workspace_id, knowledge_base_ids=[str(k.pk) for k in kbs])
        if not documents or not query.strip():
            return []
        index = knowledge_index()
        allowed = SearchFilter(document_ids=list(documents))
        rankings: list[list[Hit]] = []
        for embedder, group in _by_embedder(kbs).items():
            kb_ids = [str(kb.pk) for kb in group if index.has_space(str(kb.pk))]
            if not kb_ids:
                continue
            group_mode = mode if embedder is not None else RetrievalMode.FULL_TEXT
            rankings.append(
                retrieve(
                    index,
                    query,
                    kb_ids=kb_ids,
                    mode=group_mode,
                    embedder=embedder,
                    top_k=top_k,
                    score_threshold=score_threshold,
                    filter=allowed,
                )
            )
        hits = rankings[0] if len(rankings) == 1 else reciprocal_rank_fusion(rankings)[:top_k] if rankings else []
        # Parent-child: a matched child answers with its parent's text.
        contexts = dict(
            Chunk.objects.filter(pk__in=[hit.chunk_id for hit in hits]).exclude(context="").values_list("pk", "context")
        )
        return [_citation(hit, documents, contexts) for hit in hits]


    def _check_access(self, kbs: list[KnowledgeBase]) -> None:
        """A draft run's principal must see the knowledge bases (one workspace: one check)."""
        if self.vetted or not kbs:
            return
        try:
            if self.acting_for is None:  # whoever started it is gone
                raise PermissionDenied()
            check_workspace_permission(actor=self.acting_for, workspace=kbs[0].workspace, action=Action.KNOWLEDGE_VIEW)
        except ApplicationError as error:
            template = gettext_noop("This run may not search the knowledge base %(knowledge_base)s.")
            raise node_error("permission_denied", template, knowledge_base=str(kbs[0].pk)) from error


def _by_embedder(kbs: list[KnowledgeBase]) -> dict[Embedder | None, list[KnowledgeBase]]:
    """Knowledge bases that share an embedding model (economical ones: none) are searched together."""
    groups: dict[str, list[KnowledgeBase]] = defaultdict(list)
    for kb in kbs:
        high_quality = kb.index_mode == KnowledgeBase.IndexMode.HIGH_QUALITY
        groups[json.dumps(kb.embedding, sort_keys=True) if high_quality else ""].append(kb)
    return {embedder_for(members[0]): members for members in groups.values()}


def _citation(hit: Hit, documents: dict[str, str], contexts: dict[Any, str]) -> dict[str, Any]:
    metadata = dict(hit.metadata)
    return {
        "content": contexts.get(_uuid(hit.chunk_id)) or hit.text,
        "score": round(hit.score, 6),
        "document_id": hit.document_id,
        "document_name": documents.get(hit.document_id, ""),
        "knowledge_base_id": hit.kb_id,
        "chunk_id": hit.chunk_id,
        "metadata": metadata,
    }


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _uuids(values: list[str]) -> list[str]:
    return [str(parsed) for parsed in map(_uuid, values) if parsed is not None]
