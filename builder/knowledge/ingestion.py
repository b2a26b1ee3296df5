"""Turn a queued document into searchable chunks: parse → chunk → embed → index → ready.

Runs in a Celery task (production) or a background thread of the web process (embedded); the
file itself is read in a child process capped in memory and CPU (``load_document_isolated``). A
document answers queries only once it is ``ready`` (searches allow-list ready, enabled documents),
so a crash at any stage leaves it invisible — failed by the stale-ingestion sweep, or indexed again
on request — never half-indexed and answering. Safe to call twice: only the call that moves the
document out of ``queued`` works on it, and a newer (re)index makes an older one give up.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import NodeError
from builder.knowledge import index as search
from builder.knowledge.embedders import embedder_for
from builder.knowledge.embeddings import Embedder, EmbeddingError
from builder.knowledge.events import DocumentProgress, knowledge_group
from builder.knowledge.index_store import knowledge_index
from builder.knowledge.loading import (
    DocumentError,
    LoadedDocument,
    LoadLimits,
    chunk_sections,
    fetch_url,
    load_document_isolated,
    parse_chunking_settings,
)
from builder.knowledge.messages import EMBEDDING_FAILED, INTERNAL_ERROR, WORKER_LOST, stored_failure
from builder.knowledge.models import Chunk, Document, KnowledgeBase

logger = logging.getLogger(__name__)
EMBED_BATCH = 64
Status = Document.Status


class _Superseded(Exception):
    """A newer (re)index of the document started: this one stops without touching it."""


def document_ingest(document_id: str) -> None:
    claimed = Document.objects.filter(pk=document_id, status=Status.QUEUED).update(
        status=Status.PARSING, progress=0, error=None, updated_at=timezone.now()
    )
    if not claimed:
        return
    document = Document.objects.select_related("knowledge_base").get(pk=document_id)
    try:
        _ingest(document)
    except _Superseded:
        return
    except DocumentError as error:
        _fail(document, stored_failure(error.code, error.params))
    except NodeError as error:  # the URL could not be fetched
        _fail(document, stored_failure(error.code, message=str(error)))
    except EmbeddingError as error:
        _fail(document, stored_failure(EMBEDDING_FAILED, {"reason": str(error)}))
    except Exception as error:  # a bug or an outage: the document says so instead of hanging
        logger.exception("indexing document %s failed", document_id)
        _fail(document, stored_failure(INTERNAL_ERROR, {"reason": type(error).__name__}))


def _ingest(document: Document) -> None:
    kb = document.knowledge_base
    loaded = _load(document)
    _advance(document, Status.CHUNKING, kind=loaded.kind.value)
    chunked = chunk_sections(loaded.sections, parse_chunking_settings(kb.chunking or {"mode": "general"}))
    rows = [
        Chunk(
            document=document,
            knowledge_base=kb,
            position=chunk.position,
            text=chunk.text,
            context=chunked.context_for(chunk).text if chunk.parent_position is not None else "",
            metadata=chunk.metadata,
        )
        for chunk in chunked.chunks
    ]
    embedder = embedder_for(kb)
    vectors: list[list[float]] | None = None
    if embedder is not None:
        _advance(document, Status.EMBEDDING)
        vectors = _embed(document, embedder, [row.text for row in rows])
    with transaction.atomic():
        _check_current(document)
        Chunk.objects.filter(document=document).delete()
        Chunk.objects.bulk_create(rows)
    _write_index(kb, document, rows, vectors, embedder)
    _advance(document, Status.READY, progress=100, chunk_count=len(rows), indexed_at=timezone.now())


def upload_limits() -> LoadLimits:
    """What a document may be and may cost to read: the deployment's size limit and parsing
    budgets, the loaders' defaults for the rest (pages, rows, cells, zip sizes)."""
    return LoadLimits(
        max_bytes=settings.KNOWLEDGE_MAX_UPLOAD_BYTES,
        max_text_chars=settings.KNOWLEDGE_PARSE_MAX_TEXT_CHARS,
        max_elements=settings.KNOWLEDGE_PARSE_MAX_ELEMENTS,
        max_parse_seconds=settings.KNOWLEDGE_PARSE_TIMEOUT_S,
        max_parse_memory_bytes=settings.KNOWLEDGE_PARSE_MEMORY_MB * 1024 * 1024,
    )


