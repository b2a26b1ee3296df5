"""User variables follow an end user from conversation to conversation, and only them."""

from __future__ import annotations

import time
from typing import Any

import pytest

from builder.bots.services import bot_draft_save
from builder.memory.models import EndUser
from tests.conversations.conftest import use_fake_model
from tests.factories import client_for, error_of
from tests.memory.django.conftest import api_key, chat, end_user_of, graph, new_workspace, node, published_bot, turn
from tests.support.fake_openai import FakeOpenAI, Reply, ToolCall

pytestmark = pytest.mark.django_db(transaction=True)

VARIABLES: list[dict[str, Any]] = [
    {"name": "city", "type": "string", "scope": "user", "default": "unknown"},
    {"name": "visits", "type": "number", "scope": "user", "default": 0},
    {"name": "topic", "type": "string", "scope": "conversation", "default": ""},
]


def counting_bot() -> dict[str, Any]:
    """Counts the end user's visits and says where they live (both user variables)."""
    return graph(
        node("start", "start", {"inputs": []}),
        node(
            "count", "variable_assign", {"assignments": [{"variable": "user.visits", "value": "{{ user.visits + 1 }}"}]}
        ),
        node("reply", "template", {"template": "city={{ user.city }} visits={{ user.visits }}"}),
        node("answer", "answer", {"text": "{{ reply.text }}"}),
        variables=VARIABLES,
    )


def _end_user(bot: Any, key: Any, name: str, timeout_s: float = 60.0) -> EndUser:
    """The end user's row, once the run's executor has stored it: it writes the user variables just
    after the run's terminal event, which is what ``turn`` waits for."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = EndUser.objects.filter(bot=bot, end_user_id=end_user_of(key, name)).first()
        if found is not None or time.monotonic() > deadline:
            assert found is not None, f"no end user {name!r} after {timeout_s:g} s"
            return found
        time.sleep(0.05)


def test_user_variables_persist_across_conversations_and_stay_with_their_end_user() -> None:
    workspace, _owner = new_workspace()
    bot = published_bot(workspace, counting_bot())
    key, _raw = api_key(workspace)

    assert turn(key, chat(key, bot, "alice"), "hi").answer == "city=unknown visits=1"
    assert turn(key, chat(key, bot, "alice"), "hi again").answer == "city=unknown visits=2"
    assert turn(key, chat(key, bot, "bob"), "hello").answer == "city=unknown visits=1"

    # Only what was set is stored (the defaults fill the rest at run time).
    assert _end_user(bot, key, "alice").variables == {"visits": 2}
    assert _end_user(bot, key, "bob").variables == {"visits": 1}
    assert _end_user(bot, key, "alice").last_seen_at is not None


def test_the_builder_reads_and_edits_an_end_users_variables() -> None:
    workspace, owner = new_workspace()
    bot = published_bot(workspace, counting_bot())
    key, _raw = api_key(workspace)
    turn(key, chat(key, bot, "alice"), "hi")
    alice = _end_user(bot, key, "alice")
    client = client_for(owner)
    url = f"/api/v1/bots/{bot.pk}/end-users/{alice.pk}/variables"

    listed = client.get(url)
    assert listed.status_code == 200, listed.content
    assert listed.json() == [
        {
            "name": "city",
            "type": "string",
            "description": "",
            "default": "unknown",
            "value": "unknown",
            "is_set": False,
        },
        {"name": "visits", "type": "number", "description": "", "default": 0, "value": 1, "is_set": True},
    ]

    edited = client.patch(url, {"values": {"city": "Paris", "visits": "10"}}, format="json")
    assert edited.status_code == 200, edited.content
    assert {item["name"]: item["value"] for item in edited.json()} == {"city": "Paris", "visits": 10}
    assert turn(key, chat(key, bot, "alice"), "back").answer == "city=Paris visits=11"

    unknown = client.patch(url, {"values": {"nickname": "Al", "topic": "x"}}, format="json")
    assert unknown.status_code == 400
    assert set(error_of(unknown)["fields"]) == {"values.nickname", "values.topic"}  # conversation variables too
    wrong_type = client.patch(url, {"values": {"visits": "many"}}, format="json")
    assert wrong_type.status_code == 400 and set(error_of(wrong_type)["fields"]) == {"values.visits"}
    assert _end_user(bot, key, "alice").variables == {"city": "Paris", "visits": 11}


def test_stored_values_that_no_longer_fit_the_declaration_give_way_to_the_default() -> None:
    workspace, _owner = new_workspace()
    bot = published_bot(workspace, counting_bot())
    key, _raw = api_key(workspace)
    stored = {"visits": "lots", "city": "Rome", "gone": 1}
    EndUser.objects.create(bot=bot, end_user_id=end_user_of(key, "alice"), variables=stored)

    assert turn(key, chat(key, bot, "alice"), "hi").answer == "city=Rome visits=1"
    assert _end_user(bot, key, "alice").variables == {"visits": 1, "city": "Rome", "gone": 1}


def test_the_agent_sets_a_user_variable_with_its_tool(fake_openai: FakeOpenAI) -> None:
    workspace, owner = new_workspace()
    use_fake_model(workspace, owner, fake_openai)
    document = graph(
        node("start", "start", {"inputs": []}),
        node("agent", "agent", {"user_variables": [{"variable": "user.city"}]}),
        node("answer", "answer", {"text": "{{ agent.text }} (city: {{ user.city }})"}),
        variables=VARIABLES,
    )
    bot = published_bot(workspace, document)
    fake_openai.script(
        [
            Reply(tool_calls=[ToolCall("set_user_variable", {"name": "city", "value": "Lyon"})]),
            Reply("I will remember that you live in Lyon."),
        ]
    )

    run = turn(owner, chat(owner, bot), "I live in Lyon")

    assert run.answer == "I will remember that you live in Lyon. (city: Lyon)"
    first = fake_openai.requests[0]
    tool = next(tool for tool in first.tools if tool["function"]["name"] == "set_user_variable")
    assert tool["function"]["parameters"]["properties"]["name"]["enum"] == ["city"]
    assert EndUser.objects.get(bot=bot, end_user_id=str(owner.pk)).variables == {"city": "Lyon"}


def test_the_agent_may_only_be_given_declared_user_variables() -> None:
    workspace, owner = new_workspace()
    bot = published_bot(workspace, counting_bot())
    document = graph(
        node("start", "start", {"inputs": []}),
        node("agent", "agent", {"user_variables": [{"variable": "user.nickname"}]}),
        node("answer", "answer", {"text": "{{ agent.text }}"}),
        variables=VARIABLES,
    )

    _saved, problems = bot_draft_save(actor=owner, bot=bot, draft=document, revision=bot.draft_revision)

    assert [(problem.node_id, problem.field) for problem in problems] == [
        ("agent", "data.user_variables.0.variable")
    ], problems
