"""The memory store over a real SQLite knowledge index: scopes, forgetting, ranking, history."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from builder.knowledge.index import SqliteKnowledgeIndex
from builder.memory.core import (
    CandidateFact,
    FactKind,
    MemoryFact,
    MemoryScope,
    MemoryStore,
    RecencyPolicy,
    consolidate,
)

ALICE = MemoryScope("bot-1", "alice")
BOB = MemoryScope("bot-1", "bob")
ALICE_ON_OTHER_BOT = MemoryScope("bot-2", "alice")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    with SqliteKnowledgeIndex(tmp_path / "memory.db") as index:
        yield MemoryStore(index)


def facts(scope: MemoryScope, *texts: str, observed_at: datetime = NOW) -> list[MemoryFact]:
    candidates = [CandidateFact(text, FactKind.OTHER, observed_at=observed_at) for text in texts]
    return consolidate([], candidates, scope=scope, now=observed_at).added


def recalled_texts(store: MemoryStore, scope: MemoryScope, query: str, **kwargs: object) -> list[str]:
    return [item.fact.text for item in store.recall(scope, query, **kwargs)]  # type: ignore[arg-type]


def test_a_user_never_recalls_another_users_facts(store: MemoryStore) -> None:
    store.remember(ALICE, facts(ALICE, "The user's dog is called Rex"))
    store.remember(BOB, facts(BOB, "The user's dog is called Max"))
    store.remember(ALICE_ON_OTHER_BOT, facts(ALICE_ON_OTHER_BOT, "The user's dog is called Fido"))

    assert recalled_texts(store, ALICE, "what is my dog called?") == ["The user's dog is called Rex"]
    assert recalled_texts(store, BOB, "what is my dog called?") == ["The user's dog is called Max"]
    assert [fact.text for fact in store.list(ALICE)] == ["The user's dog is called Rex"]
    assert recalled_texts(store, MemoryScope("bot-1", "carol"), "dog") == []


def test_a_scope_cannot_store_another_scopes_facts(store: MemoryStore) -> None:
    with pytest.raises(ValueError, match="another scope"):
        store.remember(ALICE, facts(BOB, "The user likes tea"))


def test_forget_one_fact_and_everything(store: MemoryStore) -> None:
    tea, jazz = facts(ALICE, "The user likes green tea", "The user plays jazz piano")
    store.remember(ALICE, [tea, jazz])
    store.remember(BOB, facts(BOB, "The user likes green tea"))

    assert store.forget(BOB, tea.id) is False  # not Bob's fact
    assert store.forget(ALICE, tea.id) is True
    assert recalled_texts(store, ALICE, "green tea") == []
    assert [fact.text for fact in store.list(ALICE)] == ["The user plays jazz piano"]
    assert recalled_texts(store, BOB, "green tea") == ["The user likes green tea"]

    assert store.forget_all(ALICE) == 1
    assert store.list(ALICE) == [] and recalled_texts(store, ALICE, "jazz piano") == []
    assert store.list(BOB) != []


def test_relevance_first_then_recency(store: MemoryStore) -> None:
    old = NOW - timedelta(days=365)
    store.remember(ALICE, facts(ALICE, "The user has a peanut allergy", observed_at=old))
    store.remember(ALICE, facts(ALICE, "The user went to the cinema yesterday", observed_at=NOW))
    store.remember(ALICE, facts(ALICE, "The user is training for a marathon", observed_at=old))
    store.remember(ALICE, facts(ALICE, "The user is training for a triathlon", observed_at=NOW))

    # An old fact that answers beats a new one that does not.
    assert recalled_texts(store, ALICE, "peanut allergy", k=1, now=NOW) == ["The user has a peanut allergy"]
    # Between equally relevant facts, the newer one wins.
    assert recalled_texts(store, ALICE, "what is the user training for", k=2, now=NOW) == [
        "The user is training for a triathlon",
        "The user is training for a marathon",
    ]
    [item] = store.recall(ALICE, "triathlon", k=1, now=NOW)
    assert item.recency == 1.0 and item.relevance == 1.0


def test_recency_formula() -> None:
    policy = RecencyPolicy(weight=0.2, half_life_days=30)

    assert policy.recency(NOW - timedelta(days=30), NOW) == pytest.approx(0.5)
    assert policy.recency(NOW - timedelta(days=60), NOW) == pytest.approx(0.25)
    assert policy.recency(NOW + timedelta(days=1), NOW) == 1.0


def test_superseded_facts_are_listed_but_not_recalled(store: MemoryStore) -> None:
    store.learn(ALICE, [CandidateFact("The user lives in Beijing", FactKind.PROFILE, "home_city", "Beijing")], now=NOW)
    later = NOW + timedelta(days=10)
    changes = store.learn(
        ALICE, [CandidateFact("The user moved to Shanghai", FactKind.PROFILE, "home_city", "Shanghai")], now=later
    )

    assert [fact.text for fact in changes.superseded] == ["The user lives in Beijing"]
    assert recalled_texts(store, ALICE, "where does the user live? Beijing or Shanghai", now=later) == [
        "The user moved to Shanghai"
    ]
    history = store.list(ALICE)
    assert [(fact.text, fact.is_current) for fact in history] == [
        ("The user lives in Beijing", False),
        ("The user moved to Shanghai", True),
    ]
    assert [fact.text for fact in store.list(ALICE, include_superseded=False)] == ["The user moved to Shanghai"]


def test_learning_the_same_fact_twice_stores_it_once(store: MemoryStore) -> None:
    store.learn(ALICE, [CandidateFact("The user likes green tea")], now=NOW)
    changes = store.learn(ALICE, [CandidateFact("the user likes green tea!")], now=NOW + timedelta(days=1))

    assert changes.added == [] and len(changes.refreshed) == 1
    assert len(store.list(ALICE)) == 1
    assert recalled_texts(store, ALICE, "green tea") == ["The user likes green tea"]


def test_context_is_searched_but_not_shown(store: MemoryStore) -> None:
    [turn] = facts(ALICE, "Alice: Yes, it was amazing!")
    store.remember(ALICE, [dataclasses.replace(turn, context="Bob: How was your trip to Norway?")])

    [item] = store.recall(ALICE, "trip to Norway")
    assert item.fact.text == "Alice: Yes, it was amazing!"

    # Without its context, the fact no longer answers.
    store.remember(ALICE, [dataclasses.replace(turn, context="")])
    assert store.recall(ALICE, "trip to Norway") == []


def test_boost_prefers_matching_metadata(store: MemoryStore) -> None:
    [by_alice, by_bob] = facts(ALICE, "Alice: I adopted a puppy", "Bob: I adopted a kitten")
    store.remember(ALICE, [dataclasses.replace(by_alice, metadata={"speaker": "Alice"})])
    store.remember(ALICE, [dataclasses.replace(by_bob, metadata={"speaker": "Bob"})])

    plain = recalled_texts(store, ALICE, "adopted")
    boosted = recalled_texts(store, ALICE, "adopted", boost={"speaker": "Bob"})

    assert sorted(plain) == sorted(boosted)
    assert boosted[0] == "Bob: I adopted a kitten"


def test_an_embedder_adds_a_dense_ranking(tmp_path: Path) -> None:
    vocabulary = ["dog", "puppy", "cat", "kitten", "tea"]

    def embed(texts: object) -> list[list[float]]:
        vectors = []
        for text in texts:  # type: ignore[attr-defined]
            words = str(text).lower()
            vector = [1.0 if word in words else 0.0 for word in vocabulary]
            vector[0] += vector[1]  # a puppy is a dog
            vectors.append([*vector, 0.01])
        return vectors

    with SqliteKnowledgeIndex(tmp_path / "dense.db") as index:
        store = MemoryStore(index, embed=embed, dense_weight=0.5)
        store.remember(ALICE, facts(ALICE, "The user got a puppy", "The user drinks tea"))

        assert recalled_texts(store, ALICE, "dog", k=1) == ["The user got a puppy"]
