"""The deployment's memory store: the memory core over the knowledge index and the ``Fact`` table.

Full text (BM25) only, no embeddings: every bot's memories share one index space, which has one
vector dimension, while embedding models are chosen per workspace; the local MiniLM model does
not read Chinese. A user's memory is small, so ``recall`` (``recall.py``) fills places the search
leaves empty with the user's most recent facts instead.
"""

from __future__ import annotations

import threading

from builder.knowledge.index_store import knowledge_index
from builder.memory.catalog import DjangoFactCatalog
from builder.memory.core import MemoryStore

_lock = threading.Lock()
_store: MemoryStore | None = None


def memory_store() -> MemoryStore:
    """The store over the current knowledge index (built again when tests point the index elsewhere)."""
    global _store
    index = knowledge_index()
    with _lock:
        if _store is None or _store.index is not index:
            _store = MemoryStore(index, catalog=DjangoFactCatalog())
        return _store
