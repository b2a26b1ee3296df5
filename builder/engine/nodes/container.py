"""What loop and iteration share: a body of nodes (``parentId`` = the container) and body outputs.

The container's "body" handle leads to the first body node(s); "done" (also the default handle) leads
on once the body has finished. Body nodes may link back to the container to close the loop.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, TypeVar

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, NodeConfig, NodeSpec, duplicate_issues
from builder.engine.values import BODY_SCOPE, Identifier, Ref

BODY_HANDLE = "body"
DONE_HANDLE = "done"


class BodyOutput(Ref):
    """``{"name": ..., "ref": [node_id, output, ...]}``: publish a body node's output on the container.

    A Ref subclass, so the reference walker sees it like any other reference.
    """

    name: Identifier


class ContainerConfig(NodeConfig):
    # References here are resolved inside the body, so they may point at body nodes.
    outputs: Annotated[list[BodyOutput], BODY_SCOPE] = Field(default_factory=list, max_length=50)


ContainerT = TypeVar("ContainerT", bound=ContainerConfig)


class ContainerSpec(NodeSpec[ContainerT]):
    is_container = True
    default_branch = DONE_HANDLE
    static_outputs = None
    handles_doc = gettext_noop("body (into the body) and done (after the last round).")
    # Type of each published output: a list of per-item values, or the last value.
    output_type: ClassVar[str] = "any"

    def branches(self, config: ContainerT) -> list[str]:
        return [BODY_HANDLE, DONE_HANDLE]

    def outputs(self, config: ContainerT) -> dict[str, str]:
        return {output.name: self.output_type for output in config.outputs}

    def check(self, config: ContainerT) -> list[ConfigIssue]:
        return duplicate_issues(config.outputs, lambda output: output.name, "outputs", "name")
