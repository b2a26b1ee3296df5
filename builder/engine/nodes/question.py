"""question: ask the user; the run pauses until they reply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from builder.engine.i18n import gettext_noop
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.nodes.registry import register
from builder.engine.runtime.contract import NodeContext, NodeResult
from builder.engine.values import RequiredTemplate, RequiredText, field_error


class QuestionConfig(NodeConfig):
    question: RequiredTemplate
    answer_type: Literal["text", "choice"] = "text"
    choices: list[RequiredText] = Field(default_factory=list, max_length=20, validate_default=True)

    @field_validator("choices")
    @classmethod
    def _choices_for_choice(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("answer_type") == "choice" and not value:
            raise field_error("missing_field", gettext_noop("Add the choices the user can pick from."))
        return value


@register
class QuestionNode(NodeSpec[QuestionConfig]):
    name = "question"
    version = 1
    title = gettext_noop("Question")
    description = gettext_noop("Ask the user something and wait for the reply.")
    config_model = QuestionConfig
    static_outputs = {"answer": "string"}

    async def run(self, config: QuestionConfig, ctx: NodeContext) -> NodeResult:
        question = {"text": ctx.render(config.question), "answer_type": config.answer_type, "choices": config.choices}
        # Pauses the run (run.paused carries ``question``); on resume this returns the user's reply.
        answer = ctx.ask(question)
        return NodeResult(outputs={"answer": _answer_text(answer)}, inputs={"question": question["text"]})


def _answer_text(answer: Any) -> str:
    """The reply as text: a string as is, ``{"answer": ...}``/``{"text": ...}`` from richer clients."""
    if isinstance(answer, Mapping):
        answer = answer.get("answer", answer.get("text"))
    if answer is None:
        return ""
    return answer if isinstance(answer, str) else str(answer)
