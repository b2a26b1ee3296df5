"""The intent node: a model picks one intent (or other) and the node branches on it."""

from __future__ import annotations

import json

import pytest

from builder.engine.runtime.contract import NodeError, RuntimeServices
from tests.engine.nodes.support import ServerModels, StubContext, run_node
from tests.support.fake_openai import Error, FakeOpenAI, Reply

MODEL = {"provider": "fake", "name": "gpt-4o-mini"}
INTENTS = {
    "model": MODEL,
    "query": {"ref": ["sys", "query"]},
    "intents": [
        {"id": "refund", "name": "Refund", "description": "The customer wants money back."},
        {"id": "b7e1-track", "name": "Track order"},
    ],
}


def context(server: FakeOpenAI, query: str, **traits: str) -> StubContext:
    models = ServerModels(server, traits={"gpt-4o-mini": traits} if traits else None)
    return StubContext(RuntimeServices(chat_models=models), sys={"query": query})


async def test_the_recognised_intent_is_the_branch(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(json={"intent": "b7e1-track", "reason": "Asks where the parcel is."})])
    ctx = context(fake_openai, "Where is my parcel?")

    result = await run_node("intent", INTENTS, ctx)

    assert result.branch == "b7e1-track"
    assert result.outputs == {"intent": "Track order", "reason": "Asks where the parcel is."}
    assert result.inputs == {"query": "Where is my parcel?"}
    assert result.usage is not None and result.usage.total_tokens > 0
    assert ctx.deltas == []  # its JSON is not for the user

    request = fake_openai.last
    assert request.messages[-1] == {"role": "user", "content": "Where is my parcel?"}
    assert "id: refund; name: Refund; description: The customer wants money back." in request.text("system")
    schema = request.response_format["json_schema"]["schema"]  # type: ignore[index]
    assert schema["properties"]["intent"]["enum"] == ["refund", "b7e1-track", "other"]


async def test_no_matching_intent_takes_the_other_branch(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(json={"intent": "other", "reason": "Small talk."})])

    result = await run_node("intent", INTENTS, context(fake_openai, "Nice weather!"))

    assert result.branch == "other"
    assert result.outputs == {"intent": "other", "reason": "Small talk."}


async def test_json_mode_models_may_answer_with_the_name(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        [Reply(json={"intent": "refund ", "reason": "x"}), Reply(json={"intent": "REFUND", "reason": "y"})]
    )

    by_id = await run_node("intent", INTENTS, context(fake_openai, "Money back", structured_output="json_mode"))
    by_name = await run_node("intent", INTENTS, context(fake_openai, "Money back", structured_output="json_mode"))

    assert by_id.branch == by_name.branch == "refund"
    assert fake_openai.last.response_format == {"type": "json_object"}
    assert json.dumps(["refund", "b7e1-track", "other"]) in fake_openai.last.text("system")


async def test_an_unreadable_answer_is_other_with_the_reason(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(text="I think it is about refunds")])

    result = await run_node("intent", INTENTS, context(fake_openai, "Money back"))

    assert result.branch == "other"
    assert "expected format" in result.outputs["reason"]


async def test_an_unknown_intent_id_is_other(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(json={"intent": "cancel", "reason": "Wants to cancel."})])

    result = await run_node("intent", INTENTS, context(fake_openai, "Cancel it"))

    assert (result.branch, result.outputs["intent"]) == ("other", "other")


async def test_provider_failures_still_fail_the_node(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Error(503)])

    with pytest.raises(NodeError) as caught:
        await run_node("intent", INTENTS, context(fake_openai, "Hi"))

    assert (caught.value.code, caught.value.retryable) == ("model_error", True)
