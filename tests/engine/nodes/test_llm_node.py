"""The llm node against a real HTTP server speaking OpenAI's protocol, through the real LangChain client."""

from __future__ import annotations

import time
from typing import Any

import pytest

from builder.engine.runtime.contract import NodeError, RuntimeServices
from tests.engine.nodes.support import ServerModels, StubContext, run_node
from tests.support.fake_openai import CutStream, Error, FakeOpenAI, Hang, Reply

MODEL = {"provider": "fake", "name": "gpt-4o-mini"}
FALLBACK = {"provider": "fake", "name": "fallback-model"}


def context(server: FakeOpenAI, **kwargs: Any) -> StubContext:
    models = ServerModels(server, timeout_s=kwargs.pop("timeout_s", 5.0), prices=kwargs.pop("prices", None))
    return StubContext(RuntimeServices(chat_models=models), **kwargs)


async def test_streams_tokens_and_reports_usage_and_cost(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(text="Paris is the capital.", chunks=4, usage=(120, 4))])
    ctx = context(
        fake_openai, outputs={"start": {"country": "France"}}, sys={"query": "hi"}, prices={"gpt-4o-mini": (2.0, 8.0)}
    )

    result = await run_node(
        "llm",
        {"model": MODEL, "system_prompt": "You are terse.", "user_prompt": "Capital of {{ start.country }}?"},
        ctx,
    )

    assert result.outputs["text"] == "Paris is the capital."
    assert ctx.deltas_with("text") == ["Paris ", "is th", "e cap", "ital."]
    assert ctx.streamed_text == "Paris is the capital."
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (120, 4, 124)
    assert result.usage.cost == pytest.approx((120 * 2.0 + 4 * 8.0) / 1_000_000)
    assert result.usage.model == "fake/gpt-4o-mini"
    assert result.outputs["usage"]["total_tokens"] == 124
    assert result.inputs["user_prompt"] == "Capital of France?"

    request = fake_openai.last
    assert request.stream and request.body["stream_options"] == {"include_usage": True}
    assert request.messages == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Capital of France?"},
    ]


async def test_without_a_system_prompt_the_bot_persona_is_used(fake_openai: FakeOpenAI) -> None:
    ctx = context(fake_openai, sys={"persona": "You help {{ sys.user_id }}. Be brief.", "user_id": "ada"})

    await run_node("llm", {"model": MODEL, "user_prompt": "Hi"}, ctx)
    await run_node("llm", {"model": MODEL, "system_prompt": "Own prompt.", "user_prompt": "Hi"}, ctx)

    first, second = fake_openai.requests
    assert first.messages[0] == {"role": "system", "content": "You help ada. Be brief."}
    assert second.messages[0] == {"role": "system", "content": "Own prompt."}


async def test_vision_sends_the_images_among_the_files_as_image_parts(fake_openai: FakeOpenAI) -> None:
    files = [
        {"type": "image", "url": "https://cdn.example.com/cat.png"},
        {"mime_type": "application/pdf", "url": "https://cdn.example.com/report.pdf"},
        "https://cdn.example.com/dog.JPG?size=large",
    ]
    ctx = context(fake_openai, sys={"files": files})

    result = await run_node("llm", {"model": MODEL, "user_prompt": "What is in the pictures?", "vision": True}, ctx)

    assert fake_openai.last.messages[-1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in the pictures?"},
            {"type": "image_url", "image_url": {"url": "https://cdn.example.com/cat.png"}},
            {"type": "image_url", "image_url": {"url": "https://cdn.example.com/dog.JPG?size=large"}},
        ],
    }
    assert result.inputs["images"] == ["https://cdn.example.com/cat.png", "https://cdn.example.com/dog.JPG?size=large"]


async def test_without_vision_files_are_not_sent(fake_openai: FakeOpenAI) -> None:
    ctx = context(fake_openai, sys={"files": ["https://cdn.example.com/cat.png"]})

    await run_node("llm", {"model": MODEL, "user_prompt": "Hi"}, ctx)

    assert fake_openai.last.messages == [{"role": "user", "content": "Hi"}]


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
}


