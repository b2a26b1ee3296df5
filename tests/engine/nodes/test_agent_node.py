"""The agent node: a tool-calling loop over plugin tools, knowledge bases and other bots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from builder.engine.runtime.contract import NodeContext, NodeError, RuntimeServices
from tests.engine.nodes.support import ServerModels, StubContext, run_node
from tests.support.fake_openai import FakeOpenAI, Reply, ToolCall

MODEL = {"provider": "fake", "name": "gpt-4o-mini"}
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
    "required": ["city"],
}


class Tools:
    """A tool service that also describes its tools (the optional ToolCatalog)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail = fail

    async def describe(self, plugin: str, tool: str) -> Mapping[str, Any] | None:
        if tool == "weather":
            return {"description": "Current weather in a city.", "input_schema": WEATHER_SCHEMA}
        return None

    async def invoke(self, plugin: str, tool: str, inputs: Mapping[str, Any], ctx: NodeContext) -> Any:
        self.calls.append((plugin, tool, dict(inputs)))
        if self.fail:
            raise RuntimeError("the weather service is down")
        return {"city": inputs.get("city"), "temperature": 21, "unit": inputs.get("unit", "C")}


class Knowledge:
    def __init__(self) -> None:
        self.queries: list[tuple[str, list[str], int, str]] = []

    async def retrieve(
        self, query: str, knowledge_bases: list[str], *, top_k: int, score_threshold: float, mode: str
    ) -> list[dict[str, Any]]:
        self.queries.append((query, knowledge_bases, top_k, mode))
        return [{"content": "Refunds take 5 days.", "score": 0.91, "document": "faq.md"}]


class Bots:
    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []

    async def run(self, bot_id: str, inputs: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        self.asked.append((bot_id, dict(inputs)))
        return {"answer": "Order 42 ships tomorrow.", "outputs": {}}


def context(server: FakeOpenAI, query: str = "What should I wear in Lisbon?", **services: Any) -> StubContext:
    return StubContext(RuntimeServices(chat_models=ServerModels(server), **services), sys={"query": query})


async def test_calls_a_tool_then_answers(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        [
            Reply(
                text="Let me check.",
                tool_calls=[ToolCall("weather", {"city": "Lisbon", "unit": "C"}, id="call_1")],
                split_fragments=True,
                usage=(50, 10),
            ),
            Reply(text="It is 21 °C: a t-shirt will do.", usage=(80, 9)),
        ]
    )
    tools = Tools()
    ctx = context(fake_openai, tools=tools)
    config = {"model": MODEL, "instructions": "You dress people.", "tools": [{"plugin": "meteo", "tool": "weather"}]}

    result = await run_node("agent", config, ctx)

    assert tools.calls == [("meteo", "weather", {"city": "Lisbon", "unit": "C"})]
    # What the model said before calling the tool is part of the text, as it streamed.
    assert result.outputs["text"] == "Let me check.\n\nIt is 21 °C: a t-shirt will do."
    assert result.outputs["tool_calls"] == [
        {
            "id": "call_1",
            "name": "weather",
            "args": {"city": "Lisbon", "unit": "C"},
            "result": {"city": "Lisbon", "temperature": 21, "unit": "C"},
            "error": None,
            "kind": "tool",
            "target": "meteo/weather",
        }
    ]
    assert result.usage is not None and (result.usage.prompt_tokens, result.usage.completion_tokens) == (130, 19)

    first, second = fake_openai.requests
    assert first.tools == [
        {
            "type": "function",
            "function": {"name": "weather", "description": "Current weather in a city.", "parameters": WEATHER_SCHEMA},
        }
    ]
    assert first.messages == [
        {"role": "system", "content": "You dress people."},
        {"role": "user", "content": "What should I wear in Lisbon?"},
    ]
    assert second.messages[2]["tool_calls"][0]["function"]["name"] == "weather"
    assert second.messages[3] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"city": "Lisbon", "temperature": 21, "unit": "C"}',
    }
    assert ctx.deltas_with("tool_call") == [
        {"id": "call_1", "name": "weather", "args": {"city": "Lisbon", "unit": "C"}}
    ]
    assert ctx.deltas_with("tool_result")[0]["name"] == "weather"
    assert ctx.deltas_with("iteration") == [1, 2]
    assert ctx.streamed_text == result.outputs["text"]


