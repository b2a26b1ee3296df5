"""The deployment's knowledge index, built once per process from settings."""

from __future__ import annotations

import threading

from django.conf import settings

from builder.core.private_files import private_directory, private_sqlite_file
from builder.knowledge.index import Analyzer, KnowledgeIndex, PgKnowledgeIndex, SqliteKnowledgeIndex

_lock = threading.Lock()
_index: KnowledgeIndex | None = None


def knowledge_index() -> KnowledgeIndex:
    global _index
    with _lock:
        if _index is None:
            analyzer = Analyzer(settings.KNOWLEDGE_ANALYZER)
            url = settings.KNOWLEDGE_INDEX_URL
            if url.startswith(("postgres://", "postgresql://")):
                _index = PgKnowledgeIndex(url, analyzer=analyzer)
            else:
                private_directory(settings.KNOWLEDGE_INDEX_PATH.parent)
                private_sqlite_file(settings.KNOWLEDGE_INDEX_PATH)  # documents' text: created 0600
                _index = SqliteKnowledgeIndex(settings.KNOWLEDGE_INDEX_PATH, analyzer=analyzer)
        return _index


def reset_knowledge_index() -> None:
    """Close and forget the index (tests that point settings at another store)."""
    global _index
    with _lock:
        if _index is not None:
            _index.close()
        _index = None
