"""A bot remembers its end users across conversations: learned after a turn, recalled into the prompt."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from builder.conversations.models import Run, RunStep
from builder.knowledge.index_store import reset_knowledge_index
from builder.memory.core.extraction import EXTRACTION_PROMPT
from tests.conversations.conftest import use_fake_model
from tests.memory.django.conftest import (
    api_key,
    chat,
    end_user_of,
    new_workspace,
    published_bot,
    remembered,
    remembering_llm_bot,
    turn,
    wait_for_facts,
)
from tests.support.fake_openai import Error, FakeOpenAI, Reply

pytestmark = pytest.mark.django_db(transaction=True)

MOVED = "I moved to Shanghai last month and I have a cat called Mochi"


def _system_prompt(request: Any) -> str:
    return str(request.text("system"))


def test_a_new_conversation_recalls_what_the_user_said_in_an_earlier_one(fake_openai: FakeOpenAI) -> None:
    workspace, owner = new_workspace()
    use_fake_model(workspace, owner, fake_openai)
    bot = published_bot(workspace, remembering_llm_bot())
    key, _raw = api_key(workspace)
    fake_openai.script([Reply("Congratulations on the move!"), Reply("You live in Shanghai."), Reply("No idea.")])

    first = turn(key, chat(key, bot, "alice"), MOVED)
    assert first.status == Run.Status.FINISHED, first.error
    facts = wait_for_facts(bot, end_user_of(key, "alice"), "The user moved to Shanghai", "The user has a cat")
    assert all(fact.source_turn_ids for fact in facts)

    second = turn(key, chat(key, bot, "alice"), "where do I live?")
    assert second.status == Run.Status.FINISHED, second.error
    system = _system_prompt(fake_openai.requests[1])
    assert system.startswith("Be brief.\n\n<user_memory>\n")
    assert "- The user moved to Shanghai" in system and "</user_memory>" in system
    assert fake_openai.requests[1].text("user").endswith("where do I live?")
    # The trace says what was recalled.
    step = RunStep.objects.get(run=second, node_id="llm")
    assert "The user moved to Shanghai" in step.inputs["long_term_memory"]

    # Another end user of the same bot, through the same key, knows nothing of Alice.
    third = turn(key, chat(key, bot, "bob"), "where do I live?")
    assert third.status == Run.Status.FINISHED, third.error
    assert "Shanghai" not in fake_openai.requests[2].text()
    assert "<user_memory>" not in _system_prompt(fake_openai.requests[2])
    assert RunStep.objects.get(run=third, node_id="llm").inputs["long_term_memory"] == []


def test_a_bot_without_memory_neither_learns_nor_recalls(fake_openai: FakeOpenAI) -> None:
    workspace, owner = new_workspace()
    use_fake_model(workspace, owner, fake_openai)
    document = remembering_llm_bot()
    document["settings"]["memory"]["enabled"] = False
    bot = published_bot(workspace, document)

    turn(owner, chat(owner, bot), MOVED)
    turn(owner, chat(owner, bot), "where do I live?")

    assert remembered(bot, str(owner.pk)) == []
    assert "<user_memory>" not in _system_prompt(fake_openai.last)


def test_the_builders_debug_chat_remembers_the_builder(fake_openai: FakeOpenAI) -> None:
    workspace, owner = new_workspace()
    use_fake_model(workspace, owner, fake_openai)
    bot = published_bot(workspace, remembering_llm_bot())

    turn(owner, chat(owner, bot), "I live in Berlin.")  # no end user named: the builder is the end user
    wait_for_facts(bot, str(owner.pk), "The user lives in Berlin")
    turn(owner, chat(owner, bot), "Any tips for my city?")

    assert "- The user lives in Berlin" in _system_prompt(fake_openai.last)


def test_the_bots_model_extracts_facts_when_the_bot_asks_for_it(fake_openai: FakeOpenAI) -> None:
    workspace, owner = new_workspace()
    use_fake_model(workspace, owner, fake_openai)
    bot = published_bot(workspace, remembering_llm_bot(llm_extraction=True))
    key, _raw = api_key(workspace)
    extracted = {
        "facts": [
            {"text": "The user moved to Shanghai", "kind": "profile", "key": "home_city", "value": "Shanghai"},
            {"text": "The user's cat is called Mochi", "kind": "relation", "key": "pet_name", "value": "Mochi"},
        ]
    }
    fake_openai.script([Reply("Nice!"), Reply(json=extracted, usage=(321, 45))])

    run = turn(key, chat(key, bot, "alice"), MOVED)

    alice = end_user_of(key, "alice")
    facts = wait_for_facts(bot, alice, "The user moved to Shanghai", "The user's cat is called Mochi")
    assert {fact.key for fact in facts} == {"home_city", "pet_name"}
    extraction = fake_openai.requests[1]
    assert extraction.text("system") == EXTRACTION_PROMPT and MOVED in extraction.text("user")
    # The extraction's tokens are counted on the run that caused them, beside the run's own.
    run.refresh_from_db()
    counted = run.usage["memory_extraction"]
    assert (counted["prompt_tokens"], counted["completion_tokens"], counted["total_tokens"]) == (321, 45, 366)
    assert run.usage["total_tokens"] not in (0, 366)


def test_a_failing_extraction_model_leaves_the_turn_alone_and_the_rules_take_over(fake_openai: FakeOpenAI) -> None:
    workspace, owner = new_workspace()
    use_fake_model(workspace, owner, fake_openai)
    bot = published_bot(workspace, remembering_llm_bot(llm_extraction=True))
    key, _raw = api_key(workspace)
    fake_openai.script([Reply("Nice!"), Error(500, "the extraction model is down")])

    run = turn(key, chat(key, bot, "alice"), MOVED)

    assert run.status == Run.Status.FINISHED and run.answer == "Nice!"
    wait_for_facts(bot, end_user_of(key, "alice"), "The user moved to Shanghai")


@pytest.mark.skipif(not settings.EMBEDDED, reason="breaks this process's index; the worker has its own")
def test_a_broken_memory_index_fails_neither_the_turn_nor_the_recall(
    fake_openai: FakeOpenAI, settings: Any, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    workspace, owner = new_workspace()
    use_fake_model(workspace, owner, fake_openai)
    bot = published_bot(workspace, remembering_llm_bot())
    (tmp_path / "not-a-directory").write_text("")
    settings.KNOWLEDGE_INDEX_PATH = tmp_path / "not-a-directory" / "index.sqlite3"
    reset_knowledge_index()
    try:
        first = turn(owner, chat(owner, bot), MOVED)
        second = turn(owner, chat(owner, bot), "where do I live?")
        from builder.core.background import wait_for_background

        assert wait_for_background()
    finally:
        reset_knowledge_index()

    assert first.status == second.status == Run.Status.FINISHED
    assert RunStep.objects.get(run=second, node_id="llm").inputs["long_term_memory"] == []
    assert "recalling memories" in caplog.text and "background task memory.learn_from_turn" in caplog.text
