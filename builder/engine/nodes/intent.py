"""intent: a model classifies the query into one of the intents; each intent is a branch."""

from __future__ import annotations

from pydantic import Field

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import ConfigIssue, ModelNodeConfig, NodeSpec, duplicate_issues, reserved_issues
from builder.engine.nodes.registry import register
from builder.engine.values import HandleId, RequiredText, StrictModel, Value

OTHER_HANDLE = "other"


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