async def test_knowledge_and_other_bots_are_tools_run_together(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        [
            Reply(
                tool_calls=[
                    ToolCall("search_knowledge", {"query": "refund delay"}, id="k"),
                    ToolCall("ask_bot_1", {"query": "When does order 42 ship?"}, id="b"),
                ],
                split_fragments=True,
            ),
            Reply(text="Refunds take 5 days; your order ships tomorrow."),
        ]
    )
    knowledge, bots = Knowledge(), Bots()
    ctx = context(fake_openai, "Refund and order 42?", knowledge=knowledge, sub_bots=bots)
    config = {"model": MODEL, "knowledge_bases": ["kb-faq", "kb-policies"], "bots": ["bot-orders"]}

    result = await run_node("agent", config, ctx)

    assert knowledge.queries == [("refund delay", ["kb-faq", "kb-policies"], 5, "hybrid")]
    assert bots.asked == [("bot-orders", {"query": "When does order 42 ship?"})]
    assert [call["kind"] for call in result.outputs["tool_calls"]] == ["knowledge", "bot"]
    assert result.outputs["tool_calls"][1]["result"] == "Order 42 ships tomorrow."
    assert fake_openai.requests[0].tool_names == ["search_knowledge", "ask_bot_1"]
    tool_messages = [m for m in fake_openai.last.messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["k", "b"]
    assert result.outputs["text"] == "Refunds take 5 days; your order ships tomorrow."


async def test_hitting_max_iterations_asks_for_an_answer_without_tools(fake_openai: FakeOpenAI) -> None:
    keeps_calling = Reply(tool_calls=[ToolCall("weather", {"city": "Lisbon"})])
    fake_openai.script([keeps_calling, keeps_calling, Reply(text="Wear layers.")])
    tools = Tools()
    ctx = context(fake_openai, tools=tools)
    config = {"model": MODEL, "tools": [{"plugin": "meteo", "tool": "weather"}], "max_iterations": 2}

    result = await run_node("agent", config, ctx)

    assert fake_openai.request_count == 3
    assert len(tools.calls) == 2
    assert fake_openai.requests[1].tools and not fake_openai.last.tools
    final_prompt = fake_openai.last.text()
    assert "[called weather with" in final_prompt and "You have used all the tool calls" in final_prompt
    assert all(m["role"] in ("user", "assistant") for m in fake_openai.last.messages)
    assert ctx.deltas_with("max_iterations_reached") == [2]
    assert result.outputs["text"] == "Wear layers."
    assert len(result.outputs["tool_calls"]) == 2


async def test_a_failing_tool_is_reported_to_the_model(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        [Reply(tool_calls=[ToolCall("weather", {"city": "Lisbon"}, id="w")]), Reply(text="I could not check.")]
    )
    ctx = context(fake_openai, tools=Tools(fail=True))

    result = await run_node("agent", {"model": MODEL, "tools": [{"plugin": "meteo", "tool": "weather"}]}, ctx)

    assert result.outputs["tool_calls"][0]["error"] == "RuntimeError: the weather service is down"
    tool_message = fake_openai.last.messages[-1]
    assert tool_message["role"] == "tool" and tool_message["content"].startswith("Error: RuntimeError")
    assert ctx.deltas_with("tool_result") == [
        {"id": "w", "name": "weather", "error": "RuntimeError: the weather service is down"}
    ]
    assert result.outputs["text"] == "I could not check."


async def test_arguments_that_are_not_json_are_sent_back_as_an_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        [
            Reply(tool_calls=[ToolCall("weather", '{"city": Lisbon}', id="w")], split_fragments=True),
            Reply(tool_calls=[ToolCall("weather", {"city": "Lisbon"}, id="w2")]),
            Reply(text="21 °C."),
        ]
    )
    tools = Tools()
    ctx = context(fake_openai, tools=tools)

    result = await run_node("agent", {"model": MODEL, "tools": [{"plugin": "meteo", "tool": "weather"}]}, ctx)

    assert tools.calls == [("meteo", "weather", {"city": "Lisbon"})]
    first, second = result.outputs["tool_calls"]
    assert first["error"] == 'The arguments are not valid JSON: {"city": Lisbon}'
    assert second["error"] is None
    reply_to_broken = fake_openai.requests[1].messages[-1]
    assert reply_to_broken["tool_call_id"] == "w" and reply_to_broken["content"].startswith("Error: ")
    assert result.outputs["text"] == "21 °C."


async def test_an_undescribed_tool_takes_free_form_arguments_and_unknown_names_are_errors(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.script([Reply(tool_calls=[ToolCall("teleport", {"to": "Mars"}, id="t")]), Reply(text="Sorry.")])
    ctx = context(fake_openai, tools=Tools())

    result = await run_node("agent", {"model": MODEL, "tools": [{"plugin": "video.gen", "tool": "make clip"}]}, ctx)

    assert fake_openai.requests[0].tools[0]["function"] == {
        "name": "make_clip",
        "description": "The make clip tool of the video.gen plugin.",
        "parameters": {"type": "object", "additionalProperties": True},
    }
    assert result.outputs["tool_calls"][0]["error"] == "There is no tool named teleport."


async def test_the_query_template_overrides_the_user_message(fake_openai: FakeOpenAI) -> None:
    ctx = StubContext(
        RuntimeServices(chat_models=ServerModels(fake_openai)),
        outputs={"start": {"topic": "tides"}},
        sys={"query": "hi"},
    )

    result = await run_node("agent", {"model": MODEL, "query": "Explain {{ start.topic }}."}, ctx)

    assert fake_openai.last.messages == [{"role": "user", "content": "Explain tides."}]
    assert not fake_openai.last.tools
    assert result.outputs == {"text": "Hello from the fake model.", "tool_calls": []}


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({"tools": [{"plugin": "p", "tool": "t"}]}, "plugin"),
        ({"knowledge_bases": ["kb"]}, "knowledge bases"),
        ({"bots": ["b"]}, "bots"),
    ],
)
async def test_missing_services_are_not_configured(
    fake_openai: FakeOpenAI, config: dict[str, Any], missing: str
) -> None:
    with pytest.raises(NodeError) as caught:
        await run_node("agent", {"model": MODEL, **config}, context(fake_openai))

    assert caught.value.code == "not_configured"
    assert missing in caught.value.message
    assert fake_openai.request_count == 0
