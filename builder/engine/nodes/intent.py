"""intent: a model classifies the query into one of the intents; each intent is a branch."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, ModelNodeConfig, NodeSpec, duplicate_issues, reserved_issues
from builder.engine.nodes.model_calls import ModelCaller, as_text
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeError, NodeResult
from builder.engine.values import HandleId, RequiredText, StrictModel, Value

OTHER_HANDLE = "other"
_INSTRUCTIONS = """Classify the user's message into exactly one of the intents below.
Answer with the intent's id, and in "reason" say briefly why. If no intent fits, answer "other".

Intents:
{intents}"""


class Intent(StrictModel):
    id: HandleId
    name: RequiredText = Field(max_length=200)
    description: str = Field(default="", max_length=2000)


class IntentConfig(ModelNodeConfig):
    query: Value
    intents: list[Intent] = Field(min_length=1, max_length=50)


@register
class IntentNode(NodeSpec[IntentConfig]):
    name = "intent"
    version = 1
    title = gettext_noop("Intent recognition")
    description = gettext_noop("Let a model decide which intent the query expresses and branch on it.")
    config_model = IntentConfig
    static_outputs = {"intent": "string", "reason": "string"}
    handles_doc = gettext_noop("One handle per intent id, plus other.")

    def branches(self, config: IntentConfig) -> list[str]:
        return [intent.id for intent in config.intents] + [OTHER_HANDLE]

    def check(self, config: IntentConfig) -> list[ConfigIssue]:
        return duplicate_issues(config.intents, lambda intent: intent.id, "intents", "id") + reserved_issues(
            config.intents, lambda intent: intent.id, {OTHER_HANDLE, "error"}, "intents", "id"
        )

    async def run(self, config: IntentConfig, ctx: NodeContext) -> NodeResult:
        query = as_text(ctx.resolve(config.query))
        ids = [intent.id for intent in config.intents]
        schema = {
            "type": "object",
            "properties": {
                "intent": {"type": "string", "enum": [*ids, OTHER_HANDLE], "description": "The id of the intent."},
                "reason": {"type": "string", "description": "Why this intent, in one sentence."},
            },
            "required": ["intent", "reason"],
            "additionalProperties": False,
        }
        listing = "\n".join(_describe(intent) for intent in config.intents)
        messages = [SystemMessage(_INSTRUCTIONS.format(intents=listing)), HumanMessage(query)]
        caller = ModelCaller(ctx, config, stream_key=None)
        try:
            answer, _message = await caller.structured(schema, messages)
        except NodeError as error:
            if error.code != "invalid_output":
                raise
            # A model that cannot keep to the format has not recognised any intent.
            answer = {"intent": OTHER_HANDLE, "reason": error.message}
        intent = _match(config.intents, answer.get("intent"))
        reason = str(answer.get("reason") or "")
        outputs = {"intent": intent.name if intent else OTHER_HANDLE, "reason": reason}
        return NodeResult(
            outputs=outputs,
            branch=intent.id if intent else OTHER_HANDLE,
            usage=caller.usage,
            inputs={"query": query},
        )


def _describe(intent: Intent) -> str:
    line = f"- id: {intent.id}; name: {intent.name}"
    return f"{line}; description: {intent.description}" if intent.description else line


def _match(intents: list[Intent], answer: Any) -> Intent | None:
    """The intent the model named: by id, else by name (JSON-mode models sometimes answer the name)."""
    text = str(answer or "").strip()
    for intent in intents:
        if intent.id == text:
            return intent
    folded = text.casefold()
    return next((intent for intent in intents if intent.name.strip().casefold() == folded), None)
