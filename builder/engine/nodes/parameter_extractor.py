"""parameter_extractor: a model turns free text into typed parameters."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import (
    ConfigIssue,
    DataType,
    ModelNodeConfig,
    NodeSpec,
    duplicate_issues,
    reserved_issues,
)
from builder.engine.nodes.model_calls import ModelCaller, as_text
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeError, NodeResult
from builder.engine.values import Identifier, StrictModel, Template, Value, value_matches_type

SUCCESS_OUTPUT = "__is_success"
REASON_OUTPUT = "__reason"
_INSTRUCTIONS = """Extract the parameters described by the JSON Schema from the user's text.
Use only what the text says: leave out any parameter the text does not give, never guess one.
If a required parameter is missing, say which one in "__reason"."""
_ITEM_TYPES = {"array[string]": "string", "array[number]": "number", "array[object]": "object", "array[file]": "string"}


class Parameter(StrictModel):
    name: Identifier
    type: DataType = "string"
    description: str = Field(default="", max_length=2000)
    required: bool = False


class ParameterExtractorConfig(ModelNodeConfig):
    query: Value
    parameters: list[Parameter] = Field(min_length=1, max_length=100)
    instructions: Template = ""


@register
class ParameterExtractorNode(NodeSpec[ParameterExtractorConfig]):
    name = "parameter_extractor"
    version = 1
    title = gettext_noop("Parameter extractor")
    description = gettext_noop("Let a model pull typed parameters out of text.")
    config_model = ParameterExtractorConfig
    static_outputs = None

    def outputs(self, config: ParameterExtractorConfig) -> dict[str, str]:
        outputs: dict[str, str] = {parameter.name: parameter.type for parameter in config.parameters}
        return outputs | {SUCCESS_OUTPUT: "boolean", REASON_OUTPUT: "string"}

    def check(self, config: ParameterExtractorConfig) -> list[ConfigIssue]:
        return duplicate_issues(config.parameters, lambda p: p.name, "parameters", "name") + reserved_issues(
            config.parameters, lambda p: p.name, {SUCCESS_OUTPUT, REASON_OUTPUT}, "parameters", "name"
        )

    async def run(self, config: ParameterExtractorConfig, ctx: NodeContext) -> NodeResult:
        query = as_text(ctx.resolve(config.query))
        instructions = ctx.render(config.instructions).strip() if config.instructions else ""
        system = f"{_INSTRUCTIONS}\n\n{instructions}" if instructions else _INSTRUCTIONS
        caller = ModelCaller(ctx, config, stream_key=None)
        inputs = {"query": query, "instructions": instructions}
        try:
            messages = [SystemMessage(system), HumanMessage(query)]
            answer, _message = await caller.structured(_schema(config.parameters), messages)
        except NodeError as error:
            if error.code != "invalid_output":
                raise
            outputs: dict[str, Any] = {parameter.name: None for parameter in config.parameters}
            outputs |= {SUCCESS_OUTPUT: False, REASON_OUTPUT: error.message}
            return NodeResult(outputs=outputs, usage=caller.usage, inputs=inputs)

        outputs = {}
        problems: list[str] = []
        for parameter in config.parameters:
            value = _coerce(answer.get(parameter.name), parameter.type)
            if value is not None and not value_matches_type(value, parameter.type):
                problems.append(f"{parameter.name} is not of type {parameter.type}")
                value = None
            elif value is None and parameter.required:
                problems.append(f"{parameter.name} is missing")
            outputs[parameter.name] = value
        reason = str(answer.get(REASON_OUTPUT) or "").strip()
        if problems and not reason:
            reason = "; ".join(problems)
        outputs |= {SUCCESS_OUTPUT: not problems, REASON_OUTPUT: reason if problems else ""}
        return NodeResult(outputs=outputs, usage=caller.usage, inputs=inputs)


def _schema(parameters: list[Parameter]) -> dict[str, Any]:
    """Every parameter optional for the model, so a missing one stays missing instead of invented;
    the node checks ``required`` itself."""
    properties: dict[str, Any] = {}
    for parameter in parameters:
        prop = _type_schema(parameter.type)
        description = parameter.description + (" (required)" if parameter.required else "")
        if description.strip():
            prop["description"] = description.strip()
        properties[parameter.name] = prop
    properties[REASON_OUTPUT] = {"type": "string", "description": "Only when a required parameter is missing: which."}
    return {"type": "object", "properties": properties}


def _type_schema(type_name: str) -> dict[str, Any]:
    if type_name in _ITEM_TYPES:
        return {"type": "array", "items": {"type": _ITEM_TYPES[type_name]}}
    if type_name == "file":
        return {"type": "string", "description": "A URL."}
    return {"type": type_name}


def _coerce(value: Any, type_name: str) -> Any:
    """Forgive what models commonly get almost right: numbers as text, whole floats for integers."""
    if value is None or value == "":
        return None
    if type_name in ("number", "integer") and isinstance(value, str):
        try:
            value = float(value.strip().replace(",", ""))
        except ValueError:
            return value
    if type_name == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if type_name == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value
