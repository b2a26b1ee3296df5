"""Model nodes inside real runs (GraphRunner): streaming to the answer, usage in the trace, retries,
intent branches, failures — against the fake OpenAI server through the real LangChain client."""

from __future__ import annotations

from builder.engine.runtime.contract import RuntimeServices
from tests.engine.graphs import document, edge, node
from tests.engine.nodes.support import ServerModels
from tests.engine.runtime.support import run
from tests.support.fake_openai import Error, FakeOpenAI, Reply

MODEL = {"provider": "fake", "name": "gpt-4o-mini"}


def services(server: FakeOpenAI) -> RuntimeServices:
    return RuntimeServices(chat_models=ServerModels(server, prices={"gpt-4o-mini": (1.0, 2.0)}))


def chat_bot(**llm: object) -> dict[str, object]:
    return document(
        [
            node("start", "start"),
            node("think", "llm", {"user_prompt": "{{ sys.query }}", **llm}),
            node("reply", "answer", {"text": "Answer: {{ think.text }}"}),
        ],
        [edge("start", "think"), edge("think", "reply")],
        settings={"model": MODEL},
    )


async def test_tokens_stream_to_the_user_and_usage_reaches_the_trace(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(text="Paris is the capital.", chunks=3, usage=(1000, 3000))])

    outcome, log = await run(
        chat_bot(), services=services(fake_openai), query="Capital of France?", sys={"persona": "Be brief."}
    )

    assert outcome.status == "finished"
    assert outcome.answer == "Answer: Paris is the capital."
    assert [delta.text for delta in log.of("message.delta")] == ["Answer: ", "Paris i", "s the c", "apital."]
    assert [delta.data for delta in log.of("node.delta", "think")] == [
        {"text": "Paris i"},
        {"text": "s the c"},
        {"text": "apital."},
    ]
    finished = log.one("node.finished", "think")
    assert finished.usage.model_dump() == {
        "prompt_tokens": 1000,
        "completion_tokens": 3000,
        "total_tokens": 4000,
        "cost": 0.007,
        "model": "fake/gpt-4o-mini",
    }
    assert finished.inputs["user_prompt"] == "Capital of France?"
    assert log.one("run.finished").usage.total_tokens == 4000
    assert fake_openai.last.messages == [
        {"role": "system", "content": "Be brief."},  # the bot's persona, passed by the host as sys.persona
        {"role": "user", "content": "Capital of France?"},
    ]


async def test_a_rate_limited_call_is_retried_by_the_error_policy(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Error(429), Reply(text="Second time lucky.")])

    outcome, log = await run(chat_bot(error={"retries": 2}), services=services(fake_openai), query="hi")

    assert outcome.answer == "Answer: Second time lucky."
    assert [event.attempt for event in log.of("node.started", "think")] == [1, 2]
    assert log.one("node.finished", "think").attempts == 2
    assert fake_openai.request_count == 2


async def test_a_provider_error_fails_the_node_and_the_run_with_its_code(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Error(401)])

    outcome, log = await run(chat_bot(error={"retries": 3}), services=services(fake_openai), query="hi")

    assert outcome.status == "failed"
    failed = log.one("node.failed", "think")
    assert failed.error.code == "model_error"
    assert failed.error.details["provider_message"] == "Incorrect API key provided."
    assert failed.attempts == 1  # not retryable: the key will not fix itself
    assert log.one("run.failed").error.code == "model_error"


async def test_the_fallback_model_is_named_in_the_trace(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Error(503)], model="gpt-4o-mini")
    fake_openai.script([Reply(text="From the backup.")], model="fallback-model")
    bot = chat_bot(fallback_model={"provider": "fake", "name": "fallback-model"})

    outcome, log = await run(bot, services=services(fake_openai), query="hi")

    assert outcome.answer == "Answer: From the backup."
    assert log.one("node.finished", "think").usage.model == "fake/fallback-model"
    assert {"fallback": {"from": "fake/gpt-4o-mini", "to": "fake/fallback-model", "error": "model_error"}} in [
        delta.data for delta in log.of("node.delta", "think")
    ]


async def test_the_intent_decides_which_answer_runs(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Reply(json={"intent": "refund", "reason": "Wants money back."})])
    bot = document(
        [
            node("start", "start"),
            node(
                "route",
                "intent",
                {"query": {"ref": ["sys", "query"]}, "intents": [{"id": "refund", "name": "Refund"}]},
            ),
            node("refund_reply", "answer", {"text": "Refund: {{ route.reason }}"}),
            node("other_reply", "answer", {"text": "Something else."}),
        ],
        [
            edge("start", "route"),
            edge("route", "refund_reply", "refund"),
            edge("route", "other_reply", "other"),
        ],
        settings={"model": MODEL},
    )

    outcome, log = await run(bot, services=services(fake_openai), query="I want my money back")

    assert outcome.answer == "Refund: Wants money back."
    assert log.one("node.finished", "route").branch == "refund"
    assert "other_reply" not in log.nodes_that_ran()
    assert log.of("node.delta", "route") == []  # the classifier's JSON is not streamed
