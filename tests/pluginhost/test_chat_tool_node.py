"""A bot's tool node calls a plugin tool through the host in a real turn; a failing tool fails the
node with the host's typed error, and the run ends cleanly.

The turn runs in this process (the example plugin is loaded into this process's host only), on
the mode's database.
"""

from __future__ import annotations

from typing import Any

import pytest

from builder.accounts.models import Workspace
from builder.bots.services import bot_publish
from builder.conversations.models import Run, RunStep
from builder.conversations.services import conversation_create, message_send
from builder.pluginhost.services import plugin_configure, plugin_enable
from tests.factories import make_bot, make_workspace, owner_of
from tests.support.graphs import linear_bot, node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("example_host")]


def _tool_bot(tool: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return linear_bot(
        node("start", "start", {"inputs": []}),
        node("tool", "tool", {"plugin": "example", "tool": tool, "inputs": inputs}),
        node("answer", "answer", {"text": "{{ tool.result.text }} ({{ tool.result.region }})"}),
    )


def _turn(workspace: Workspace, graph: dict[str, Any], text: str) -> Run:
    owner = owner_of(workspace)
    bot = make_bot(workspace, draft=graph)
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    conversation = conversation_create(actor=owner, bot=bot)
    run = message_send(actor=owner, conversation=conversation, text=text)
    run.refresh_from_db()
    return run


@pytest.fixture
def inline_runs(settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.mark.usefixtures("inline_runs")
def test_a_tool_node_answers_with_the_plugin_tools_result() -> None:
    workspace = make_workspace()
    owner = owner_of(workspace)
    plugin_configure(
        actor=owner, workspace=workspace, plugin_id="example", config={"api_key": "k-1234", "region": "eu"}
    )
    plugin_enable(actor=owner, workspace=workspace, plugin_id="example")

    run = _turn(workspace, _tool_bot("echo", {"text": "{{ sys.query }}", "times": 2}), "hi")

    assert run.status == Run.Status.FINISHED, run.error
    assert run.answer == "hi hi (eu)"
    step = RunStep.objects.get(run=run, node_id="tool")
    assert step.outputs["result"] == {"text": "hi hi", "region": "eu"}
    progress = [event.data for event in run.events.filter(type="tool.progress")]
    assert [(item["tool"], item["percent"], item["note"]) for item in progress] == [
        ("example/echo", 50, "halfway"),
        ("example/echo", 100, "done"),
    ]


@pytest.mark.usefixtures("inline_runs")
def test_a_disabled_plugin_fails_the_node_with_a_typed_error() -> None:
    workspace = make_workspace()

    run = _turn(workspace, _tool_bot("echo", {"text": "hi"}), "hi")

    assert run.status == Run.Status.FAILED
    step = RunStep.objects.get(run=run, node_id="tool")
    assert step.status == "failed"
    assert step.error["code"] in {"plugin_disabled", "plugin_unavailable"}
