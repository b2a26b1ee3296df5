"""Conversation memory through the real services: a window of recent turns plus a running summary
of older ones, stored on the conversation and folded forward one run at a time.

Turns go through ``message_send`` and run where this mode runs them (inline, or the Celery worker);
the model is the scripted OpenAI-compatible server, which records every prompt it is sent.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from builder.bots.services import bot_publish
from builder.conversations.memory import ConversationWindow
from builder.conversations.models import Conversation, Message, Run
from builder.conversations.services import conversation_create, message_send
from builder.engine.nodes.model_calls import SUMMARY_HEADING
from tests.conversations.conftest import use_fake_model
from tests.factories import make_bot, make_workspace, owner_of
from tests.support.fake_openai import Error, FakeOpenAI, Reply, Step
from tests.support.graphs import linear_bot, node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.usefixtures("run_executor")]

TURNS = [
    "My name is Ada and my cat is called Miso.",
    "I live in Lyon.",
    "I like green tea.",
    "What should I drink tonight?",
    "What is my cat's name?",
]


def _memory_bot(**llm: Any) -> dict[str, Any]:
    return linear_bot(
        node("start", "start", {"inputs": []}),
        node("llm", "llm", {"user_prompt": "{{ sys.query }}", **llm}),
        node("answer", "answer", {"text": "{{ llm.text }}"}),
        settings={"persona": "Be brief."},
    )


class Chat:
    """One conversation with a bot whose model is the fake server; ``turn`` waits for the answer."""

    def __init__(self, fake: FakeOpenAI, **llm: Any) -> None:
        workspace = make_workspace()
        self.owner = owner_of(workspace)
        use_fake_model(workspace, self.owner, fake)
        bot = make_bot(workspace, draft=_memory_bot(**llm))
        bot_publish(actor=self.owner, bot=bot)
        bot.refresh_from_db()
        self.conversation = conversation_create(actor=self.owner, bot=bot)
        self.fake = fake

    async def turn(self, text: str, *steps: Step) -> Run:
        self.fake.script(list(steps))
        run = await sync_to_async(message_send)(actor=self.owner, conversation=self.conversation, text=text)
        for _ in range(400):
            await run.arefresh_from_db()
            if run.status not in Run.ACTIVE:
                assert run.status == Run.Status.FINISHED, run.error
                return run
            await asyncio.sleep(0.05)
        raise AssertionError("the run did not end")


def _summarising(request: Any) -> bool:
    return "running summary" in request.text("system")


def _chat(request: Any) -> list[tuple[str, str]]:
    return [(message["role"], message["content"]) for message in request.messages]


async def test_a_long_chat_keeps_its_beginning_in_a_summary_updated_turn_by_turn(fake_openai: FakeOpenAI) -> None:
    chat = await sync_to_async(Chat)(fake_openai, memory_window=2, memory_summary=True)
    await chat.turn(TURNS[0], Reply(text="Hello Ada!"))
    await chat.turn(TURNS[1], Reply(text="Lyon is lovely."))
    await chat.turn(TURNS[2], Reply(text="Noted."))
    assert not any(_summarising(request) for request in fake_openai.requests)  # all still in the window

    # Turn 4: turn 1 leaves the window and becomes the summary.
    await chat.turn(TURNS[3], Reply(text="S1: The user is Ada; her cat is Miso."), Reply(text="Green tea."))
    # Turn 5: only turn 2 is folded into that summary.
    last = await chat.turn(
        TURNS[4], Reply(text="S2: The user is Ada, lives in Lyon; her cat is Miso."), Reply(text="Miso.")
    )

    requests = fake_openai.requests
    assert [_summarising(request) for request in requests] == [False, False, False, True, False, True, False]
    first, second = requests[3].text("user"), requests[5].text("user")
    assert first.startswith("Previous summary:\n(none yet)")
    assert f"User: {TURNS[0]}" in first and "Assistant: Hello Ada!" in first and TURNS[1] not in first
    assert second.startswith("Previous summary:\nS1: The user is Ada; her cat is Miso.")
    assert f"User: {TURNS[1]}" in second and "Assistant: Lyon is lovely." in second
    assert TURNS[0] not in second and TURNS[2] not in second  # incremental: never the whole chat again

    assert _chat(requests[-1]) == [
        ("system", f"Be brief.\n\n{SUMMARY_HEADING}\nS2: The user is Ada, lives in Lyon; her cat is Miso."),
        ("user", TURNS[2]),
        ("assistant", "Noted."),
        ("user", TURNS[3]),
        ("assistant", "Green tea."),
        ("user", TURNS[4]),
    ]

    conversation = await Conversation.objects.aget(pk=chat.conversation.pk)
    turn_two_answer = await Message.objects.aget(conversation=conversation, content="Lyon is lovely.")
    assert conversation.summary == "S2: The user is Ada, lives in Lyon; her cat is Miso."
    assert conversation.summary_until == turn_two_answer.created_at

    step = await last.steps.aget(node_id="llm")
    assert step.inputs["history_messages"] == 4
    summary = step.inputs["history_summary"]
    assert (summary["used"], summary["folded_messages"], summary["stored"]) == (True, 2, True)
    assert summary["chars"] == len(conversation.summary)
    assert last.answer == "Miso."
    # The summarisation call's tokens count into the node's usage.
    assert step.usage["total_tokens"] > 0 and last.usage["total_tokens"] == step.usage["total_tokens"]


async def test_a_failed_summary_answers_from_the_window_and_is_retried_on_the_next_turn(
    fake_openai: FakeOpenAI,
) -> None:
    chat = await sync_to_async(Chat)(fake_openai, memory_window=1, memory_summary=True)
    await chat.turn(TURNS[0], Reply(text="Hello Ada!"))
    await chat.turn(TURNS[1], Reply(text="Lyon is lovely."))

    failed = await chat.turn(TURNS[2], Error(500, "The engine is overloaded"), Reply(text="Noted."))

    assert failed.answer == "Noted."
    assert _chat(fake_openai.last) == [
        ("system", "Be brief."),
        ("user", TURNS[1]),
        ("assistant", "Lyon is lovely."),
        ("user", TURNS[2]),
    ]
    step = await failed.steps.aget(node_id="llm")
    assert step.inputs["history_summary"]["used"] is False
    assert step.inputs["history_summary"]["error"]["code"] == "model_error"
    conversation = await Conversation.objects.aget(pk=chat.conversation.pk)
    assert (conversation.summary, conversation.summary_until) == ("", None)

    # The next turn folds in what the failed one could not, with what has left the window since.
    await chat.turn(TURNS[3], Reply(text="S1: Ada, cat Miso, lives in Lyon."), Reply(text="Green tea."))

    request = fake_openai.requests[-2].text("user")
    assert _summarising(fake_openai.requests[-2]) and TURNS[0] in request and TURNS[1] in request
    assert TURNS[2] not in request
    await conversation.arefresh_from_db()
    assert conversation.summary == "S1: Ada, cat Miso, lives in Lyon."


async def test_a_graph_with_only_a_window_behaves_as_before(fake_openai: FakeOpenAI) -> None:
    chat = await sync_to_async(Chat)(fake_openai, memory_window=2)
    for text in TURNS[:4]:
        await chat.turn(text, Reply(text=f"Re: {text}"))

    assert fake_openai.request_count == 4 and not any(_summarising(request) for request in fake_openai.requests)
    assert [text for _role, text in _chat(fake_openai.last)] == [
        "Be brief.",
        TURNS[1],
        f"Re: {TURNS[1]}",
        TURNS[2],
        f"Re: {TURNS[2]}",
        TURNS[3],
    ]
    conversation = await Conversation.objects.aget(pk=chat.conversation.pk)
    assert (conversation.summary, conversation.summary_until) == ("", None)


def _conversation_with_turns(count: int) -> Conversation:
    workspace = make_workspace()
    owner = owner_of(workspace)
    bot = make_bot(workspace, draft=_memory_bot(memory_window=1, memory_summary=True))
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    conversation = conversation_create(actor=owner, bot=bot)
    for n in range(count):
        Message.objects.create(conversation=conversation, role=Message.Role.USER, content=f"question {n}")
        Message.objects.create(conversation=conversation, role=Message.Role.ASSISTANT, content=f"answer {n}")
    return conversation


async def test_two_runs_summarising_at_once_do_not_overwrite_each_other() -> None:
    conversation = await sync_to_async(_conversation_with_turns)(3)
    first = ConversationWindow(conversation.pk, uuid.uuid4())
    second = ConversationWindow(conversation.pk, uuid.uuid4())
    seen_first = await first.history(1, unsummarised=20)
    seen_second = await second.history(1, unsummarised=20)
    assert [m.text for m in seen_first.unsummarised] == ["question 0", "answer 0", "question 1", "answer 1"]
    until = seen_first.unsummarised[-1].id

    assert await first.save_summary("Summary A", until=until, previous=seen_first.summary_until) is True
    assert await second.save_summary("Summary B", until=until, previous=seen_second.summary_until) is False

    after = await first.history(1, unsummarised=20)
    assert after.summary == "Summary A" and after.unsummarised == []
    assert [m.text for m in after.messages] == ["question 2", "answer 2"]
