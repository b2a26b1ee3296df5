"""tool: call one plugin tool with explicit inputs."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult, node_error
from builder.engine.secrets import SECRET_NAMES, SecretOrValue, masked, reveal, secret_names_schema
from builder.engine.values import ResourceId


class ToolConfig(NodeConfig):
    plugin: ResourceId
    tool: ResourceId
    # Checked against the tool's input schema by the plugin host, which knows it; the engine does not.
    # An input named like a credential (api_key, token…) is a secret; any may be a credential reference.
    inputs: Annotated[dict[str, SecretOrValue], SECRET_NAMES] = Field(
        default_factory=dict, max_length=100, json_schema_extra=secret_names_schema()
    )


@register
class ToolNode(NodeSpec[ToolConfig]):
    name = "tool"
    version = 1
    title = gettext_noop("Tool")
    description = gettext_noop("Call one tool of a plugin.")
    config_model = ToolConfig
    static_outputs = {"result": "any"}

    async def run(self, config: ToolConfig, ctx: NodeContext) -> NodeResult:
        if ctx.services.tools is None:
            raise node_error("not_configured", gettext_noop("Plugin tools are not available in this run."))
        inputs = await reveal(config.inputs, ctx)
        result = await ctx.services.tools.invoke(config.plugin, config.tool, inputs, ctx)
        return NodeResult(outputs={"result": result}, inputs=masked(config.inputs, inputs))