async def test_structured_output_uses_the_json_schema_response_format(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(json={"city": "Paris", "population": 2102650}, chunks=5)])
    ctx = context(fake_openai)

    result = await run_node(
        "llm", {"model": MODEL, "user_prompt": "Biggest French city?", "output_schema": SCHEMA}, ctx
    )

    assert result.outputs["json"] == {"city": "Paris", "population": 2102650}
    assert result.outputs["text"] == '{"city": "Paris", "population": 2102650}'
    assert ctx.streamed_text == '{"city": "Paris", "population": 2102650}'
    assert fake_openai.last.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "structured_output", "strict": False, "schema": SCHEMA},
    }
    assert result.usage is not None and result.usage.total_tokens > 0


async def test_structured_output_falls_back_to_json_mode_with_the_schema_in_the_prompt(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(json={"city": "Lyon", "population": 522250})])
    models = ServerModels(fake_openai, traits={"gpt-4o-mini": {"structured_output": "json_mode"}})
    ctx = StubContext(RuntimeServices(chat_models=models))

    result = await run_node(
        "llm", {"model": MODEL, "system_prompt": "Geography.", "user_prompt": "?", "output_schema": SCHEMA}, ctx
    )

    assert result.outputs["json"] == {"city": "Lyon", "population": 522250}
    assert fake_openai.last.response_format == {"type": "json_object"}
    system = fake_openai.last.messages[0]["content"]
    assert system.startswith("Geography.") and '"population": {"type": "integer"}' in system


async def test_an_answer_that_is_not_json_is_invalid_output(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(text="Paris, probably")])

    with pytest.raises(NodeError) as caught:
        await run_node("llm", {"model": MODEL, "user_prompt": "?", "output_schema": SCHEMA}, context(fake_openai))

    assert caught.value.code == "invalid_output"
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("step", "code", "retryable", "provider_message"),
    [
        (Error(429), "rate_limited", True, "Rate limit reached for requests. Please try again later."),
        (Error(500, "The engine is overloaded"), "model_error", True, "The engine is overloaded"),
        (Error(401), "model_error", False, "Incorrect API key provided."),
        (Error(404, "The model `gpt-9` does not exist"), "model_error", False, "The model `gpt-9` does not exist"),
    ],
)
async def test_provider_errors_map_to_node_error_codes(
    fake_openai: FakeOpenAI, step: Error, code: str, retryable: bool, provider_message: str
) -> None:
    fake_openai.script([step])

    with pytest.raises(NodeError) as caught:
        await run_node("llm", {"model": MODEL, "user_prompt": "Hi"}, context(fake_openai))

    error = caught.value
    assert (error.code, error.retryable) == (code, retryable)
    assert error.details["provider_message"] == provider_message
    assert error.details["status_code"] == step.status
    assert error.details["template"] and error.details["params"]["model"] == "fake/gpt-4o-mini"
    assert fake_openai.request_count == 1  # no SDK retries behind the error policy's back


async def test_a_model_that_never_answers_times_out(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Hang()])
    started = time.monotonic()

    with pytest.raises(NodeError) as caught:
        await run_node("llm", {"model": MODEL, "user_prompt": "Hi"}, context(fake_openai, timeout_s=0.3))

    assert (caught.value.code, caught.value.retryable) == ("timeout", True)
    assert time.monotonic() - started < 3


async def test_a_stream_that_stalls_midway_times_out(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Hang(after_chunks=2)])
    ctx = context(fake_openai, timeout_s=0.3)

    with pytest.raises(NodeError) as caught:
        await run_node("llm", {"model": MODEL, "user_prompt": "Hi"}, ctx)

    assert caught.value.code == "timeout"
    assert ctx.streamed_text == "This answer"


