"""The parameter_extractor node: typed parameters out of free text, with __is_success and __reason."""

from __future__ import annotations

from builder.engine.runtime.contract import RuntimeServices
from tests.engine.nodes.support import ServerModels, StubContext, run_node
from tests.support.fake_openai import FakeOpenAI, Reply

MODEL = {"provider": "fake", "name": "gpt-4o-mini"}
CONFIG = {
    "model": MODEL,
    "query": {"ref": ["sys", "query"]},
    "instructions": "Dates are in {{ sys.user_id }}'s time zone.",
    "parameters": [
        {"name": "city", "type": "string", "description": "Destination city", "required": True},
        {"name": "nights", "type": "integer", "required": True},
        {"name": "budget", "type": "number"},
        {"name": "extras", "type": "array[string]"},
        {"name": "breakfast", "type": "boolean"},
    ],
}


def context(server: FakeOpenAI) -> StubContext:
    return StubContext(
        RuntimeServices(chat_models=ServerModels(server)),
        sys={"query": "Book 3 nights in Lisbon, up to 450 euros, with parking", "user_id": "ada"},
    )


async def test_extracts_typed_parameters(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        [Reply(json={"city": "Lisbon", "nights": "3", "budget": 450, "extras": ["parking"], "breakfast": "false"})]
    )

    result = await run_node("parameter_extractor", CONFIG, context(fake_openai))

    assert result.outputs == {
        "city": "Lisbon",
        "nights": 3,
        "budget": 450,
        "extras": ["parking"],
        "breakfast": False,
        "__is_success": True,
        "__reason": "",
    }
    request = fake_openai.last
    assert request.messages[-1]["content"] == "Book 3 nights in Lisbon, up to 450 euros, with parking"
    assert "Dates are in ada's time zone." in request.text("system")
    schema = request.response_format["json_schema"]["schema"]  # type: ignore[index]
    assert "required" not in schema  # the model may leave out what the text does not say
    assert schema["properties"]["nights"] == {"type": "integer", "description": "(required)"}
    assert schema["properties"]["city"]["description"] == "Destination city (required)"
    assert schema["properties"]["extras"] == {"type": "array", "items": {"type": "string"}}


async def test_a_missing_required_parameter_is_not_a_success(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(json={"city": "Lisbon", "__reason": "The number of nights is not given."})])

    result = await run_node("parameter_extractor", CONFIG, context(fake_openai))

    assert result.outputs["city"] == "Lisbon"
    assert result.outputs["nights"] is None
    assert result.outputs["__is_success"] is False
    assert result.outputs["__reason"] == "The number of nights is not given."


async def test_a_wrongly_typed_value_is_dropped_and_explained(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(json={"city": "Lisbon", "nights": "three"})])

    result = await run_node("parameter_extractor", CONFIG, context(fake_openai))

    assert result.outputs["nights"] is None
    assert result.outputs["__is_success"] is False
    assert result.outputs["__reason"] == "nights is not of type integer"


async def test_an_unreadable_answer_fails_softly(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(text="Lisbon, 3 nights")])

    result = await run_node("parameter_extractor", CONFIG, context(fake_openai))

    assert result.outputs["__is_success"] is False
    assert result.outputs["city"] is None
    assert "expected format" in result.outputs["__reason"]
    assert result.usage is not None and result.usage.completion_tokens > 0
