"""Consolidation: repeats are not stored twice, a changed fact replaces the old one, history stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from builder.memory.core import CandidateFact, FactKind, MemoryFact, MemoryScope, consolidate

SCOPE = MemoryScope("bot-1", "user-1")
MAY = datetime(2026, 5, 1, tzinfo=UTC)
JUNE = datetime(2026, 6, 1, tzinfo=UTC)


def lives_in(city: str, when: datetime = MAY) -> CandidateFact:
    return CandidateFact(f"The user lives in {city}", FactKind.PROFILE, "home_city", city, when)


def stored(candidates: list[CandidateFact], now: datetime = MAY) -> list[MemoryFact]:
    return consolidate([], candidates, scope=SCOPE, now=now).added


def test_new_facts_are_added() -> None:
    changes = consolidate([], [lives_in("Beijing"), CandidateFact("The user likes tea")], scope=SCOPE, now=MAY)

    assert [fact.text for fact in changes.added] == ["The user lives in Beijing", "The user likes tea"]
    assert all(fact.is_current and fact.scope == SCOPE for fact in changes.added)
    assert changes.superseded == [] and changes.refreshed == []


def test_same_text_is_a_repeat_that_refreshes_the_fact() -> None:
    existing = stored([CandidateFact("The user likes tea.", source_turn_ids=("t1",))])

    changes = consolidate(
        existing,
        [CandidateFact("the user LIKES tea", observed_at=JUNE, source_turn_ids=("t7",))],
        scope=SCOPE,
        now=JUNE,
    )

    assert changes.added == [] and changes.superseded == []
    [refreshed] = changes.refreshed
    assert refreshed.id == existing[0].id
    assert refreshed.text == "The user likes tea."
    assert refreshed.updated_at == JUNE and refreshed.observed_at == JUNE
    assert refreshed.source_turn_ids == ("t1", "t7")


def test_same_key_and_value_in_other_words_is_a_repeat() -> None:
    existing = stored([lives_in("Beijing")])

    changes = consolidate(
        existing,
        [CandidateFact("The user is based in beijing", FactKind.PROFILE, "home_city", "Beijing", JUNE)],
        scope=SCOPE,
        now=JUNE,
    )

    assert changes.added == [] and [fact.id for fact in changes.refreshed] == [existing[0].id]


def test_a_move_supersedes_the_old_home_and_keeps_it_as_history() -> None:
    [beijing] = stored([lives_in("Beijing")])

    changes = consolidate(
        [beijing],
        [CandidateFact("The user moved to Shanghai", FactKind.PROFILE, "home_city", "Shanghai", JUNE)],
        scope=SCOPE,
        now=JUNE,
    )

    [shanghai] = changes.added
    [old] = changes.superseded
    assert shanghai.is_current and shanghai.text == "The user moved to Shanghai"
    assert old.id == beijing.id and old.text == beijing.text and old.superseded_by == shanghai.id


def test_an_older_observation_does_not_replace_a_newer_one() -> None:
    [shanghai] = stored([lives_in("Shanghai", JUNE)], now=JUNE)

    changes = consolidate([shanghai], [lives_in("Beijing", MAY)], scope=SCOPE, now=JUNE + timedelta(days=1))

    [beijing] = changes.added
    assert beijing.superseded_by == shanghai.id
    assert changes.superseded == []


def test_within_one_turn_the_last_value_wins() -> None:
    changes = consolidate([], [lives_in("Beijing"), lives_in("Shanghai")], scope=SCOPE, now=MAY)

    current = [fact.text for fact in changes.added if fact.is_current]
    assert current == ["The user lives in Shanghai"]
    assert len(changes.added) == 2 and changes.superseded == []


def test_superseded_facts_are_not_matched_again() -> None:
    [beijing] = stored([lives_in("Beijing")])
    moved = consolidate([beijing], [lives_in("Shanghai", JUNE)], scope=SCOPE, now=JUNE)
    history = [*moved.superseded, *moved.added]

    back = consolidate(history, [lives_in("Beijing", JUNE + timedelta(days=30))], scope=SCOPE, now=JUNE)

    [again] = back.added
    assert again.is_current and again.id != beijing.id
    assert [fact.superseded_by for fact in back.superseded] == [again.id]
