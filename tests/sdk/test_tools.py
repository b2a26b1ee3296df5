"""ToolSpec refuses what the host could not run or show, at import time of the plugin."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from builder.sdk import JobHandle, PluginContext, ToolSpec


class In(BaseModel):
    q: str


class Out(BaseModel):
    a: str


async def answer(data: In, ctx: PluginContext) -> Out:
    return Out(a=data.q)


def spec(**overrides: Any) -> ToolSpec[Any, Any]:
    fields: dict[str, Any] = {
        "name": "answer",
        "description": "Answers.",
        "input_model": In,
        "output_model": Out,
        "invoke": answer,
        **overrides,
    }
    return ToolSpec(**fields)


def test_a_tool_publishes_the_json_schemas_of_its_input_and_output() -> None:
    tool = spec()

    assert tool.input_schema()["properties"] == {"q": {"title": "Q", "type": "string"}}
    assert tool.output_schema()["required"] == ["a"]
    assert tool.display_title == "Answer"
    assert spec(title="Ask").display_title == "Ask"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"name": "Answer"}, "lowercase"),
        ({"name": "9lives"}, "lowercase"),
        ({"name": "a" * 65}, "lowercase"),
        ({"description": "  "}, "description"),
        ({"input_model": dict}, "pydantic model"),
        ({"output_model": Out(a="x")}, "pydantic model"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 3601}, "timeout_s"),
    ],
)
def test_a_tool_the_host_could_not_run_is_refused_when_it_is_defined(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises((ValueError, TypeError), match=problem):
        spec(**overrides)


def test_invoke_must_be_async() -> None:
    def blocking(data: In, ctx: PluginContext) -> Out:
        return Out(a="")

    with pytest.raises(TypeError, match="async"):
        spec(invoke=blocking)

    class Callable:
        async def __call__(self, data: In, ctx: PluginContext) -> Out:
            return Out(a="")

    assert spec(invoke=Callable()).name == "answer"


def test_a_job_handle_is_json_the_host_can_keep() -> None:
    job = JobHandle(job_id="task_1", state={"provider": "sora", "attempt": 1}, poll_interval_s=2)

    assert JobHandle.model_validate_json(job.model_dump_json()) == job
    with pytest.raises(ValueError, match="job_id"):
        JobHandle(job_id="")
