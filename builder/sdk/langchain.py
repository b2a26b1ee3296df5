"""Plugin tools as LangChain tools, and LangChain tools as plugin tools.

``to_langchain_tool(spec, ctx)`` gives a ``StructuredTool`` any LangChain agent can call: its
arguments are the tool's input model, its result the output as JSON, and a ``ToolError`` reaches
the model as the tool's error message (``handle_tool_error``) rather than ending the agent.
``from_langchain_tool(tool)`` wraps any LangChain ``BaseTool`` (the community's search tools, a
``@tool`` function…) as a ``ToolSpec`` a plugin can register.
"""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field

from builder.sdk.context import PluginContext
from builder.sdk.errors import ToolError
from builder.sdk.execution import output_json, run_tool
from builder.sdk.tools import DEFAULT_TIMEOUT_S, TOOL_NAME, ToolSpec
from builder.sdk.toolsets import is_json_schema_model


def to_langchain_tool(spec: ToolSpec[Any, Any], ctx: PluginContext) -> StructuredTool:
    """``spec`` bound to ``ctx`` as a LangChain tool (same validation, timeout and errors as the host)."""

    async def call(**kwargs: Any) -> Any:
        try:
            return output_json(await run_tool(spec, kwargs, ctx))
        except ToolError as error:
            raise ToolException(error.message) from error

    return StructuredTool.from_function(
        coroutine=call,
        name=spec.name,
        description=spec.description,
        # An input defined by a JSON Schema (an OpenAPI operation, an MCP tool) is given as that schema;
        # run_tool validates it.
        args_schema=spec.input_schema() if is_json_schema_model(spec.input_model) else spec.input_model,
        handle_tool_error=True,
    )


class LangChainToolOutput(BaseModel):
    """What a wrapped LangChain tool returned (text, or JSON data)."""

    result: Any = Field(description="The tool's answer.")


def _plugin_tool_name(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
    cleaned = re.sub(r"^[^a-z]+", "", cleaned)[:64]
    if not TOOL_NAME.match(cleaned):
        raise ValueError(f"Cannot make a tool name from {name!r}: pass name=.")
    return cleaned


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return value.content if hasattr(value, "content") else str(value)
    return value


def from_langchain_tool(
    tool: BaseTool,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> ToolSpec[Any, LangChainToolOutput]:
    """A ``ToolSpec`` that calls ``tool`` (its name made a valid tool name unless ``name`` is given).

    The input model is the tool's own argument schema; the output is ``{"result": ...}``. A
    ``ToolException`` becomes a ``ToolError``; any other exception is a tool failure as usual.
    """
    input_model = tool.args_schema if isinstance(tool.args_schema, type) else None
    if input_model is None or not issubclass(input_model, BaseModel):
        input_model = tool.get_input_schema()

    async def invoke(data: BaseModel, ctx: PluginContext) -> LangChainToolOutput:
        try:
            result = await tool.ainvoke(data.model_dump(exclude_unset=True))
        except ToolException as error:
            raise ToolError(str(error)) from error
        return LangChainToolOutput(result=_jsonable(result))

    return ToolSpec(
        name=name or _plugin_tool_name(tool.name),
        description=description or tool.description or tool.name,
        input_model=input_model,
        output_model=LangChainToolOutput,
        invoke=invoke,
        timeout_s=timeout_s,
    )
