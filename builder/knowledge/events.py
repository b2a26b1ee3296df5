"""Typed events the builder receives while documents are indexed (group ``knowledge-<kb id>``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class DocumentProgress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["document.progress"] = "document.progress"
    knowledge_base_id: str
    document_id: str
    status: str
    progress: int
    chunk_count: int = 0
    error: dict[str, Any] | None = None


def knowledge_group(knowledge_base_id: Any) -> str:
    return f"knowledge-{knowledge_base_id}"
