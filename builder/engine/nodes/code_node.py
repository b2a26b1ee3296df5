"""code: run a Python function in the sandbox (module named code_node so it does not shadow stdlib code)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, DataType, NodeConfig, NodeSpec, duplicate_issues
from builder.engine.nodes.registry import register
from builder.engine.values import VERBATIM, Identifier, RequiredText, StrictModel, Value


class CodeOutput(StrictModel):
    name: Identifier
    type: DataType = "string"


class CodeConfig(NodeConfig):
    language: Literal["python"] = "python"
    # Python source, not a template: "{{" in it is Python, not a reference.
    code: Annotated[RequiredText, VERBATIM]
    inputs: dict[Identifier, Value] = Field(default_factory=dict, max_length=100)
    outputs: list[CodeOutput] = Field(min_length=1, max_length=100)


@register
class CodeNode(NodeSpec[CodeConfig]):
    name = "code"
    version = 1
    title = gettext_noop("Code")
    description = gettext_noop("Run Python code in a sandbox; it returns the declared outputs.")
    config_model = CodeConfig
    static_outputs = None

    def outputs(self, config: CodeConfig) -> dict[str, str]:
        return {output.name: output.type for output in config.outputs}

    def check(self, config: CodeConfig) -> list[ConfigIssue]:
        return duplicate_issues(config.outputs, lambda output: output.name, "outputs", "name")