def _load(document: Document) -> LoadedDocument:
    """Fetch or open the document here, and read it in a capped process of its own: a hostile
    file costs that process its memory and time budget, never this worker."""
    limits = upload_limits()
    if document.source == Document.Source.URL:
        client = SsrfSafeHttpClient(allow=tuple(settings.AGENTLOOM_HTTP_ALLOWLIST))
        return async_to_sync(fetch_url)(document.url, client, limits=limits, load=load_document_isolated)
    with default_storage.open(document.file, "rb") as handle:
        data = handle.read()
    return load_document_isolated(
        data, filename=document.name, content_type=document.content_type or None, source=document.name, limits=limits
    )


def _embed(document: Document, embedder: Embedder, texts: list[str]) -> list[list[float]]:
    vectors: list[list[float]] = []
    for start in range(0, len(texts), EMBED_BATCH):
        vectors += embedder.embed_documents(texts[start : start + EMBED_BATCH])
        done = min(len(texts), start + EMBED_BATCH)
        _advance(document, Status.EMBEDDING, progress=int(done * 100 / max(1, len(texts))))
    return vectors


def _write_index(
    kb: KnowledgeBase,
    document: Document,
    rows: list[Chunk],
    vectors: list[list[float]] | None,
    embedder: Embedder | None,
) -> None:
    index = knowledge_index()
    index.create_space(str(kb.pk), dimension=embedder.dimension if embedder is not None else None)
    index.delete_document(str(kb.pk), str(document.pk))
    index.upsert([index_chunk(row, vectors[n] if vectors is not None else None) for n, row in enumerate(rows)])


def index_chunk(row: Chunk, vector: list[float] | None) -> search.Chunk:
    return search.Chunk(
        id=str(row.pk),
        kb_id=str(row.knowledge_base_id),
        document_id=str(row.document_id),
        text=row.text,
        metadata={**row.metadata, "position": row.position},
        vector=vector,
    )


def _check_current(document: Document) -> None:
    current = Document.objects.filter(pk=document.pk).values_list("generation", flat=True).first()
    if current is None or current != document.generation:
        raise _Superseded()


def _advance(document: Document, status: str, *, progress: int = 0, **fields: Any) -> None:
    """Move to ``status`` unless a newer (re)index took over."""
    if not _update(document, status=status, progress=progress, **fields):
        raise _Superseded()


def _fail(document: Document, error: dict[str, Any]) -> None:
    _update(document, status=Status.FAILED, progress=0, error=error)


def _update(document: Document, **fields: Any) -> bool:
    """Write ``fields`` if this ingestion's generation is still the document's, and tell the builder."""
    if not Document.objects.filter(pk=document.pk, generation=document.generation).update(
        updated_at=timezone.now(), **fields
    ):
        return False
    for name, value in fields.items():
        setattr(document, name, value)
    publish_progress(document)
    return True


def publish_progress(document: Document) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = DocumentProgress(
        knowledge_base_id=str(document.knowledge_base_id),
        document_id=str(document.pk),
        status=document.status,
        progress=document.progress,
        chunk_count=document.chunk_count,
        error=document.error,
    )
    try:
        async_to_sync(layer.group_send)(
            knowledge_group(document.knowledge_base_id), {"type": "knowledge.event", "event": event.model_dump()}
        )
    except Exception:  # progress is a courtesy: indexing goes on without a channel layer
        logger.warning("could not publish progress of document %s", document.pk, exc_info=True)


def fail_stale_ingestions() -> int:
    """Documents stuck mid-ingestion (their worker died) are marked failed, never left in progress."""
    cutoff = timezone.now() - timedelta(seconds=settings.KNOWLEDGE_STALE_AFTER_S)
    stale = Document.objects.filter(status__in=Document.IN_PROGRESS[1:], updated_at__lt=cutoff)
    count = 0
    for document in stale:
        _fail(document, stored_failure(WORKER_LOST))
        count += 1
    return count
