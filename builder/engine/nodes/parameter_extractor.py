"""parameter_extractor: a model turns free text into typed parameters."""

from __future__ import annotations

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
from builder.engine.nodes.registry import register
from builder.engine.values import Identifier, StrictModel, Template, Value

SUCCESS_OUTPUT = "__is_success"


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
        return outputs | {SUCCESS_OUTPUT: "boolean"}

    def check(self, config: ParameterExtractorConfig) -> list[ConfigIssue]:
        return duplicate_issues(config.parameters, lambda p: p.name, "parameters", "name") + reserved_issues(
            config.parameters, lambda p: p.name, {SUCCESS_OUTPUT}, "parameters", "name"
        )
