"""loop: run the body again and again until the break condition holds or max_iterations is reached."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.condition import ConditionGroup
from builder.engine.nodes.container import ContainerConfig, ContainerSpec
from builder.engine.nodes.registry import register
from builder.engine.values import BODY_SCOPE


class LoopConfig(ContainerConfig):
    max_iterations: int = Field(default=10, ge=1, le=1000)
    # Checked after each round, inside the body, so it may reference body nodes.
    break_condition: Annotated[ConditionGroup | None, BODY_SCOPE] = None


@register
class LoopNode(ContainerSpec[LoopConfig]):
    name = "loop"
    version = 1
    title = gettext_noop("Loop")
    description = gettext_noop("Repeat the body until a condition holds or a limit is reached.")
    config_model = LoopConfig

    def body_outputs(self, config: LoopConfig) -> dict[str, str]:
        return {"index": "integer"}
