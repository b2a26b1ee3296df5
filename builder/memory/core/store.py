"""Long-term memory over a knowledge index: remember, forget, list and recall a user's facts.

Facts of every bot and end user live in one index space; each chunk carries ``{"scope": ...}``
metadata and every search filters on it, so one user's recall never sees another user's facts.
Only current facts are in the index; superseded ones stay in the :class:`FactCatalog`, which is
also what ``recall`` reads facts back from (a fact missing there is never returned).

A fact is indexed as its text and, when it has ``context`` (e.g. the turns around a raw turn),
a second time as text + context. Ranking (``recall``):

    ranking(view) = BM25 over the view (fused with the dense ranking, weight × coverage, with an embedder)
    relevance     = fusion of ranking(text) × (1 − context_weight), ranking(text + context) × context_weight
                    [+ ranking restricted to the ``boost`` metadata × boost_weight], divided by its maximum
    recency       = 0.5 ** (age_days / half_life_days)        age = now − observed_at (0 when in the future)
    score         = (1 − recency_weight) × relevance + recency_weight × recency     (relevance only without now)

Fusion is weighted min-max scores by default (``FusionMethod.WEIGHTED``: relevance keeps the
gaps between hits, so recency reorders near-ties and never lifts an unrelated fact over a
relevant one); RRF is the alternative. ``benchmarks/memory_locomo.py`` measures the choices.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from builder.knowledge.index import (
    Chunk,
    Coverage,
    FusionMethod,
    Hit,
    KnowledgeIndex,
    SearchFilter,
    dense_weight_for,
    fuse,
    reciprocal_rank_fusion,
    weighted_score_fusion,
)
from builder.knowledge.index.base import MetadataValue
from builder.memory.core.catalog import FactCatalog, InMemoryFactCatalog
from builder.memory.core.consolidation import MemoryChanges, consolidate
from builder.memory.core.facts import CandidateFact, MemoryFact, MemoryScope

Embedder = Callable[[Sequence[str]], list[list[float]]]
"""Texts → one vector each (e.g. the local MiniLM wrapper)."""

MEMORY_SPACE = "memory"


@dataclass(frozen=True, slots=True)
class RecencyPolicy:
    weight: float = 0.2
    """Share of the score that recency decides (0: relevance only)."""
    half_life_days: float = 30.0
    """Age at which a fact's recency is one half."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError("recency weight must be between 0 and 1")
        if self.half_life_days <= 0:
            raise ValueError("half_life_days must be positive")

    def recency(self, observed_at: datetime, now: datetime) -> float:
        age_days = max((now - observed_at).total_seconds(), 0.0) / 86400.0
        return float(0.5 ** (age_days / self.half_life_days))


@dataclass(frozen=True, slots=True)
class RecalledFact:
    fact: MemoryFact
    score: float
    relevance: float
    recency: float


