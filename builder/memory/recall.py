"""Recall for llm and agent nodes: the engine's ``LongTermMemory`` for one end user of one bot.

``MemoryStore.recall`` ranks the facts the query's words find (relevance, then recency). A user's
memory is small and a question rarely shares words with the fact that answers it ("where do I
live?" / "The user moved to Shanghai"), so when the search finds fewer than ``k`` facts, the user's
most recent other facts take the free places: a handful of facts about the user is always worth
the model's attention, and a relevant one still comes first.
"""

from __future__ import annotations

import contextlib
import logging

from asgiref.sync import sync_to_async
from django.utils import timezone, translation
from django.utils.translation import gettext

from builder.engine.graph import Settings
from builder.engine.nodes.long_term_memory import MEMORY_HEADING
from builder.memory.catalog import scope_of
from builder.memory.core import MemoryScope
from builder.memory.store import memory_store

logger = logging.getLogger(__name__)


class EndUserMemory:
    """Implements ``builder.engine.runtime.contract.LongTermMemory``; never raises."""

    def __init__(self, bot_id: object, end_user_id: str, *, locale: str | None = None) -> None:
        self.scope: MemoryScope = scope_of(bot_id, end_user_id)
        with translation.override(locale.lower()) if locale else contextlib.nullcontext():
            self.heading = gettext(MEMORY_HEADING)

    @classmethod
    def for_bot(cls, bot_id: object, end_user_id: str, settings: Settings) -> EndUserMemory | None:
        """The memory of a run, or None when the bot has long-term memory off or the user is unknown."""
        if not settings.memory.enabled or not end_user_id:
            return None
        return cls(bot_id, end_user_id, locale=settings.locale)

    async def recall(self, query: str, k: int) -> list[str]:
        try:
            return await sync_to_async(self.recall_now)(query, k)
        except Exception:  # a broken index must not fail the turn: the model just knows less
            logger.exception("recalling memories of %s failed", self.scope)
            return []

    def recall_now(self, query: str, k: int) -> list[str]:
        store = memory_store()
        now = timezone.now()
        found = [item.fact for item in store.recall(self.scope, query, k=k, now=now)]
        if len(found) < k:
            seen = {fact.id for fact in found}
            recent = sorted(
                (fact for fact in store.list(self.scope, include_superseded=False) if fact.id not in seen),
                key=lambda fact: (fact.observed_at, fact.updated_at),
                reverse=True,
            )
            found += recent[: k - len(found)]
        return [fact.text for fact in found]
