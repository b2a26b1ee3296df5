"""agent: an LLM that decides which tools, knowledge bases and other bots to call.

The loop: call the model with every tool bound; run the tool calls it asks for (concurrently) and
give it the results; repeat until it answers without calling a tool. After ``max_iterations``
rounds of tool calls it gets one last call, without tools, to answer from what it has.

Plugin tools are described to the model by the tool service when it implements ``ToolCatalog``
(name, description, input JSON Schema); otherwise they take free-form arguments. Knowledge bases
are one ``search_knowledge`` tool; each bot is an ``ask_bot_<n>`` tool taking a question. User
variables listed in ``user_variables`` are one ``set_user_variable`` tool, so the model can remember
what it learns about the user (the runtime checks and converts the value to the declared type).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ModelNodeConfig, NodeSpec
from builder.engine.nodes.long_term_memory import (
    USER_VARIABLE_TOOL,
    UserVariableChoice,
    remembered,
    with_memories,
)
from builder.engine.nodes.model_calls import ModelCaller, as_text, sys_value, system_prompt
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeError, NodeResult, node_error
from builder.engine.values import ResourceId, StrictModel, Template

# What a tool result may add to the conversation; longer results are cut (the model's context is finite).
MAX_RESULT_CHARS = 20_000
# What a trace delta shows of a tool result.
MAX_DELTA_CHARS = 2_000
KNOWLEDGE_TOOL = "search_knowledge"
KNOWLEDGE_TOP_K = 5
_LAST_CALL = (
    "You have used all the tool calls you are allowed. Answer the original request now, using only the results above."
)
_FREE_FORM: dict[str, Any] = {"type": "object", "additionalProperties": True}
_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "What to search for or ask."}},
    "required": ["query"],
}


@runtime_checkable
class ToolCatalog(Protocol):
    """Optionally implemented by the tool and sub-bot services: how to present a tool to a model.

    Returns ``{"name", "description", "input_schema"}`` (each optional) or None when unknown.
    """

    async def describe(self, plugin: str, tool: str) -> Mapping[str, Any] | None: ...


class ToolChoice(StrictModel):
    plugin: ResourceId
    tool: ResourceId


class AgentConfig(ModelNodeConfig):
    # Empty: the bot's persona.
    instructions: Template = ""
    # What the agent works on; empty means the user's message.
    query: Template = ""
    tools: list[ToolChoice] = Field(default_factory=list, max_length=128)
    knowledge_bases: list[ResourceId] = Field(default_factory=list, max_length=50)
    bots: list[ResourceId] = Field(default_factory=list, max_length=20)
    max_iterations: int = Field(default=10, ge=1, le=50)
    # Add what the bot remembers about the user (the facts most relevant to the query) to the instructions.
    long_term_memory: bool = False
    memory_recall_k: int = Field(default=5, ge=1, le=20)
    # User variables the model may set with the set_user_variable tool.
    user_variables: list[UserVariableChoice] = Field(default_factory=list, max_length=50)


@register
class AgentNode(NodeSpec[AgentConfig]):
    name = "agent"
    version = 1
    title = gettext_noop("Agent")
    description = gettext_noop("A model that calls tools, knowledge bases and other bots until it can answer.")
    config_model = AgentConfig
    static_outputs = {"text": "string", "tool_calls": "array[object]"}

    async def run(self, config: AgentConfig, ctx: NodeContext) -> NodeResult:
        instructions = system_prompt(ctx, config.instructions)
        query = ctx.render(config.query).strip() if config.query.strip() else as_text(sys_value(ctx, "query"))
        memories = await remembered(ctx, query, config.memory_recall_k) if config.long_term_memory else []
        instructions = with_memories(ctx, instructions, memories)
        tools = await _agent_tools(config, ctx)
        by_name = {tool.name: tool for tool in tools}
        schemas = [tool.schema() for tool in tools]
        messages: list[BaseMessage] = [SystemMessage(instructions)] if instructions else []
        messages.append(HumanMessage(query))
        caller = ModelCaller(ctx, config)
        calls: list[dict[str, Any]] = []

        # Everything the model writes streams as "text" (an answer showing {{ agent.text }} forwards it
        # live), so the text output is all of it, the words before tool calls included (as in Dify).
        said: list[str] = []
        answered = False
        for iteration in range(1, config.max_iterations + 1):
            await ctx.emit_node_delta({"iteration": iteration})
            lead = _separator(said)
            message = await caller.chat(messages, tools=schemas, lead=lead)
            messages.append(message)
            said.append(lead + message.text if message.text else "")
            requested = [*message.tool_calls, *message.invalid_tool_calls]
            if not requested:
                answered = True
                break
            records = await asyncio.gather(*(_run_tool(ctx, by_name, call) for call in requested))
            for record in records:
                calls.append(record)
                content = f"Error: {record['error']}" if record["error"] else _result_text(record["result"])
                status = "error" if record["error"] else "success"
                messages.append(ToolMessage(content=content, tool_call_id=record["id"], status=status))
        if not answered:
            await ctx.emit_node_delta({"max_iterations_reached": config.max_iterations})
            lead = _separator(said)
            final = await caller.chat([*_transcript(messages), HumanMessage(_LAST_CALL)], lead=lead)
            said.append(lead + final.text if final.text else "")
        inputs: dict[str, Any] = {"instructions": instructions, "query": query, "tools": sorted(by_name)}
        if config.long_term_memory:
            inputs["long_term_memory"] = memories
        return NodeResult(outputs={"text": "".join(said), "tool_calls": calls}, usage=caller.usage, inputs=inputs)


def _separator(said: list[str]) -> str:
    """What goes between the text of two rounds: a paragraph break unless there is one already."""
    text = "".join(said)
    return "\n\n" if text and not text[-1].isspace() else ""


@dataclass(frozen=True)
class _AgentTool:
    name: str
    description: str
    parameters: dict[str, Any]
    kind: str  # "tool", "knowledge" or "bot"
    target: str
    invoke: Callable[[dict[str, Any]], Awaitable[Any]]

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


def _tool_name(raw: str, taken: set[str]) -> str:
    """A function name providers accept (``^[A-Za-z0-9_-]{1,64}$``), unique within the node."""
    base = re.sub(r"[^A-Za-z0-9_-]", "_", raw)[:60] or "tool"
    name, index = base, 2
    while name in taken:
        name, index = f"{base}_{index}", index + 1
    taken.add(name)
    return name


async def _describe(service: Any, plugin: str, tool: str) -> Mapping[str, Any]:
    if isinstance(service, ToolCatalog):
        return await service.describe(plugin, tool) or {}
    return {}


_MISSING = {
    "tools": gettext_noop("The agent uses plugin tools, but this run has no access to plugins."),
    "knowledge": gettext_noop("The agent uses knowledge bases, but this run has no access to them."),
    "bots": gettext_noop("The agent calls other bots, but this run cannot call bots."),
}


def _missing(service: str) -> NodeError:
    return node_error("not_configured", _MISSING[service])


async def _agent_tools(config: AgentConfig, ctx: NodeContext) -> list[_AgentTool]:
    services = ctx.services
    tools: list[_AgentTool] = []
    taken: set[str] = set()
    if config.tools and services.tools is None:
        raise _missing("tools")
    if config.knowledge_bases and services.knowledge is None:
        raise _missing("knowledge")
    if config.bots and services.sub_bots is None:
        raise _missing("bots")

    for choice in config.tools:
        about = await _describe(services.tools, choice.plugin, choice.tool)

        def invoke_plugin(args: dict[str, Any], plugin: str = choice.plugin, tool: str = choice.tool) -> Awaitable[Any]:
            assert services.tools is not None
            return services.tools.invoke(plugin, tool, args, ctx)

        tools.append(
            _AgentTool(
                name=_tool_name(str(about.get("name") or choice.tool), taken),
                description=str(about.get("description") or f"The {choice.tool} tool of the {choice.plugin} plugin."),
                parameters=dict(about.get("input_schema") or _FREE_FORM),
                kind="tool",
                target=f"{choice.plugin}/{choice.tool}",
                invoke=invoke_plugin,
            )
        )

    if config.knowledge_bases:
        knowledge_bases = list(config.knowledge_bases)

        async def search(args: dict[str, Any]) -> Any:
            assert services.knowledge is not None
            query = as_text(args.get("query"))
            return await services.knowledge.retrieve(
                query, knowledge_bases, top_k=KNOWLEDGE_TOP_K, score_threshold=0.0, mode="hybrid"
            )

        tools.append(
            _AgentTool(
                name=_tool_name(KNOWLEDGE_TOOL, taken),
                description="Search the knowledge bases for passages relevant to a query.",
                parameters=_QUERY_SCHEMA,
                kind="knowledge",
                target=",".join(knowledge_bases),
                invoke=search,
            )
        )

    for index, bot_id in enumerate(config.bots, start=1):
        about = await _describe(services.sub_bots, "bots", bot_id)

        async def ask(args: dict[str, Any], bot_id: str = bot_id) -> Any:
            assert services.sub_bots is not None
            outputs = await services.sub_bots.run(bot_id, {"query": as_text(args.get("query"))}, ctx)
            return outputs.get("answer", outputs)

        tools.append(
            _AgentTool(
                name=_tool_name(str(about.get("name") or f"ask_bot_{index}"), taken),
                description=str(about.get("description") or "Ask another bot a question and get its answer."),
                parameters=_QUERY_SCHEMA,
                kind="bot",
                target=bot_id,
                invoke=ask,
            )
        )

    if config.user_variables:
        names = list(dict.fromkeys(choice.name for choice in config.user_variables))
        tools.append(_user_variable_tool(ctx, names, taken))
    return tools


def _user_variable_tool(ctx: NodeContext, names: list[str], taken: set[str]) -> _AgentTool:
    """``set_user_variable(name, value)`` over the listed user variables; kept across conversations."""

    async def set_variable(args: dict[str, Any]) -> Any:
        name = as_text(args.get("name"))
        if name not in names:
            raise node_error(
                "unknown_variable",
                gettext_noop("There is no user variable %(name)s; use one of %(names)s."),
                name=repr(name),
                names=", ".join(names),
            )
        # Checked against the declared variable and converted to its type (or a NodeError the model sees).
        ctx.set_variable("user", name, args.get("value"))
        return {"saved": name}

    return _AgentTool(
        name=_tool_name(USER_VARIABLE_TOOL, taken),
        description=(
            "Remember something about the user for this and later conversations by setting one of "
            f"their variables: {', '.join(names)}."
        ),
        parameters={
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": names, "description": "The variable to set."},
                "value": {"description": "Its new value."},
            },
            "required": ["name", "value"],
        },
        kind="user_variable",
        target=",".join(names),
        invoke=set_variable,
    )


async def _run_tool(ctx: NodeContext, tools: Mapping[str, _AgentTool], call: Mapping[str, Any]) -> dict[str, Any]:
    """Run one tool call; a failure becomes an error result the model can react to.

    ``call`` is a LangChain tool call, or an invalid one (arguments that are not JSON: ``args`` is
    the raw string and ``type`` is ``invalid_tool_call``), which is answered with the error.
    """
    call_id = str(call.get("id") or call.get("name"))
    name = str(call.get("name"))
    invalid = call.get("type") == "invalid_tool_call"
    args = {} if invalid else dict(call.get("args") or {})
    await ctx.emit_node_delta(
        {"tool_call": {"id": call_id, "name": name, "args": call.get("args") if invalid else args}}
    )
    record: dict[str, Any] = {"id": call_id, "name": name, "args": args, "result": None, "error": None}
    tool = tools.get(name)
    if invalid:
        record["error"] = f"The arguments are not valid JSON: {call.get('args')}"
    elif tool is None:
        record["error"] = f"There is no tool named {name}."
    else:
        record |= {"kind": tool.kind, "target": tool.target}
        try:
            record["result"] = _jsonable(await tool.invoke(args))
        except NodeError as error:
            if error.code == "cancelled":
                raise
            record["error"] = error.message
        except Exception as exc:  # a tool's bug must not end the agent; the model sees the error
            record["error"] = f"{type(exc).__name__}: {exc}"
    shown = {"id": call_id, "name": name}
    if record["error"]:
        shown["error"] = record["error"]
    else:
        shown["result"] = _result_text(record["result"])[:MAX_DELTA_CHARS]
    await ctx.emit_node_delta({"tool_result": shown})
    return record


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))
    return value


def _result_text(result: Any) -> str:
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
    return text[:MAX_RESULT_CHARS]


def _transcript(messages: list[BaseMessage]) -> list[BaseMessage]:
    """The conversation with tool calls and results as plain text, for the final call without tools
    (some providers refuse tool messages when no tools are bound)."""
    plain: list[BaseMessage] = []
    for message in messages:
        if isinstance(message, AIMessage) and message.tool_calls:
            lines: list[str] = [message.text] if message.text else []
            for call in message.tool_calls:
                lines.append(f"[called {call['name']} with {json.dumps(call['args'], ensure_ascii=False)}]")
            plain.append(AIMessage("\n".join(lines)))
        elif isinstance(message, ToolMessage):
            plain.append(HumanMessage(f"[result of a tool call]\n{as_text(message.content)}"))
        else:
            plain.append(message)
    return plain
