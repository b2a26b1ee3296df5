"""``DjangoFactCatalog``: the memory core's ``FactCatalog`` over the ``Fact`` model.

A scope is ``MemoryScope(bot_id=str(bot.pk), user_id=end_user_id)``. Fact ids are the core's
UUID hex strings; ids that are not UUIDs (or a bot id that is not one) match nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from django.db.models import QuerySet

from builder.memory.core import FactKind, MemoryFact, MemoryScope
from builder.memory.models import Fact

_UPDATED_FIELDS = [
    "text",
    "kind",
    "key",
    "value",
    "observed_at",
    "updated_at",
    "source_turn_ids",
    "superseded_by",
    "context",
    "metadata",
]


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def scope_of(bot_id: object, end_user_id: str) -> MemoryScope:
    return MemoryScope(bot_id=str(bot_id), user_id=end_user_id)


def fact_from_row(row: Fact) -> MemoryFact:
    return MemoryFact(
        id=row.id.hex,
        scope=scope_of(row.bot_id, row.end_user_id),
        text=row.text,
        kind=FactKind(row.kind),
        observed_at=row.observed_at,
        updated_at=row.updated_at,
        key=row.key,
        value=row.value,
        source_turn_ids=tuple(str(item) for item in row.source_turn_ids or ()),
        superseded_by=row.superseded_by,
        context=row.context,
        metadata={str(name): str(value) for name, value in (row.metadata or {}).items()},
    )


def _row(fact: MemoryFact) -> Fact:
    fact_id, bot_id = _uuid(fact.id), _uuid(fact.scope.bot_id)
    if fact_id is None or bot_id is None:
        raise ValueError(f"fact {fact.id!r} of bot {fact.scope.bot_id!r}: both ids must be UUIDs")
    return Fact(
        id=fact_id,
        bot_id=bot_id,
        end_user_id=fact.scope.user_id,
        text=fact.text,
        kind=str(fact.kind),
        key=fact.key,
        value=fact.value,
        observed_at=fact.observed_at,
        updated_at=fact.updated_at,
        source_turn_ids=list(fact.source_turn_ids),
        superseded_by=fact.superseded_by,
        context=fact.context,
        metadata=dict(fact.metadata),
    )


def scope_facts(scope: MemoryScope) -> QuerySet[Fact]:
    """Every fact row of ``scope`` (none for a bot id that is not a UUID)."""
    bot_id = _uuid(scope.bot_id)
    if bot_id is None:
        return Fact.objects.none()
    return Fact.objects.filter(bot_id=bot_id, end_user_id=scope.user_id)


class DjangoFactCatalog:
    """Implements ``builder.memory.core.FactCatalog``."""

    def put(self, facts: Sequence[MemoryFact]) -> None:
        if facts:
            Fact.objects.bulk_create(
                [_row(fact) for fact in facts],
                update_conflicts=True,
                unique_fields=["id"],
                update_fields=_UPDATED_FIELDS,
            )

    def get(self, scope: MemoryScope, fact_ids: Collection[str]) -> dict[str, MemoryFact]:
        ids = [parsed for parsed in map(_uuid, fact_ids) if parsed is not None]
        if not ids:
            return {}
        return {row.id.hex: fact_from_row(row) for row in scope_facts(scope).filter(id__in=ids)}

    def list_facts(self, scope: MemoryScope) -> list[MemoryFact]:
        return [fact_from_row(row) for row in scope_facts(scope)]

    def delete(self, scope: MemoryScope, fact_ids: Collection[str] | None) -> list[str]:
        rows = scope_facts(scope)
        if fact_ids is not None:
            rows = rows.filter(id__in=[parsed for parsed in map(_uuid, fact_ids) if parsed is not None])
        ids = [fact_id.hex for fact_id in rows.values_list("id", flat=True)]
        if ids:
            Fact.objects.filter(id__in=ids).delete()
        return ids
