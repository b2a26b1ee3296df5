"""Plugin tools are LangChain tools, and LangChain tools become plugin tools."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, StructuredTool, ToolException, tool
from pydantic import BaseModel, Field

from builder.engine.runtime.contract import HttpResponse
from builder.sdk import PluginContext, ToolError, ToolSpec, from_langchain_tool, run_tool, to_langchain_tool


class NoHttp:
    async def request(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        raise AssertionError("no HTTP here")


CTX = PluginContext(plugin_id="maths", http=NoHttp())


class AddInput(BaseModel):
    a: int = Field(description="The first number.")
    b: int = Field(description="The second number.")


class AddOutput(BaseModel):
    total: int


async def add(data: AddInput, ctx: PluginContext) -> AddOutput:
    if data.a < 0:
        raise ToolError("Only natural numbers.", code="negative")
    if data.a == 99:
        await asyncio.sleep(3600)
    return AddOutput(total=data.a + data.b)


ADD = ToolSpec(
    name="add", description="Add two numbers.", input_model=AddInput, output_model=AddOutput, invoke=add, timeout_s=0.2
)


async def test_a_plugin_tool_is_a_structured_tool_with_its_schema() -> None:
    langchain_tool = to_langchain_tool(ADD, CTX)

    assert isinstance(langchain_tool, BaseTool)
    assert langchain_tool.name == "add" and langchain_tool.description == "Add two numbers."
    assert langchain_tool.args == {
        "a": {"description": "The first number.", "title": "A", "type": "integer"},
        "b": {"description": "The second number.", "title": "B", "type": "integer"},
    }
    assert await langchain_tool.ainvoke({"a": 2, "b": 3}) == {"total": 5}


async def test_its_errors_and_timeouts_reach_the_model_as_the_tool_result() -> None:
    langchain_tool = to_langchain_tool(ADD, CTX)

    refused = await langchain_tool.ainvoke(
        {"type": "tool_call", "id": "call_1", "name": "add", "args": {"a": -1, "b": 1}}
    )
    timed_out = await langchain_tool.ainvoke({"a": 99, "b": 1})

    assert isinstance(refused, ToolMessage)
    assert (refused.status, refused.content) == ("error", "Only natural numbers.")
    assert timed_out == "The add tool did not finish within 0.2 seconds."


async def test_a_langchain_tool_becomes_a_plugin_tool() -> None:
    @tool
    def multiply(a: int, b: int) -> int:
        """Multiply two numbers."""
        return a * b

    spec = from_langchain_tool(multiply)

    assert (spec.name, spec.description) == ("multiply", "Multiply two numbers.")
    assert spec.input_schema()["required"] == ["a", "b"]
    assert (await run_tool(spec, {"a": 6, "b": 7}, CTX)).model_dump() == {"result": 42}
    with pytest.raises(ToolError) as caught:
        await run_tool(spec, {"a": "six"}, CTX)
    assert caught.value.code == "invalid_tool_input"


async def test_a_tool_exception_is_a_tool_error_and_names_are_made_valid() -> None:
    def lookup(city: str) -> str:
        raise ToolException(f"{city} is not on the map")

    weird = StructuredTool.from_function(func=lookup, name="City Lookup!", description="Find a city.")

    spec = from_langchain_tool(weird)

    assert spec.name == "city_lookup"
    with pytest.raises(ToolError) as caught:
        await run_tool(spec, {"city": "Atlantis"}, CTX)
    assert (caught.value.code, caught.value.message) == ("tool_error", "Atlantis is not on the map")
    with pytest.raises(ValueError, match="pass name="):
        from_langchain_tool(StructuredTool.from_function(func=lookup, name="123", description="x"))


async def test_the_two_conversions_round_trip() -> None:
    back = from_langchain_tool(to_langchain_tool(ADD, CTX))

    assert (await run_tool(back, {"a": 1, "b": 2}, CTX)).model_dump() == {"result": {"total": 3}}
