"""A plugin adding the ``shout`` node type (its text in capitals). Its ``startup`` hook appends
this process's id to the file ``STARTED_FILE`` names, so a test sees which processes loaded it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.runtime.contract import NodeContext, NodeResult
from builder.engine.values import RequiredTemplate
from builder.sdk import hookimpl

STARTED_FILE = "AGENTLOOM_TEST_NODES_STARTED_FILE"


class ShoutConfig(NodeConfig):
    text: RequiredTemplate


class ShoutNode(NodeSpec[ShoutConfig]):
    name = "shout"
    version = 1
    title = "Shout"
    description = "Say the text in capitals."
    config_model = ShoutConfig
    static_outputs = {"text": "string"}

    async def run(self, config: ShoutConfig, ctx: NodeContext) -> NodeResult:
        return NodeResult(outputs={"text": ctx.render(config.text).upper() + "!"})


@hookimpl
def register_node_types() -> list[Any]:
    return [ShoutNode]


@hookimpl
def startup() -> None:
    started = os.environ.get(STARTED_FILE)
    if started:
        with Path(started).open("a", encoding="utf-8") as file:
            file.write(f"{os.getpid()}\n")
