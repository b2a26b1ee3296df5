"""Merge a turn's candidate facts into what is remembered: skip repeats, replace what changed.

- Same normalised text as a current fact, or same ``key`` and same value: a repeat. The fact is
  kept and refreshed (``updated_at``, its source turns), so recency sees it was said again.
- Same ``key``, another value: the newer fact supersedes the current one ("moved to Shanghai"
  replaces "lives in Beijing" under ``home_city``). The old fact keeps its text and gets
  ``superseded_by``: it is no longer recalled but the user can still list it.
- A candidate observed *before* the current fact of its key (an old conversation imported late)
  is stored as already superseded: history, not the present.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from builder.memory.core.facts import CandidateFact, MemoryFact, MemoryScope, normalise_text


@dataclass(slots=True)
class MemoryChanges:
    """What :func:`consolidate` decided; :meth:`MemoryStore.apply` writes it."""

    added: list[MemoryFact] = field(default_factory=list)
    """New facts (some may already be superseded, when observed before the current one)."""
    superseded: list[MemoryFact] = field(default_factory=list)
    """Existing facts, now with ``superseded_by`` set."""
    refreshed: list[MemoryFact] = field(default_factory=list)
    """Existing facts said again: new ``updated_at`` and source turns."""

    @property
    def changed(self) -> list[MemoryFact]:
        return [*self.added, *self.superseded, *self.refreshed]

    def __bool__(self) -> bool:
        return bool(self.added or self.superseded or self.refreshed)


def consolidate(
    existing: Sequence[MemoryFact], candidates: Sequence[CandidateFact], *, scope: MemoryScope, now: datetime
) -> MemoryChanges:
    """Decide how ``candidates`` change the ``existing`` facts of ``scope`` (nothing is written)."""
    current_by_text: dict[str, MemoryFact] = {}
    current_by_key: dict[str, MemoryFact] = {}
    for fact in existing:
        if fact.scope != scope:
            raise ValueError(f"fact {fact.id} belongs to another scope")
        if fact.is_current:
            current_by_text[normalise_text(fact.text)] = fact
            if fact.key:
                current_by_key[fact.key] = fact
    changes = MemoryChanges()
    touched: dict[str, MemoryFact] = {}  # existing facts changed so far, by id

    def latest(fact: MemoryFact) -> MemoryFact:
        return touched.get(fact.id, fact)

    for candidate in candidates:
        text = normalise_text(candidate.text)
        if not text:
            continue
        value = normalise_text(candidate.value) if candidate.value else None
        same = current_by_text.get(text)
        current = current_by_key.get(candidate.key) if candidate.key else None
        if same is None and current is not None and value is not None and current.value == value:
            same = current
        if same is not None:
            refreshed = _refresh(latest(same), candidate, now)
            touched[same.id] = refreshed
            _replace(current_by_text, current_by_key, same.id, refreshed)
            continue
        fact = MemoryFact.from_candidate(scope, candidate, now=now)
        if current is not None:
            if fact.observed_at < current.observed_at:
                changes.added.append(dataclasses.replace(fact, superseded_by=current.id))
                continue
            old = dataclasses.replace(latest(current), superseded_by=fact.id, updated_at=now)
            touched[current.id] = old
            current_by_text.pop(normalise_text(current.text), None)
        changes.added.append(fact)
        current_by_text[text] = fact
        if fact.key:
            current_by_key[fact.key] = fact
    # A fact added by this very batch and then replaced by a later candidate is in both lists:
    # keep the added version with its new state.
    added_ids = {fact.id: index for index, fact in enumerate(changes.added)}
    for fact_id, fact in touched.items():
        if fact_id in added_ids:
            changes.added[added_ids[fact_id]] = fact
        elif fact.superseded_by is not None:
            changes.superseded.append(fact)
        else:
            changes.refreshed.append(fact)
    return changes


def _refresh(fact: MemoryFact, candidate: CandidateFact, now: datetime) -> MemoryFact:
    sources = tuple(dict.fromkeys([*fact.source_turn_ids, *candidate.source_turn_ids]))
    observed = max(fact.observed_at, candidate.observed_at) if candidate.observed_at else fact.observed_at
    return dataclasses.replace(fact, updated_at=now, source_turn_ids=sources, observed_at=observed)


def _replace(by_text: dict[str, MemoryFact], by_key: dict[str, MemoryFact], fact_id: str, fact: MemoryFact) -> None:
    for index in (by_text, by_key):
        for name, held in list(index.items()):
            if held.id == fact_id:
                index[name] = fact
