"""The answer stream: live LLM tokens, graph order across answers, nothing for untaken branches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from builder.engine.nodes.llm import LLMConfig, LLMNode
from builder.engine.runtime.contract import NodeContext, NodeResult
from builder.engine.runtime.events import RunEvent
from tests.engine.graphs import document, edge, node
from tests.engine.runtime.support import PATIENCE_S, EventLog, run


class FakeStreamingLLM:
    """Replaces ``LLMNode.run``: streams the words of ``replies[node_id]`` as ``node.delta`` text chunks.

    Before each chunk it waits until ``may_send(node_id, index)`` holds, so a test can prove what the
    user saw while the model was still generating.
    """

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.gate: Callable[[str, int], bool] = lambda node_id, index: True
        self.changed = asyncio.Event()
        self.finished: set[str] = set()

    async def run(self, config: LLMConfig, ctx: NodeContext) -> NodeResult:
        ctx.render(config.user_prompt)
        words = self.replies[ctx.node_id].split(" ")
        chunks = [word + (" " if index < len(words) - 1 else "") for index, word in enumerate(words)]
        for index, chunk in enumerate(chunks):
            while not self.gate(ctx.node_id, index):
                self.changed.clear()
                await asyncio.wait_for(self.changed.wait(), PATIENCE_S)
            await ctx.emit_node_delta({"text": chunk})
        self.finished.add(ctx.node_id)
        return NodeResult(outputs={"text": "".join(chunks), "usage": {}})


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> FakeStreamingLLM:
    fake = FakeStreamingLLM({})

    async def patched(self: LLMNode, config: LLMConfig, ctx: NodeContext) -> NodeResult:
        return await fake.run(config, ctx)

    monkeypatch.setattr(LLMNode, "run", patched)
    return fake


def _watching(llm: FakeStreamingLLM) -> EventLog:
    """An event log that wakes the fake LLM whenever something is emitted."""

    def on_event(event: RunEvent) -> None:
        llm.changed.set()

    return EventLog(on_event=on_event)


async def test_an_answer_forwards_llm_tokens_while_the_llm_is_still_generating(llm: FakeStreamingLLM) -> None:
    llm.replies["think"] = "Paris is the capital"
    doc = document(
        [
            node("start", "start"),
            node("think", "llm", {"user_prompt": "{{ sys.query }}"}),
            node("reply", "answer", {"text": "Result: {{ think.text }} (done)"}),
        ],
        [edge("start", "think"), edge("think", "reply")],
    )
    log = _watching(llm)
    # The LLM sends its first token only after the user has seen "Result: ", and each next token only
    # after the previous one reached the user as a message delta.
    words = ["Paris ", "is ", "the ", "capital"]
    llm.gate = lambda node_id, index: log.message() == "Result: " + "".join(words[:index])

    outcome, _ = await run(doc, query="capital of France?", log=log)

    finished = log.one("node.finished", "think")
    deltas = log.of("message.delta")
    assert [delta.text for delta in deltas] == ["Result: ", "Paris ", "is ", "the ", "capital", " (done)"]
    assert all(delta.node_id == "reply" for delta in deltas)
    # Every token reached the user before the LLM node finished.
    assert all(log.index(delta) < log.index(finished) for delta in deltas[:-1])
    assert log.index(deltas[0]) > log.index(log.one("node.started", "think"))
    # Each token is also in the trace as node.delta, just before its message.delta.
    node_deltas = log.of("node.delta", "think")
    assert [d.data for d in node_deltas] == [{"text": t} for t in ["Paris ", "is ", "the ", "capital"]]
    assert outcome.answer == "Result: Paris is the capital (done)"
    assert log.one("message.completed").text == outcome.answer


def _two_branches(first_answer_text: str = "A: {{ one.text }}. ") -> dict[str, Any]:
    """start → one (llm) → first (answer) and start → two (llm) → second (answer), in parallel."""
    return document(
        [
            node("start", "start"),
            node("one", "llm", {"user_prompt": "1"}),
            node("two", "llm", {"user_prompt": "2"}),
            node("first", "answer", {"text": first_answer_text}),
            node("second", "answer", {"text": "B: {{ two.text }}."}),
        ],
        [edge("start", "one"), edge("start", "two"), edge("one", "first"), edge("two", "second")],
    )


async def test_answers_stream_in_graph_order_even_when_a_later_one_is_ready_first(llm: FakeStreamingLLM) -> None:
    llm.replies.update({"one": "slow words", "two": "quick"})
    # "one" may only speak once "two" has finished completely.
    llm.gate = lambda node_id, index: node_id == "two" or "two" in llm.finished
    log = _watching(llm)

    outcome, _ = await run(_two_branches(), log=log)

    assert outcome.answer == "A: slow words. B: quick."
    owners = [delta.node_id for delta in log.of("message.delta")]
    assert owners == sorted(owners)  # every "first" delta before any "second" one
    assert log.index(log.one("node.finished", "two")) < log.index(log.of("message.delta", "first")[1])


async def test_an_answer_behind_an_undecided_branch_waits_and_an_untaken_one_never_speaks(
    llm: FakeStreamingLLM,
) -> None:
    llm.replies.update({"think": "yes indeed"})
    doc = document(
        [
            node("start", "start", {"inputs": [{"name": "mode"}]}),
            node(
                "route",
                "condition",
                {
                    "cases": [
                        {
                            "id": "chat",
                            "conditions": [{"left": {"ref": ["start", "mode"]}, "operator": "equals", "right": "chat"}],
                        }
                    ]
                },
            ),
            node("think", "llm", {"user_prompt": "go"}),
            node("chat", "answer", {"text": "Chat: {{ think.text }}"}),
            node("other", "answer", {"text": "Other mode"}),
        ],
        [
            edge("start", "route"),
            edge("route", "think", "chat"),
            edge("think", "chat"),
            edge("route", "other", "else"),
        ],
    )

    chat, chat_log = await run(doc, inputs={"mode": "chat"})
    other, other_log = await run(doc, inputs={"mode": "x"})

    assert chat.answer == "Chat: yes indeed"
    assert [delta.node_id for delta in chat_log.of("message.delta")] == ["chat"] * 3
    first_delta = chat_log.of("message.delta")[0]
    assert chat_log.index(first_delta) > chat_log.index(chat_log.one("node.finished", "route"))
    assert other.answer == "Other mode"
    assert {delta.node_id for delta in other_log.of("message.delta")} == {"other"}


async def test_templates_with_statements_are_sent_whole_when_the_answer_runs(llm: FakeStreamingLLM) -> None:
    llm.replies["one"] = "x y"
    llm.replies["two"] = "z"
    doc = _two_branches(first_answer_text="{% if one.text %}Got {{ one.text }}{% endif %}. ")

    outcome, log = await run(doc)

    assert outcome.answer == "Got x y. B: z."
    first = log.of("message.delta", "first")
    assert [delta.text for delta in first] == ["Got x y. "]
    assert log.index(first[0]) > log.index(log.one("node.started", "first"))


async def test_expressions_other_than_plain_references_are_sent_when_their_nodes_finish(
    llm: FakeStreamingLLM,
) -> None:
    llm.replies["think"] = "abc def"
    doc = document(
        [
            node("start", "start"),
            node("think", "llm", {"user_prompt": "go"}),
            node("reply", "answer", {"text": "Q: {{ sys.query }} A: {{ think.text | upper }}"}),
        ],
        [edge("start", "think"), edge("think", "reply")],
    )

    outcome, log = await run(doc, query="why")

    texts = [delta.text for delta in log.of("message.delta")]
    assert texts[0] == "Q: why A: "
    assert texts[1:] == ["ABC DEF"]
    assert log.index(log.of("message.delta")[1]) > log.index(log.one("node.finished", "think"))
    assert outcome.answer == "Q: why A: ABC DEF"


async def test_nothing_is_streamed_before_the_start_node_has_checked_its_inputs() -> None:
    doc = document(
        [
            node("start", "start", {"inputs": [{"name": "topic", "required": True}]}),
            node("hello", "answer", {"text": "Hello!"}),
        ],
        [edge("start", "hello")],
    )

    outcome, log = await run(doc)

    assert outcome.status == "failed"
    assert log.of("message.delta") == []


async def test_a_run_with_several_answers_completes_the_message_once(llm: FakeStreamingLLM) -> None:
    llm.replies.update({"one": "1", "two": "2"})

    outcome, log = await run(_two_branches())

    assert log.one("message.completed").text == outcome.answer == "A: 1. B: 2."
    assert log.types.index("message.completed") == len(log.types) - 2


def test_segments_split_text_and_references() -> None:
    from builder.engine.runtime.templating import Expression, Literal, segments

    found = segments("Hi {{ a-1.text }} and {{ b.text | upper }}{{ sys.query }}", frozenset({"a-1", "b"}))

    assert found is not None
    kinds: list[Any] = [
        (type(s).__name__, s.text if isinstance(s, Literal) else (sorted(s.node_ids), sorted(s.roots), s.live))
        for s in found
    ]
    assert kinds == [
        ("Literal", "Hi "),
        ("Expression", (["a-1"], [], ("a-1", "text"))),
        ("Literal", " and "),
        ("Expression", (["b"], [], None)),
        ("Expression", ([], ["sys"], None)),
    ]
    assert isinstance(found[1], Expression)
    assert segments("{% for x in y %}{{ x }}{% endfor %}", frozenset()) is None
