"""Where remembered facts are kept, superseded ones included (the index only holds current ones).

The memory store needs to list a user's facts and read them back by id; a search index cannot
list. :class:`FactCatalog` is that record: the Django app implements it over its model, tests
and benchmarks use :class:`InMemoryFactCatalog`.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from typing import Protocol

from builder.memory.core.facts import MemoryFact, MemoryScope


class FactCatalog(Protocol):
    def put(self, facts: Sequence[MemoryFact]) -> None:
        """Store facts, replacing any with the same id."""
        ...

    def get(self, scope: MemoryScope, fact_ids: Collection[str]) -> dict[str, MemoryFact]:
        """The facts of ``scope`` among ``fact_ids`` (others, and unknown ids, are left out)."""
        ...

    def list_facts(self, scope: MemoryScope) -> list[MemoryFact]:
        """Every fact of ``scope``, superseded ones included."""
        ...

    def delete(self, scope: MemoryScope, fact_ids: Collection[str] | None) -> list[str]:
        """Remove facts of ``scope`` (``None``: all of them); returns the ids removed."""
        ...


class InMemoryFactCatalog:
    """A catalog in a dict, for tests, benchmarks and a single process."""

    def __init__(self) -> None:
        self._facts: dict[MemoryScope, dict[str, MemoryFact]] = {}
        self._lock = threading.Lock()

    def put(self, facts: Sequence[MemoryFact]) -> None:
        with self._lock:
            for fact in facts:
                self._facts.setdefault(fact.scope, {})[fact.id] = fact

    def get(self, scope: MemoryScope, fact_ids: Collection[str]) -> dict[str, MemoryFact]:
        with self._lock:
            facts = self._facts.get(scope, {})
            return {fact_id: facts[fact_id] for fact_id in fact_ids if fact_id in facts}

    def list_facts(self, scope: MemoryScope) -> list[MemoryFact]:
        with self._lock:
            return list(self._facts.get(scope, {}).values())

    def delete(self, scope: MemoryScope, fact_ids: Collection[str] | None) -> list[str]:
        with self._lock:
            facts = self._facts.get(scope, {})
            ids = list(facts) if fact_ids is None else [fact_id for fact_id in fact_ids if fact_id in facts]
            for fact_id in ids:
                del facts[fact_id]
            return ids
