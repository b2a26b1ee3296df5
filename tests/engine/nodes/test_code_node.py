"""The code node: inputs resolved, main() run in the real sandbox, outputs checked against their
declared types; and end to end in a graph (start → code → http_request → end) with GraphRunner."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import NodeError, RuntimeServices
from builder.engine.sandbox import SandboxCodeRunner, SandboxLimits
from builder.engine.values import Ref
from tests.engine.graphs import document, edge, node
from tests.engine.nodes.support import StubContext, run_node
from tests.engine.runtime.support import run
from tests.support.http_server import LocalHttpServer, serve


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxCodeRunner]:
    runner = SandboxCodeRunner(SandboxLimits(warm=1))
    yield runner
    runner.close()


def code_node(code: str, outputs: dict[str, str], inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "inputs": inputs or {},
        "outputs": [{"name": name, "type": type_name} for name, type_name in outputs.items()],
    }


async def test_inputs_are_resolved_and_outputs_returned(sandbox: SandboxCodeRunner) -> None:
    ctx = StubContext(RuntimeServices(code=sandbox), outputs={"llm1": {"text": "three blind mice"}})
    data = code_node(
        "def main(text, limit):\n    words = text.split()[:limit]\n    return {'words': words, 'count': len(words)}",
        {"words": "array[string]", "count": "integer"},
        {"text": {"ref": ["llm1", "text"]}, "limit": 2},
    )

    result = await run_node("code", data, ctx)

    assert result.outputs == {"words": ["three", "blind"], "count": 2}
    assert result.inputs == {"text": "three blind mice", "limit": 2}


async def test_undeclared_keys_are_dropped_and_whole_floats_become_integers(sandbox: SandboxCodeRunner) -> None:
    data = code_node("def main():\n    return {'n': 4.0, 'scratch': [1, 2]}", {"n": "integer"})

    result = await run_node("code", data, StubContext(RuntimeServices(code=sandbox)))

    assert result.outputs == {"n": 4}
    assert isinstance(result.outputs["n"], int)


@pytest.mark.parametrize(
    ("returned", "declared", "message"),
    [
        ("{}", {"total": "number"}, "main() did not return the output total."),
        ("{'total': '12'}", {"total": "number"}, "The output total must be of type number, not str."),
        ("{'flag': 1}", {"flag": "boolean"}, "The output flag must be of type boolean, not int."),
        ("{'n': 1.5}", {"n": "integer"}, "The output n must be of type integer, not float."),
        ("{'tags': ['a', 2]}", {"tags": "array[string]"}, "The output tags must be of type array[string], not list."),
        ("{'info': [1]}", {"info": "object"}, "The output info must be of type object, not list."),
    ],
)
async def test_a_missing_or_mistyped_output_is_named(
    sandbox: SandboxCodeRunner, returned: str, declared: dict[str, str], message: str
) -> None:
    data = code_node(f"def main():\n    return {returned}", declared)

    with pytest.raises(NodeError) as caught:
        await run_node("code", data, StubContext(RuntimeServices(code=sandbox)))

    assert (caught.value.code, caught.value.message) == ("code_bad_result", message)


async def test_the_sandbox_errors_come_through(sandbox: SandboxCodeRunner) -> None:
    data = code_node("def main():\n    return {'x': 1 / 0}", {"x": "number"})

    with pytest.raises(NodeError) as caught:
        await run_node("code", data, StubContext(RuntimeServices(code=sandbox)))

    assert caught.value.code == "code_error"
    assert caught.value.message == "ZeroDivisionError: division by zero"


async def test_the_error_policy_timeout_is_the_sandbox_timeout(sandbox: SandboxCodeRunner) -> None:
    data = {**code_node("def main():\n    while True:\n        pass", {"x": "number"}), "error": {"timeout_s": 0.5}}

    with pytest.raises(NodeError) as caught:
        await run_node("code", data, StubContext(RuntimeServices(code=sandbox)))

    assert caught.value.code == "code_timeout"


async def test_without_a_sandbox_the_node_is_not_configured() -> None:
    data = code_node("def main():\n    return {'x': 1}", {"x": "number"})

    with pytest.raises(NodeError) as caught:
        await run_node("code", data, StubContext(RuntimeServices()))

    assert caught.value.code == "not_configured"


# --- end to end ------------------------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[LocalHttpServer]:
    with serve() as server:
        yield server


def _pipeline(api: LocalHttpServer) -> dict[str, Any]:
    """start(city, days) → code(plan) → http_request(GET /echo?city=…&days=…) → end."""
    code = """
