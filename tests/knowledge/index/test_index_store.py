"""The deployment's knowledge index is the one its mode calls for (DESIGN §1)."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from builder.knowledge.index import PgKnowledgeIndex, SqliteKnowledgeIndex
from builder.knowledge.index_store import knowledge_index


@pytest.mark.skipif(not settings.EMBEDDED, reason="the embedded default only")
def test_the_embedded_default_searches_a_sqlite_file() -> None:
    index = knowledge_index()

    assert isinstance(index, SqliteKnowledgeIndex)
    assert index.path == os.fspath(settings.KNOWLEDGE_INDEX_PATH)


@pytest.mark.production
def test_production_searches_postgresql_here_and_in_the_processes_it_starts() -> None:
    assert isinstance(knowledge_index(), PgKnowledgeIndex)
    # What the Celery worker and uvicorn subprocesses read at start-up.
    assert os.environ["AGENTLOOM_KNOWLEDGE_INDEX_URL"] == settings.KNOWLEDGE_INDEX_URL