class MemoryStore:
    """The long-term memory of every end user of every bot, in one index space."""

    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        catalog: FactCatalog | None = None,
        embed: Embedder | None = None,
        coverage: Coverage | None = None,
        dense_weight: float = 0.5,
        recency: RecencyPolicy | None = None,
        fusion: FusionMethod = FusionMethod.WEIGHTED,
        context_weight: float = 0.85,
        boost_weight: float = 0.5,
        space: str = MEMORY_SPACE,
    ) -> None:
        self.index = index
        self.catalog: FactCatalog = catalog if catalog is not None else InMemoryFactCatalog()
        self.embed = embed
        self.coverage = coverage
        self.dense_weight = dense_weight
        self.recency = recency or RecencyPolicy()
        self.fusion = fusion
        self.context_weight = context_weight
        self.boost_weight = boost_weight
        self.space = space
        dimension = len(embed(["dimension"])[0]) if embed is not None else None
        index.create_space(space, dimension=dimension)

    # --- writing ----------------------------------------------------------------------------------

    def remember(self, scope: MemoryScope, facts: Sequence[MemoryFact]) -> None:
        """Store facts as they are (new or updated): current ones become searchable, superseded ones not."""
        for fact in facts:
            if fact.scope != scope:
                raise ValueError(f"fact {fact.id} belongs to another scope")
        current = [fact for fact in facts if fact.is_current]
        views = [(fact, part, text) for fact in current for part, text in _views(fact)]
        vectors = self.embed([text for _, _, text in views]) if self.embed and views else None
        chunks = [
            Chunk(
                id=fact.id if part == TEXT_VIEW else fact.id + CONTEXT_SUFFIX,
                kb_id=self.space,
                document_id=scope.key,
                text=text,
                metadata={
                    **fact.metadata,
                    "scope": scope.key,
                    "part": part,
                    "kind": str(fact.kind),
                    "observed_at": fact.observed_at.isoformat(),
                },
                vector=vectors[position] if vectors else None,
            )
            for position, (fact, part, text) in enumerate(views)
        ]
        # A fact that lost its context, or was superseded, leaves chunks behind: remove them.
        stale = [fact.id for fact in facts if not fact.is_current]
        stale += [fact.id + CONTEXT_SUFFIX for fact in facts if not fact.is_current or not fact.context]
        # Index first: recall only returns what the catalog holds, so a failure in between never
        # shows a half-stored fact.
        if chunks:
            self.index.upsert(chunks)
        self.index.delete_chunks(stale)
        self.catalog.put(facts)

    def apply(self, scope: MemoryScope, changes: MemoryChanges) -> None:
        self.remember(scope, changes.changed)

    def learn(self, scope: MemoryScope, candidates: Sequence[CandidateFact], *, now: datetime) -> MemoryChanges:
        """Consolidate a turn's candidate facts with what is remembered, and store the result."""
        changes = consolidate(self.catalog.list_facts(scope), candidates, scope=scope, now=now)
        if changes:
            self.apply(scope, changes)
        return changes

    def forget(self, scope: MemoryScope, fact_id: str) -> bool:
        """Delete one fact of ``scope`` for good; ``False`` when it has no such fact."""
        removed = self.catalog.delete(scope, [fact_id])
        if removed:
            self.index.delete_chunks([*removed, *(fact_id + CONTEXT_SUFFIX for fact_id in removed)])
        return bool(removed)

    def forget_all(self, scope: MemoryScope) -> int:
        """Delete everything remembered about one end user of one bot."""
        removed = self.catalog.delete(scope, None)
        self.index.delete_document(self.space, scope.key)
        return len(removed)

    # --- reading ----------------------------------------------------------------------------------

    def list(self, scope: MemoryScope, *, include_superseded: bool = True) -> builtins.list[MemoryFact]:
        """The facts of ``scope``, oldest observation first."""
        facts = self.catalog.list_facts(scope)
        if not include_superseded:
            facts = [fact for fact in facts if fact.is_current]
        return sorted(facts, key=lambda fact: (fact.observed_at, fact.updated_at, fact.id))

    def recall(
        self,
        scope: MemoryScope,
        query: str,
        *,
        k: int = 5,
        now: datetime | None = None,
        boost: Mapping[str, MetadataValue] | None = None,
        candidates: int = 50,
    ) -> builtins.list[RecalledFact]:
        """The ``k`` current facts of ``scope`` that best answer ``query`` (see the module docstring).

        ``boost``: facts whose metadata has these values rank higher (e.g. the turns of the person
        a question names); others still rank, so a wrong guess costs little.
        """
        hits = self.search(scope, query, k=max(k, candidates), boost=boost)
        if not hits:
            return []
        facts = self.catalog.get(scope, [hit.chunk_id for hit in hits])
        top = max(hit.score for hit in hits) or 1.0
        weight = self.recency.weight if now is not None else 0.0
        recalled = []
        for hit in hits:
            fact = facts.get(hit.chunk_id)
            if fact is None or not fact.is_current:
                continue
            relevance = hit.score / top
            recency = self.recency.recency(fact.observed_at, now) if now is not None else 0.0
            score = (1.0 - weight) * relevance + weight * recency
            recalled.append(RecalledFact(fact=fact, score=score, relevance=relevance, recency=recency))
        recalled.sort(key=lambda item: (-item.score, -item.relevance, item.fact.id))
        return recalled[:k]

    def search(
        self, scope: MemoryScope, query: str, *, k: int, boost: Mapping[str, MetadataValue] | None = None
    ) -> builtins.list[Hit]:
        """The fused ranking of fact ids within ``scope`` (scores are RRF scores)."""
        text_only = self._ranking(scope, query, k=k, where={"part": TEXT_VIEW})
        with_context = self._ranking(scope, query, k=k, where={})
        rankings = [text_only, with_context]
        weights = [1.0 - self.context_weight, self.context_weight]
        if boost:
            rankings.append(self._ranking(scope, query, k=k, where=dict(boost)))
            weights.append(self.boost_weight)
        if self.fusion is FusionMethod.RRF:
            return reciprocal_rank_fusion(rankings, weights=weights, limit=k)
        return weighted_score_fusion(rankings, weights=weights, limit=k)

    def _ranking(
        self, scope: MemoryScope, query: str, *, k: int, where: Mapping[str, MetadataValue]
    ) -> builtins.list[Hit]:
        """One ranking of fact ids: BM25, fused with the dense one when there is an embedder."""
        scope_filter = SearchFilter(metadata={**where, "scope": scope.key})
        hits = self.index.search_text([self.space], query, k=k, filter=scope_filter)
        if self.embed is not None and query.strip():
            weight = dense_weight_for(query, self.coverage, weight=self.dense_weight)
            if weight > 0.0:
                vector_hits = self.index.search_vector([self.space], self.embed([query])[0], k=k, filter=scope_filter)
                hits = fuse(hits, vector_hits, dense_weight=weight, method=self.fusion, limit=k)
        return _by_fact(hits)


TEXT_VIEW = "text"
CONTEXT_VIEW = "context"
CONTEXT_SUFFIX = "#context"


def _views(fact: MemoryFact) -> builtins.list[tuple[str, str]]:
    """What is indexed of a fact: its text, and its text with its context when it has one."""
    views = [(TEXT_VIEW, fact.text)]
    if fact.context:
        views.append((CONTEXT_VIEW, f"{fact.text}\n{fact.context}"))
    return views


def _by_fact(hits: Sequence[Hit]) -> builtins.list[Hit]:
    """Hits renamed to their fact's id, each fact once (at its best-ranked view)."""
    seen: dict[str, Hit] = {}
    for hit in hits:
        fact_id = hit.chunk_id.removesuffix(CONTEXT_SUFFIX)
        if fact_id not in seen:
            seen[fact_id] = dataclasses.replace(hit, chunk_id=fact_id)
    return list(seen.values())
