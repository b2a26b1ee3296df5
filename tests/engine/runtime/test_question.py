"""Question nodes pause the run; a new runner with the same checkpointer and thread resumes it."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from builder.engine.runtime.contract import NodeContext, NodeResult
from builder.engine.runtime.runner import RunRequest
from tests.engine.graphs import document, edge, node
from tests.engine.runtime.support import PATIENCE_S, Behaviour, EventLog, run, runner_for


def _interview() -> dict[str, Any]:
    """start → hello (answer) → ask (question) → reply (answer) → done (end); side: counter in parallel."""
    return document(
        [
            node("start", "start"),
            node("hello", "answer", {"text": "Hi {{ sys.user_id }}."}),
            node(
                "ask",
                "question",
                {"question": "Which size, {{ sys.user_id }}?", "answer_type": "choice", "choices": ["S", "M"]},
            ),
            node("reply", "answer", {"text": " You chose {{ ask.answer }}."}),
            node("done", "end", {"outputs": [{"name": "size", "value": {"ref": ["ask", "answer"]}}]}),
        ],
        [edge("start", "hello"), edge("hello", "ask"), edge("ask", "reply"), edge("reply", "done")],
    )


async def test_a_question_pauses_the_run_and_a_new_runner_resumes_it() -> None:
    saver = InMemorySaver()

    first, log = await run(runner_for(_interview(), checkpointer=saver), thread_id="t", sys={"user_id": "ada"})

    assert first.status == "paused"
    assert first.paused_node_id == "ask"
    assert first.answer == "Hi ada."
    paused = log.one("run.paused")
    assert paused.node_id == "ask"
    assert paused.question == {"text": "Which size, ada?", "answer_type": "choice", "choices": ["S", "M"]}
    assert log.types[-2:] == ["message.completed", "run.paused"]
    assert log.one("message.completed").text == "Hi ada."
    assert log.of("node.started", "reply") == []

    resumed_runner = runner_for(_interview(), checkpointer=saver)  # e.g. another worker process
    second, log2 = await run(
        resumed_runner, thread_id="t", resume="M", first_seq=first.last_seq + 1, sys={"user_id": "ada"}
    )

    assert second.status == "finished"
    assert second.outputs == {"size": "M"}
    assert second.answer == " You chose M."  # what was sent before the pause is not sent again
    assert log2.one("run.started").resumed is True
    assert log2.of("node.started", "ask") == []  # its node.started is in the first part of the log
    assert log2.one("node.finished", "ask").outputs == {"answer": "M"}
    assert log2.nodes_that_ran() == ["reply", "done"]
    assert log2.events[0].seq == first.last_seq + 1


async def test_work_done_beside_a_question_is_not_done_again_on_resume(probes: dict[str, Behaviour]) -> None:
    calls: list[str] = []

    async def side_job(ctx: NodeContext) -> NodeResult:
        calls.append(ctx.run_id)
        return NodeResult(outputs={"text": "side"})

    probes["side"] = side_job
    doc = document(
        [
            node("start", "start"),
            node("ask", "question", {"question": "Name?"}),
            node("side", "probe", {"behaviour": "side"}),
            node("early", "answer", {"text": "[{{ side.text }}]"}),
            node("reply", "answer", {"text": "{{ ask.answer }}+{{ side.text }}"}),
        ],
        [
            edge("start", "ask"),
            edge("start", "side"),
            edge("side", "early"),
            edge("ask", "reply"),
            edge("early", "reply"),
        ],
    )
    saver = InMemorySaver()

    first, _ = await run(runner_for(doc, checkpointer=saver), thread_id="t", run_id="leg1")
    second, _ = await run(
        runner_for(doc, checkpointer=saver), thread_id="t", run_id="leg2", resume="Bo", first_seq=first.last_seq + 1
    )

    assert calls == ["leg1"]
    assert (first.status, second.status) == ("paused", "finished")
    assert first.answer == "[side]"
    assert second.answer == "Bo+side"


async def test_variables_set_before_a_pause_survive_the_resume() -> None:
    doc = document(
        [
            node("start", "start"),
            node("count", "variable_assign", {"assignments": [{"variable": "conv.n", "value": 7}]}),
            node("ask", "question", {"question": "Sure?"}),
            node("reply", "answer", {"text": "{{ conv.n }} {{ ask.answer }}"}),
        ],
        [edge("start", "count"), edge("count", "ask"), edge("ask", "reply")],
        variables=[{"name": "n", "type": "number", "default": 0}],
    )
    saver = InMemorySaver()

    first, _ = await run(runner_for(doc, checkpointer=saver), thread_id="t")
    second, _ = await run(
        runner_for(doc, checkpointer=saver), thread_id="t", resume="yes", first_seq=first.last_seq + 1
    )

    assert first.conv == {"n": 7}
    assert (second.answer, second.conv) == ("7 yes", {"n": 7})


async def test_resuming_a_thread_that_is_not_paused_fails_the_run() -> None:
    saver = InMemorySaver()

    outcome, log = await run(runner_for(_interview(), checkpointer=saver), thread_id="nothing-here", resume="M")

    assert outcome.status == "failed"
    assert log.one("run.failed").error.code == "not_paused"


async def test_without_a_checkpointer_a_question_fails_its_node() -> None:
    outcome, log = await run(_interview())

    assert log.one("node.failed", "ask").error.code == "not_configured"
    assert outcome.status == "failed"


async def test_a_question_inside_a_loop_body_is_refused() -> None:
    doc = document(
        [
            node("start", "start"),
            node("again", "loop", {"max_iterations": 2}),
            node("ask", "question", {"question": "More?"}, parentId="again"),
            node("done", "end"),
        ],
        [edge("start", "again"), edge("again", "ask", "body"), edge("again", "done", "done")],
    )

    outcome, log = await run(runner_for(doc, checkpointer=InMemorySaver()))

    assert log.one("node.failed", "ask").error.code == "not_supported"
    assert outcome.status == "failed"


async def test_two_runs_can_pause_on_one_checkpointer_independently() -> None:
    saver = InMemorySaver()
    runner = runner_for(_interview(), checkpointer=saver)

    paused = await asyncio.gather(*(run(runner, thread_id=f"t{i}", run_id=f"r{i}") for i in range(2)))
    answers = await asyncio.gather(
        *(
            run(
                runner,
                thread_id=f"t{i}",
                run_id=f"r{i}",
                resume=size,
                log=EventLog(first_seq=outcome.last_seq + 1),
                first_seq=outcome.last_seq + 1,
            )
            for i, ((outcome, _), size) in enumerate(zip(paused, ["S", "M"], strict=True))
        )
    )

    assert [outcome.outputs for outcome, _ in answers] == [{"size": "S"}, {"size": "M"}]


async def test_a_run_whose_worker_died_is_recovered_from_its_last_checkpoint(probes: dict[str, Behaviour]) -> None:
    calls: list[str] = []
    second_started = asyncio.Event()

    async def first(ctx: NodeContext) -> NodeResult:
        calls.append("first")
        return NodeResult(outputs={"text": "one"})

    async def second(ctx: NodeContext) -> NodeResult:
        calls.append("second")
        if calls.count("second") == 1:
            second_started.set()
            await asyncio.Event().wait()  # the worker dies here
        return NodeResult(outputs={"text": "two"})

    probes["first"], probes["second"] = first, second
    doc = document(
        [
            node("start", "start"),
            node("a", "probe", {"behaviour": "first"}),
            node("b", "probe", {"behaviour": "second"}),
            node("reply", "answer", {"text": "{{ a.text }} {{ b.text }}"}),
        ],
        [edge("start", "a"), edge("a", "b"), edge("b", "reply")],
    )
    saver = InMemorySaver()
    dying = asyncio.create_task(
        runner_for(doc, checkpointer=saver).run(RunRequest(run_id="r", thread_id="t"), EventLog())
    )
    await asyncio.wait_for(second_started.wait(), PATIENCE_S)
    dying.cancel()
    await asyncio.gather(dying, return_exceptions=True)

    log = EventLog(first_seq=100)
    outcome = await runner_for(doc, checkpointer=saver).recover(
        RunRequest(run_id="r", thread_id="t", first_seq=100), log
    )

    assert outcome.status == "finished"
    assert outcome.answer == "one two"
    assert calls == ["first", "second", "second"]
    assert log.nodes_that_ran() == ["b", "reply"]
    log.assert_complete()


async def test_recovering_a_thread_without_a_checkpoint_fails_the_run() -> None:
    log = EventLog()
    runner = runner_for(_interview(), checkpointer=InMemorySaver())

    outcome = await runner.recover(RunRequest(run_id="r", thread_id="never-ran"), log)

    assert (outcome.status, log.one("run.failed").error.code) == ("failed", "not_recoverable")
