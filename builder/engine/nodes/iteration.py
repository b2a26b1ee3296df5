"""iteration: run the body once per item of a list, optionally in parallel."""

from __future__ import annotations

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.container import ContainerConfig, ContainerSpec
from builder.engine.nodes.registry import register
from builder.engine.values import RefOnly


class IterationConfig(ContainerConfig):
    items: RefOnly
    parallelism: int = Field(default=1, ge=1, le=32)


@register
class IterationNode(ContainerSpec[IterationConfig]):
    name = "iteration"
    version = 1
    title = gettext_noop("Iteration")
    description = gettext_noop("Run the body for each item of a list and collect the results.")
    config_model = IterationConfig
    output_type = "array"

    def body_outputs(self, config: IterationConfig) -> dict[str, str]:
        return {"item": "any", "index": "integer"}
