"""Long-term memory of a bot's end users, without Django: extract facts after a turn, consolidate
them with what is remembered, store and recall them through a knowledge index.

    candidates = await extract_facts(turn, model=chat_model_or_none, now=turn_time)
    store.learn(MemoryScope(bot_id, end_user_id), candidates, now=turn_time)
    recalled = store.recall(MemoryScope(bot_id, end_user_id), user_message, k=5, now=now)
"""

from builder.memory.core.catalog import FactCatalog, InMemoryFactCatalog
from builder.memory.core.consolidation import MemoryChanges, consolidate
from builder.memory.core.extraction import TurnMessage, extract_facts, extract_facts_by_rules
from builder.memory.core.facts import CandidateFact, FactKind, MemoryFact, MemoryScope, normalise_text
from builder.memory.core.store import Embedder, MemoryStore, RecalledFact, RecencyPolicy

__all__ = [
    "CandidateFact",
    "Embedder",
    "FactCatalog",
    "FactKind",
    "InMemoryFactCatalog",
    "MemoryChanges",
    "MemoryFact",
    "MemoryScope",
    "MemoryStore",
    "RecalledFact",
    "RecencyPolicy",
    "TurnMessage",
    "consolidate",
    "extract_facts",
    "extract_facts_by_rules",
    "normalise_text",
]
