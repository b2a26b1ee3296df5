"""Fact extraction: the rules in English and Chinese, and the model path against the fake server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage

from builder.llm.clients import ProviderSettings, build_chat_model
from builder.memory.core import CandidateFact, FactKind, TurnMessage, extract_facts, extract_facts_by_rules
from tests.support.fake_openai import Error, FakeOpenAI, Reply

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def facts_of(text: str) -> dict[str | None, CandidateFact]:
    return {fact.key: fact for fact in extract_facts_by_rules([TurnMessage("user", text)])}


def test_english_profile_facts() -> None:
    facts = facts_of("Hi! My name is Alice Smith. I live in Beijing and I work as a data engineer at Acme Corp.")

    assert facts["name"].text == "The user's name is Alice Smith"
    assert facts["home_city"].value == "Beijing"
    assert facts["job"].value == "data engineer"
    assert facts["employer"].value == "Acme Corp"
    assert {fact.kind for fact in facts.values()} == {FactKind.PROFILE}


def test_english_move_preferences_family_and_plans() -> None:
    facts = extract_facts_by_rules(
        [
            TurnMessage(
                "user",
                "I just moved to Shanghai last week. I love hiking in the mountains, but I hate coffee. "
                "My birthday is on March 3rd. My wife is called Mary. I have two cats. "
                "I'm planning to visit Japan next spring.",
            )
        ]
    )
    texts = {fact.text for fact in facts}

    assert texts >= {
        "The user moved to Shanghai",
        "The user loves hiking in the mountains",
        "The user hates coffee",
        "The user's birthday is March 3rd",
        "The user's wife is called Mary",
        "The user has two cats",
        "The user plans to visit Japan next spring",
    }
    by_text = {fact.text: fact for fact in facts}
    assert by_text["The user moved to Shanghai"].key == "home_city"
    assert by_text["The user hates coffee"].value == "dislikes"
    assert by_text["The user's wife is called Mary"].kind is FactKind.RELATION


def test_chinese_facts() -> None:
    facts = extract_facts_by_rules(
        [
            TurnMessage("user", "我叫李雷。我住在北京，我是一名软件工程师，我在腾讯工作。"),
            TurnMessage("user", "我刚搬到上海了！我很喜欢吃火锅，我讨厌下雨。我今年30岁，我的女儿叫小美。"),
        ]
    )
    by_text = {fact.text: fact for fact in facts}

    assert by_text["用户叫李雷"].key == "name"
    assert by_text["用户住在北京"].key == "home_city"
    assert by_text["用户搬到了上海"].value == "上海"
    assert by_text["用户是软件工程师"].key == "job"
    assert by_text["用户在腾讯工作"].key == "employer"
    assert by_text["用户喜欢吃火锅"].kind is FactKind.PREFERENCE
    assert by_text["用户讨厌下雨"].value == "dislikes"
    assert by_text["用户30岁"].key == "age"
    assert by_text["用户的女儿叫小美"].kind is FactKind.RELATION


def test_rules_only_read_the_user() -> None:
    assert extract_facts_by_rules([TurnMessage("assistant", "My name is Bot and I live in the cloud.")]) == []
    assert extract_facts_by_rules([TurnMessage("user", "What's the weather like in Paris?")]) == []


async def test_rules_when_there_is_no_model() -> None:
    facts = await extract_facts(
        [HumanMessage("I live in Berlin.", id="t1"), AIMessage("Nice city!", id="t2")], model=None, now=NOW
    )

    assert [(fact.text, fact.observed_at, fact.source_turn_ids) for fact in facts] == [
        ("The user lives in Berlin", NOW, ("t1", "t2"))
    ]


def model_of(server: FakeOpenAI) -> BaseChatModel:
    settings = ProviderSettings(
        kind="openai_compatible", base_url=server.base_url, api_key="sk-test", timeout_s=5.0, allow=("127.0.0.1",)
    )
    return build_chat_model(settings, "gpt-4o-mini")


async def test_model_extraction(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        [
            Reply(
                json={
                    "facts": [
                        {"text": "The user moved to Lisbon", "kind": "profile", "key": "Home City", "value": "Lisbon"},
                        {"text": "The user has a dog named Rex", "kind": "pet", "key": None, "value": None},
                    ]
                }
            )
        ]
    )
    turn = [{"role": "user", "content": "We finally moved to Lisbon with Rex, our dog.", "id": "turn-9"}]

    facts = await extract_facts(turn, model=model_of(fake_openai), now=NOW)

    assert facts == [
        CandidateFact("The user moved to Lisbon", FactKind.PROFILE, "home_city", "Lisbon", NOW, ("turn-9",)),
        CandidateFact("The user has a dog named Rex", FactKind.OTHER, None, None, NOW, ("turn-9",)),
    ]
    prompt = fake_openai.last.text()
    assert "durable facts" in prompt and "We finally moved to Lisbon" in prompt


async def test_model_answer_in_a_code_fence(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(text='```json\n{"facts": [{"text": "The user is vegan", "kind": "preference"}]}\n```')])

    facts = await extract_facts([TurnMessage("user", "I'm vegan")], model=model_of(fake_openai), now=NOW)

    assert [fact.text for fact in facts] == ["The user is vegan"]


@pytest.mark.parametrize(
    "reply",
    [
        Reply(text="Sure! The user lives in Oslo."),
        Reply(text='{"facts": [{"text": "The user lives in'),
        Reply(json={"facts": "none"}),
        Reply(json=[1, 2]),
    ],
    ids=["prose", "truncated", "wrong-shape", "not-an-object"],
)
async def test_bad_model_answer_falls_back_to_rules(fake_openai: FakeOpenAI, reply: Reply) -> None:
    fake_openai.script([reply])

    facts = await extract_facts([TurnMessage("user", "I live in Oslo.")], model=model_of(fake_openai), now=NOW)

    assert [fact.text for fact in facts] == ["The user lives in Oslo"]


async def test_failed_model_call_falls_back_to_rules(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Error(400)])

    facts = await extract_facts([TurnMessage("user", "I live in Oslo.")], model=model_of(fake_openai), now=NOW)

    assert [fact.text for fact in facts] == ["The user lives in Oslo"]


async def test_model_saying_nothing_is_remembered_is_believed(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(json={"facts": []})])

    facts = await extract_facts([TurnMessage("user", "I live in Oslo.")], model=model_of(fake_openai), now=NOW)

    assert facts == []
