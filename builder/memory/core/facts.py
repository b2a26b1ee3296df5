"""What long-term memory stores: facts about one end user of one bot, with their history."""

from __future__ import annotations

import enum
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime


class FactKind(enum.StrEnum):
    PROFILE = "profile"
    """Who the user is: name, age, birthday, home, job."""
    PREFERENCE = "preference"
    """Likes, dislikes, habits."""
    PLAN = "plan"
    """Something the user intends to do."""
    RELATION = "relation"
    """Family, friends, pets."""
    EVENT = "event"
    """Something that happened to the user."""
    OTHER = "other"
    TURN = "turn"
    """A conversation turn kept verbatim (the LoCoMo benchmark indexes turns, not extracted facts)."""


@dataclass(frozen=True, slots=True)
class MemoryScope:
    """Whose memory: one end user of one bot. Memories never cross scopes."""

    bot_id: str
    user_id: str

    def __post_init__(self) -> None:
        for name in ("bot_id", "user_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or "\x00" in value:
                raise ValueError(f"MemoryScope.{name} must be a non-empty string, got {value!r}")

    @property
    def key(self) -> str:
        """One string for the index's metadata filter (ids may contain the separator, so length-prefixed)."""
        return f"{len(self.bot_id)}:{self.bot_id}/{self.user_id}"


@dataclass(frozen=True, slots=True)
class CandidateFact:
    """A fact as extraction proposes it, before consolidation decides whether it is new."""

    text: str
    kind: FactKind = FactKind.OTHER
    key: str | None = None
    """Facts with the same key replace each other (``home_city``: the user lives in one place)."""
    value: str | None = None
    """The normalised value under ``key`` ("shanghai"): same key and value is the same fact."""
    observed_at: datetime | None = None
    source_turn_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MemoryFact:
    """A remembered fact. ``superseded_by`` is set when a newer fact with the same key replaced it:
    it is no longer recalled but stays listable, so the user sees what the bot once believed."""

    id: str
    scope: MemoryScope
    text: str
    kind: FactKind
    observed_at: datetime
    updated_at: datetime
    key: str | None = None
    value: str | None = None
    source_turn_ids: tuple[str, ...] = ()
    superseded_by: str | None = None
    context: str = ""
    """Extra text indexed with the fact but not shown (e.g. the neighbouring turns of a raw turn)."""
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def is_current(self) -> bool:
        return self.superseded_by is None

    @classmethod
    def from_candidate(cls, scope: MemoryScope, candidate: CandidateFact, *, now: datetime) -> MemoryFact:
        return cls(
            id=new_fact_id(),
            scope=scope,
            text=candidate.text,
            kind=candidate.kind,
            observed_at=candidate.observed_at or now,
            updated_at=now,
            key=candidate.key,
            value=normalise_text(candidate.value) if candidate.value else None,
            source_turn_ids=candidate.source_turn_ids,
        )


def new_fact_id() -> str:
    return uuid.uuid4().hex


_PUNCTUATION = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Text compared for duplicates: NFKC, case-folded, without punctuation or extra spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", folded)).strip()
