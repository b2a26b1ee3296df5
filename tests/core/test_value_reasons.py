"""Why a value does not fit its declared type reaches each reader in their language, inside the
start node's and a variable assignment's error (the stored record stays English)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.utils import translation

from builder.core.messages import translated_error
from builder.engine.values import CoercionError, coerce_value
from tests.engine.graphs import document, edge, node
from tests.engine.runtime.support import run


def _chain(*steps: dict[str, Any], start: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    nodes = [node("start", "start", start or {}), *steps]
    return document(nodes, [edge(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)], **kwargs)


def _in(language: str, error: Any) -> str:
    with translation.override(language):
        return str(translated_error(error.model_dump())["message"])


@pytest.mark.parametrize(
    ("value", "type_name", "reason"),
    [
        ("1.5", "integer", "expected a whole number"),
        ("many", "number", "expected a number"),
        ("[1", "array", "expected a list"),
    ],
)
def test_the_reason_stays_plain_english_text(value: str, type_name: str, reason: str) -> None:
    with pytest.raises(CoercionError, match=f"^{reason}$") as caught:
        coerce_value(value, type_name)
    assert (caught.value.template, caught.value.params) == (reason, {})


async def test_a_start_input_of_the_wrong_type_fails_in_the_readers_language() -> None:
    doc = _chain(node("done", "end"), start={"inputs": [{"name": "count", "type": "number"}]})

    outcome, _ = await run(doc, inputs={"count": "many"})

    assert outcome.error is not None
    english = "The input count is not valid: expected a number (number)."
    assert outcome.error.message == english
    assert _in("en", outcome.error) == english
    assert _in("zh-hans", outcome.error) == "输入 count 无效：应为数字（number）。"


async def test_an_assignment_of_the_wrong_type_fails_in_the_readers_language() -> None:
    variables = [{"name": "flag", "type": "boolean", "default": False}]
    assign = node("remember", "variable_assign", {"assignments": [{"variable": "conv.flag", "value": "maybe"}]})

    _outcome, log = await run(_chain(assign, node("done", "end"), variables=variables))

    error = log.one("node.failed", "remember").error
    english = "The value for conv.flag is not valid: expected true or false (boolean)."
    assert error.message == english
    assert _in("en", error) == english
    assert _in("zh-hans", error) == "conv.flag 的值无效：应为 true 或 false（boolean）。"
