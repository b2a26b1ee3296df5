"""The fake OpenAI server itself: concurrency (benchmarks stream hundreds at once), pacing, instant mode."""

from __future__ import annotations

import asyncio
import json
import time

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from builder.llm.clients import ProviderSettings, build_chat_model
from tests.support.fake_openai import FakeOpenAI, Reply


def chat(server: FakeOpenAI, timeout_s: float = 30.0) -> BaseChatModel:
    settings = ProviderSettings(
        kind="openai_compatible", base_url=server.base_url, timeout_s=timeout_s, allow=("127.0.0.1",)
    )
    return build_chat_model(settings, "gpt-4o-mini")


async def test_paced_streams_are_served_concurrently(fake_openai: FakeOpenAI) -> None:
    fake_openai.default = Reply(text=" ".join(["word"] * 10), tokens_per_second=2)  # ~5 s per answer
    model = chat(fake_openai)

    answering = asyncio.gather(*(model.ainvoke([HumanMessage(f"q{i}")]) for i in range(100)))
    # Served one after another, the second request would arrive only once the first answer is done.
    await asyncio.to_thread(fake_openai.wait_for_requests, 100, 60.0)
    assert not answering.done()
    answers = await answering

    assert all(answer.text == " ".join(["word"] * 10) for answer in answers)
    assert {request.text() for request in fake_openai.requests} == {f"q{i}" for i in range(100)}


async def _stream_over_a_socket(port: int) -> bytes:
    """One streamed completion with a bare socket: httpx's pool, not the server, is the bottleneck
    past a few hundred connections, and this test is about the server."""
    body = json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "go"}]}).encode()
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{head}Content-Type: application/json\r\nConnection: close\r\n\r\n".encode() + body)
    data = await reader.read()
    writer.close()
    return data


async def test_instant_mode_answers_500_concurrent_streams(fake_openai: FakeOpenAI) -> None:
    fake_openai.instant(tokens=20)
    started = time.monotonic()

    answers = await asyncio.gather(*(_stream_over_a_socket(fake_openai.port) for _ in range(500)))

    assert time.monotonic() - started < 5
    assert all(b'"completion_tokens": 20' in answer and b"data: [DONE]" in answer for answer in answers)
    assert fake_openai.request_count == 500 and fake_openai.requests == []
    assert chat(fake_openai).invoke("x").usage_metadata["output_tokens"] == 20  # type: ignore[index]


def test_models_endpoint_and_scripts_by_model(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(text="for b")], model="b")
    fake_openai.script([Reply(text="shared")])

    assert chat(fake_openai).invoke("x").text == "shared"
    assert fake_openai.pending() == 1
    settings = ProviderSettings(kind="openai_compatible", base_url=fake_openai.base_url, allow=("127.0.0.1",))
    assert build_chat_model(settings, "b").invoke("x").text == "for b"
    assert fake_openai.pending() == 0