@pytest.mark.parametrize("abrupt", [True, False], ids=["connection-dropped", "body-ended-early"])
async def test_a_stream_cut_midway_is_stream_interrupted(fake_openai: FakeOpenAI, abrupt: bool) -> None:
    fake_openai.script([CutStream(after_chunks=3, abrupt=abrupt)])
    ctx = context(fake_openai)

    with pytest.raises(NodeError) as caught:
        await run_node("llm", {"model": MODEL, "user_prompt": "Hi"}, ctx)

    assert (caught.value.code, caught.value.retryable) == ("stream_interrupted", True)
    assert ctx.streamed_text == "This answer is"


async def test_fallback_model_answers_when_the_primary_fails(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Error(500)], model="gpt-4o-mini")
    fake_openai.script([Reply(text="Backup here.", usage=(10, 3))], model="fallback-model")
    ctx = context(fake_openai)

    result = await run_node("llm", {"model": MODEL, "fallback_model": FALLBACK, "user_prompt": "Hi"}, ctx)

    assert result.outputs["text"] == "Backup here."
    assert result.usage is not None and result.usage.model == "fake/fallback-model"
    assert result.outputs["usage"]["model"] == "fake/fallback-model"
    assert result.usage.total_tokens == 13
    assert ctx.deltas_with("fallback") == [
        {"from": "fake/gpt-4o-mini", "to": "fake/fallback-model", "error": "model_error"}
    ]
    assert [request.model for request in fake_openai.requests] == ["gpt-4o-mini", "fallback-model"]


async def test_fallback_after_a_cut_stream_and_its_own_failure_names_both(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([CutStream(after_chunks=2)], model="gpt-4o-mini")
    fake_openai.script([Error(429)], model="fallback-model")

    with pytest.raises(NodeError) as caught:
        await run_node("llm", {"model": MODEL, "fallback_model": FALLBACK, "user_prompt": "Hi"}, context(fake_openai))

    assert caught.value.code == "rate_limited"
    assert caught.value.details["primary_error"]["code"] == "stream_interrupted"
    assert fake_openai.request_count == 2


async def test_no_fallback_for_a_bad_answer_format(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(text="not json")])

    with pytest.raises(NodeError) as caught:
        await run_node(
            "llm",
            {"model": MODEL, "fallback_model": FALLBACK, "user_prompt": "?", "output_schema": SCHEMA},
            context(fake_openai),
        )

    assert caught.value.code == "invalid_output"
    assert fake_openai.request_count == 1


async def test_the_bot_default_model_is_used_when_the_node_names_none(fake_openai: FakeOpenAI) -> None:
    ctx = context(fake_openai)

    await run_node("llm", {"user_prompt": "Hi"}, ctx)

    assert ctx.services.chat_models.asked == [None]  # type: ignore[union-attr]
    assert fake_openai.last.model == "gpt-4o-mini"


async def test_sampling_parameters_reach_the_provider(fake_openai: FakeOpenAI) -> None:
    model = {**MODEL, "temperature": 0.2, "max_tokens": 64, "top_p": 0.9, "stop": ["END"]}

    await run_node("llm", {"model": model, "user_prompt": "Hi"}, context(fake_openai))

    body = fake_openai.last.body
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["stop"]) == (0.2, 64, 0.9, ["END"])


async def test_a_cancelled_run_stops_streaming(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(text="one two three four five six")])
    ctx = context(fake_openai)

    async def cancel_after_first(data: Any) -> None:
        ctx.deltas.append(dict(data))
        ctx.is_cancelled = True

    ctx.emit_node_delta = cancel_after_first  # type: ignore[method-assign]

    with pytest.raises(NodeError) as caught:
        await run_node("llm", {"model": MODEL, "user_prompt": "Hi"}, ctx)

    assert caught.value.code == "cancelled"
    assert ctx.streamed_text == "one"


async def test_without_chat_models_the_node_is_not_configured(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(NodeError) as caught:
        await run_node("llm", {"user_prompt": "Hi"}, StubContext(RuntimeServices()))

    assert caught.value.code == "not_configured"
