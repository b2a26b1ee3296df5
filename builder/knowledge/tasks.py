from __future__ import annotations

from celery import shared_task

from builder.knowledge.ingestion import document_ingest, fail_stale_ingestions


@shared_task(name="knowledge.document_ingest", acks_late=True)
def document_ingest_task(document_id: str) -> None:
    """Thin entry point: safe to deliver twice (the document is claimed atomically)."""
    document_ingest(document_id)


@shared_task(name="knowledge.fail_stale_ingestions")
def fail_stale_ingestions_task() -> int:
    return fail_stale_ingestions()