def main(city, days):
    return {"slug": city.strip().lower().replace(" ", "-"), "nights": max(days - 1, 0)}
"""
    return document(
        [
            node("start", "start", {"inputs": [{"name": "city"}, {"name": "days", "type": "integer"}]}),
            node(
                "plan",
                "code",
                code_node(
                    code,
                    {"slug": "string", "nights": "integer"},
                    {"city": {"ref": ["start", "city"]}, "days": {"ref": ["start", "days"]}},
                ),
            ),
            node(
                "call",
                "http_request",
                {
                    "url": api.url("/echo") + "?city={{ plan.slug }}",
                    "query": {"nights": {"ref": ["plan", "nights"]}},
                    "auth": {"type": "bearer", "token": "tok-123"},
                },
            ),
            node(
                "done",
                "end",
                {
                    "outputs": [
                        {"name": "status", "value": {"ref": ["call", "status_code"]}},
                        {"name": "query", "value": {"ref": ["call", "json", "query"]}},
                    ]
                },
            ),
        ],
        [edge("start", "plan"), edge("plan", "call"), edge("call", "done")],
    )


async def test_a_graph_with_code_and_http_request_runs_end_to_end(
    sandbox: SandboxCodeRunner, api: LocalHttpServer
) -> None:
    services = RuntimeServices(code=sandbox, http=SsrfSafeHttpClient(allow=["127.0.0.1"]))

    outcome, log = await run(_pipeline(api), services=services, inputs={"city": " New York ", "days": "3"})

    assert outcome.status == "finished", outcome.error
    assert outcome.outputs == {"status": 200, "query": {"city": ["new-york"], "nights": ["2"]}}
    assert log.one("node.finished", "plan").outputs == {"slug": "new-york", "nights": 2}
    call = log.one("node.finished", "call")
    assert call.inputs["headers"] == {"Authorization": "******"}  # the trace never shows the token
    assert api.requests[0].headers["authorization"] == "Bearer tok-123"


async def test_in_a_graph_ssrf_protection_fails_the_node(sandbox: SandboxCodeRunner, api: LocalHttpServer) -> None:
    services = RuntimeServices(code=sandbox, http=SsrfSafeHttpClient())  # 127.0.0.1 not allowed

    outcome, log = await run(_pipeline(api), services=services, inputs={"city": "Oslo", "days": 1})

    assert outcome.status == "failed"
    assert log.one("node.failed", "call").error.code == "ssrf_blocked"
    assert api.requests == []


async def test_a_failing_code_node_fails_the_run_with_its_traceback(sandbox: SandboxCodeRunner) -> None:
    doc = document(
        [
            node("start", "start"),
            node("boom", "code", code_node("def main():\n    raise ValueError('bad data')", {"x": "string"})),
            node("done", "end"),
        ],
        [edge("start", "boom"), edge("boom", "done")],
    )

    outcome, log = await run(doc, services=RuntimeServices(code=sandbox))

    assert outcome.status == "failed"
    error = log.one("node.failed", "boom").error
    assert (error.code, error.message) == ("code_error", "ValueError: bad data")
    assert 'File "<code>", line 2, in main' in error.details["traceback"]


def test_ref_is_the_reference_type() -> None:
    # StubContext resolves Ref objects: the config model turns {"ref": [...]} into one.
    assert isinstance(Ref.model_validate({"ref": ["a", "b"]}), Ref)
