"""Start indexing a document where this deployment runs background work.

Production: a Celery task. Embedded default: a background thread of the web process (one at a
time: parsing and embedding are CPU-bound and must not starve the chats), so an upload answers at
once and the builder watches the document's progress.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

_executor: ThreadPoolExecutor | None = None


def dispatch_ingestion(document_id: str) -> Future[None] | None:
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from builder.knowledge.tasks import document_ingest_task

        document_ingest_task.delay(document_id)
        return None
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="knowledge-ingest")
    return _executor.submit(_ingest_in_thread, document_id)


def _ingest_in_thread(document_id: str) -> None:
    from builder.knowledge.ingestion import document_ingest

    try:
        document_ingest(document_id)
    finally:
        close_old_connections()
