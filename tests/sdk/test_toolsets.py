"""The SDK's pieces for tools listed at run time: inputs defined by a JSON Schema, stable tool
names, and such tools as LangChain tools."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from builder.core.ssrf import SsrfSafeHttpClient
from builder.sdk import PluginContext, ToolError, ToolSet, ToolSpec, json_schema_model, to_langchain_tool
from builder.sdk import unique_tool_name as name_of
from builder.sdk.execution import run_tool

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "minLength": 1}, "days": {"type": "integer", "maximum": 7}},
    "required": ["city"],
}


class Forecast(BaseModel):
    summary: str


async def forecast(data: BaseModel, ctx: PluginContext) -> Forecast:
    values = data.model_dump()
    return Forecast(summary=f"{values['city']}: sunny for {values.get('days', 1)} days")


def tool() -> ToolSpec[Any, Forecast]:
    model = json_schema_model("forecast", SCHEMA)
    return ToolSpec(
        name="forecast", description="The forecast.", input_model=model, output_model=Forecast, invoke=forecast
    )


def ctx() -> PluginContext:
    return PluginContext(plugin_id="weather", http=SsrfSafeHttpClient())


def test_a_json_schema_model_is_its_schema_and_validates_with_it() -> None:
    model = json_schema_model("forecast", SCHEMA)

    parsed = model.model_validate({"city": "Lyon", "days": 3, "extra": True})

    assert model.model_json_schema() == SCHEMA
    assert parsed.model_dump() == {"city": "Lyon", "days": 3, "extra": True}
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        json_schema_model("bad", {"type": "object", "properties": {"x": {"type": "nope"}}})
    with pytest.raises(ValueError, match="is an object"):
        json_schema_model("bad", {"type": "string"})


async def test_a_json_schema_tool_reports_the_fields_that_do_not_fit() -> None:
    with pytest.raises(ToolError) as caught:
        await run_tool(tool(), {"city": "", "days": 9}, ctx())

    assert caught.value.code == "invalid_tool_input"
    assert caught.value.details["fields"] == {
        "city": ["'' should be non-empty"],
        "days": ["9 is greater than the maximum of 7"],
    }


async def test_a_json_schema_tool_is_a_langchain_tool_with_that_schema() -> None:
    langchain_tool = to_langchain_tool(tool(), ctx())

    answer = await langchain_tool.ainvoke({"city": "Lyon", "days": 2})
    refused = await langchain_tool.ainvoke({"days": 2})

    assert langchain_tool.args_schema == SCHEMA
    assert answer == {"summary": "Lyon: sunny for 2 days"}
    assert refused == "Invalid input for the forecast tool: input: 'city' is a required property"


def test_tool_names_from_foreign_names_are_valid_unique_and_stable() -> None:
    taken: set[str] = set()

    names = [
        name_of(raw, taken, prefix="pets")
        for raw in ("findPetsByStatus", "GET /pet/{petId}", "findPetsByStatus", "HTTPServerList", "42", "é" * 80)
    ]

    assert names == [
        "pets__find_pets_by_status",
        "pets__get_pet_pet_id",
        "pets__find_pets_by_status_2",
        "pets__http_server_list",
        "pets__tool",
        "pets__" + "e" * 58,
    ]


def test_a_tool_set_is_checked_when_it_is_made() -> None:
    async def list_tools(ctx: PluginContext) -> list[ToolSpec[Any, Any]]:
        return []

    def not_async(ctx: PluginContext) -> list[ToolSpec[Any, Any]]:
        return []

    with pytest.raises(ValueError, match="Tool set name"):
        ToolSet(name="Bad Name", description="x", list_tools=list_tools)
    with pytest.raises(TypeError, match="async"):
        ToolSet(name="ok", description="x", list_tools=not_async)  # type: ignore[arg-type]
