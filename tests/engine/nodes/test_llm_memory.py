"""The llm node's conversation memory: a window of recent turns plus a running summary of older ones,
with a fake ConversationMemory that follows the host's rules and the fake OpenAI server as the model."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import ValidationError

from builder.engine.nodes.llm import LLMConfig
from builder.engine.nodes.model_calls import SUMMARY_HEADING, SUMMARY_INPUT_CHARS, SUMMARY_MESSAGE_CHARS
from builder.engine.runtime.contract import ConversationHistory, RuntimeServices
from tests.engine.nodes.support import ServerModels, StubContext, run_node
from tests.support.fake_openai import Error, FakeOpenAI, Reply

MODEL = {"provider": "fake", "name": "gpt-4o-mini"}
FIRST_TURN = ("My name is Ada and my cat is called Miso.", "Nice to meet you, Ada!")


class FakeMemory:
    """``ConversationMemory`` over past turns kept in a list, as the host keeps them: the window is the
    last ``2 * window`` messages, the summary's marker is the index of the last message it covers
    and a save is refused when the marker moved since the history was read."""

    def __init__(self, turns: list[tuple[str, str]]) -> None:
        self.messages: list[BaseMessage] = []
        self.summary = ""
        self.until: int | None = None
        self.calls: list[tuple[int, int]] = []
        for user, answer in turns:
            self.add_turn(user, answer)

    def add_turn(self, user: str, answer: str) -> None:
        for message_type in (HumanMessage, AIMessage):
            text = user if message_type is HumanMessage else answer
            self.messages.append(message_type(text, id=str(len(self.messages))))

    async def history(self, window: int, *, unsummarised: int = 0) -> ConversationHistory:
        self.calls.append((window, unsummarised))
        start = max(len(self.messages) - window * 2, 0) if window > 0 else len(self.messages)
        found = ConversationHistory(messages=[_plain(m) for m in self.messages[start:]])
        if unsummarised <= 0:
            return found
        found.summary, found.summary_until = self.summary, self.until
        first = 0 if self.until is None else self.until + 1
        found.unsummarised = self.messages[first:start][: unsummarised * 2]
        return found

    async def save_summary(self, summary: str, *, until: str, previous: Any) -> bool:
        if previous != self.until:
            return False
        self.summary, self.until = summary, int(until)
        return True


def _plain(message: BaseMessage) -> BaseMessage:
    return type(message)(message.text)


def context(server: FakeOpenAI, memory: FakeMemory | None) -> StubContext:
    return StubContext(RuntimeServices(chat_models=ServerModels(server), memory=memory))


def turns(count: int) -> list[tuple[str, str]]:
    return [FIRST_TURN] + [(f"Question {n}?", f"Answer {n}.") for n in range(2, count + 1)]


def chat(request: Any) -> list[tuple[str, str]]:
    return [(message["role"], message["content"]) for message in request.messages]


def is_summarising(request: Any) -> bool:
    return "running summary" in request.text("system")


# --- the window alone (graphs saved before the summary existed) -------------------------------------


async def test_memory_window_puts_past_turns_between_system_and_user(fake_openai: FakeOpenAI) -> None:
    memory = FakeMemory([("My name is Ada.", "Hello Ada!")])

    result = await run_node(
        "llm",
        {"model": MODEL, "system_prompt": "Be kind.", "user_prompt": "Who am I?", "memory_window": 3},
        context(fake_openai, memory),
    )

    assert memory.calls == [(3, 0)]
    assert chat(fake_openai.last) == [
        ("system", "Be kind."),
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada!"),
        ("user", "Who am I?"),
    ]
    assert result.inputs == {"system_prompt": "Be kind.", "user_prompt": "Who am I?", "history_messages": 2}


async def test_without_a_summary_turns_older_than_the_window_are_left_out(fake_openai: FakeOpenAI) -> None:
    memory = FakeMemory(turns(4))

    await run_node("llm", {"model": MODEL, "user_prompt": "Next?", "memory_window": 2}, context(fake_openai, memory))

    assert fake_openai.request_count == 1
    assert chat(fake_openai.last) == [
        ("user", "Question 3?"),
        ("assistant", "Answer 3."),
        ("user", "Question 4?"),
        ("assistant", "Answer 4."),
        ("user", "Next?"),
    ]
    assert memory.summary == "" and memory.until is None


def test_saved_graphs_with_only_a_window_keep_their_meaning() -> None:
    config = LLMConfig.model_validate({"user_prompt": "{{ sys.query }}", "memory_window": 10})

    assert (config.memory_window, config.memory_summary) == (10, False)
    with pytest.raises(ValidationError):
        LLMConfig.model_validate({"user_prompt": "x", "memory_summary": True, "memory_summary_max_tokens": 10})


# --- the running summary ------------------------------------------------------------------------------


async def test_the_summary_of_older_turns_goes_before_the_window(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        [Reply(text="The user is Ada; her cat is Miso.", usage=(60, 9)), Reply(text="You are Ada.", usage=(90, 4))]
    )
    memory = FakeMemory(turns(3))
    ctx = context(fake_openai, memory)
    config = {
        "model": MODEL,
        "system_prompt": "Be kind.",
        "user_prompt": "Who am I?",
        "memory_window": 2,
        "memory_summary": True,
        "memory_summary_max_tokens": 300,
    }

    result = await run_node("llm", config, ctx)

    summarising, answering = fake_openai.requests
    assert is_summarising(summarising) and "language of the conversation" in summarising.text("system")
    assert "about 300 tokens" in summarising.text("system")
    request = summarising.text("user")
    assert request.startswith("Previous summary:\n(none yet)")
    assert f"User: {FIRST_TURN[0]}" in request and f"Assistant: {FIRST_TURN[1]}" in request
    assert "Question 2?" not in request  # still in the window: not summarised
    assert chat(answering) == [
        ("system", f"Be kind.\n\n{SUMMARY_HEADING}\nThe user is Ada; her cat is Miso."),
        ("user", "Question 2?"),
        ("assistant", "Answer 2."),
        ("user", "Question 3?"),
        ("assistant", "Answer 3."),
        ("user", "Who am I?"),
    ]
    assert (memory.summary, memory.until) == ("The user is Ada; her cat is Miso.", 1)
    assert result.outputs["text"] == "You are Ada."
    assert ctx.streamed_text == "You are Ada."  # the summary is not shown to the user
    assert result.inputs["history_messages"] == 4
    assert result.inputs["history_summary"] == {
        "used": True,
        "chars": len("The user is Ada; her cat is Miso."),
        "text": "The user is Ada; her cat is Miso.",
        "folded_messages": 2,
        "stored": True,
    }
    assert result.usage is not None and result.usage.total_tokens == 69 + 94
    assert result.usage.model == "fake/gpt-4o-mini" and result.outputs["usage"]["total_tokens"] == 163


async def test_each_run_folds_in_only_the_turns_that_left_the_window(fake_openai: FakeOpenAI) -> None:
    memory = FakeMemory(turns(3))
    config = {"model": MODEL, "user_prompt": "Go on.", "memory_window": 2, "memory_summary": True}
    fake_openai.script([Reply(text="S1: Ada, cat Miso."), Reply(text="Reply 4.")])
    await run_node("llm", config, context(fake_openai, memory))
    memory.add_turn("Go on.", "Reply 4.")
    fake_openai.reset()
    fake_openai.script([Reply(text="S2: Ada, cat Miso, asked question 2."), Reply(text="Reply 5.")])

    await run_node("llm", config, context(fake_openai, memory))

    summarising, answering = fake_openai.requests
    request = summarising.text("user")
    assert request.startswith("Previous summary:\nS1: Ada, cat Miso.")
    assert "User: Question 2?" in request and "Assistant: Answer 2." in request
    assert FIRST_TURN[0] not in request and "Question 3?" not in request
    assert chat(answering)[0] == ("system", f"{SUMMARY_HEADING}\nS2: Ada, cat Miso, asked question 2.")
    assert [text for _role, text in chat(answering)[1:]] == ["Question 3?", "Answer 3.", "Go on.", "Reply 4.", "Go on."]
    assert memory.until == 3

    # Nothing left the window since: the stored summary is used as it is, with no model call.
    fake_openai.reset()
    result = await run_node("llm", config, context(fake_openai, memory))
    assert fake_openai.request_count == 1 and not is_summarising(fake_openai.last)
    assert chat(fake_openai.last)[0] == ("system", f"{SUMMARY_HEADING}\nS2: Ada, cat Miso, asked question 2.")
    trace = result.inputs["history_summary"]
    assert trace["used"] is True and "folded_messages" not in trace


async def test_a_failed_summary_falls_back_to_the_window_and_is_retried_next_time(fake_openai: FakeOpenAI) -> None:
    memory = FakeMemory(turns(3))
    config = {"model": MODEL, "user_prompt": "Who am I?", "memory_window": 2, "memory_summary": True}
    fake_openai.script([Error(500, "The engine is overloaded"), Reply(text="I do not know.")])

    result = await run_node("llm", config, context(fake_openai, memory))

    assert result.outputs["text"] == "I do not know."
    assert [role for role, _text in chat(fake_openai.last)] == ["user", "assistant", "user", "assistant", "user"]
    assert result.inputs["history_summary"] == {
        "used": False,
        "chars": 0,
        "text": "",
        "error": {"code": "model_error", "message": "The model fake/gpt-4o-mini failed: The engine is overloaded"},
    }
    assert (memory.summary, memory.until) == ("", None)

    fake_openai.reset()
    await run_node("llm", config, context(fake_openai, memory))
    assert is_summarising(fake_openai.requests[0]) and FIRST_TURN[0] in fake_openai.requests[0].text("user")
    assert memory.until == 1


async def test_with_no_window_the_summary_stands_for_the_whole_conversation(fake_openai: FakeOpenAI) -> None:
    memory = FakeMemory(turns(2))
    fake_openai.script([Reply(text="Ada, cat Miso, asked question 2."), Reply(text="OK.")])

    result = await run_node(
        "llm", {"model": MODEL, "user_prompt": "Hi", "memory_summary": True}, context(fake_openai, memory)
    )

    assert "Question 2?" in fake_openai.requests[0].text("user")
    assert chat(fake_openai.last) == [
        ("system", f"{SUMMARY_HEADING}\nAda, cat Miso, asked question 2."),
        ("user", "Hi"),
    ]
    assert result.inputs["history_messages"] == 0 and memory.until == 3


async def test_a_long_backlog_is_summarised_a_batch_at_a_time(fake_openai: FakeOpenAI) -> None:
    long_text = "word " * 1500  # 7,500 characters: cut to SUMMARY_MESSAGE_CHARS for the summariser
    memory = FakeMemory([(f"{n} {long_text}", f"reply {n}") for n in range(20)])
    fake_openai.script([Reply(text="A long story."), Reply(text="OK.")])

    await run_node(
        "llm",
        {"model": MODEL, "user_prompt": "Hi", "memory_window": 1, "memory_summary": True},
        context(fake_openai, memory),
    )

    request = fake_openai.requests[0].text("user")
    folded = request.count("\nUser: ") + request.count("\nAssistant: ")
    assert 2 <= folded < 38 and len(request) < SUMMARY_INPUT_CHARS + 2 * SUMMARY_MESSAGE_CHARS
    assert request.count(" […]") == request.count("\nUser: ")
    assert memory.until == folded - 1  # the marker is the last message folded in; the rest waits


async def test_outside_a_conversation_there_is_no_history(fake_openai: FakeOpenAI) -> None:
    result = await run_node(
        "llm",
        {"model": MODEL, "user_prompt": "Hi", "memory_window": 5, "memory_summary": True},
        context(fake_openai, None),
    )

    assert fake_openai.request_count == 1 and chat(fake_openai.last) == [("user", "Hi")]
    assert result.inputs["history_messages"] == 0
    assert result.inputs["history_summary"] == {"used": False, "chars": 0, "text": ""}
