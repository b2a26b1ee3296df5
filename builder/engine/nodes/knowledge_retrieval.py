"""knowledge_retrieval: search knowledge bases and return the best chunks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult, node_error
from builder.engine.values import ResourceId, Value


class KnowledgeRetrievalConfig(NodeConfig):
    query: Value
    knowledge_bases: list[ResourceId] = Field(min_length=1, max_length=50)
    top_k: int = Field(default=5, ge=1, le=50)
    score_threshold: float | None = Field(default=None, ge=0, le=1)
    mode: Literal["semantic", "full_text", "hybrid"] = "hybrid"


@register
class KnowledgeRetrievalNode(NodeSpec[KnowledgeRetrievalConfig]):
    name = "knowledge_retrieval"
    version = 1
    title = gettext_noop("Knowledge retrieval")
    description = gettext_noop("Find the passages of your knowledge bases that best match a query.")
    config_model = KnowledgeRetrievalConfig
    static_outputs = {"chunks": "array[object]"}

    async def run(self, config: KnowledgeRetrievalConfig, ctx: NodeContext) -> NodeResult:
        if ctx.services.knowledge is None:
            raise node_error("not_configured", gettext_noop("Knowledge bases are not available in this run."))
        query = ctx.resolve(config.query)
        query = "" if query is None else query if isinstance(query, str) else str(query)
        chunks = await ctx.services.knowledge.retrieve(
            query,
            list(config.knowledge_bases),
            top_k=config.top_k,
            score_threshold=config.score_threshold or 0.0,
            mode=config.mode,
        )
        return NodeResult(outputs={"chunks": chunks}, inputs={"query": query})
