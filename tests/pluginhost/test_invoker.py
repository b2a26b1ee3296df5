"""The host's ToolInvoker: a tool's every failure is a typed NodeError, never a crashed run."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from builder.accounts.models import Workspace
from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import NodeError, RuntimeServices
from builder.pluginhost.invoker import FileCallback, PluginToolInvoker, StoredFile
from builder.pluginhost.manager import PluginHost
from builder.pluginhost.models import PluginInstallation
from builder.pluginhost.services import plugin_configure, plugin_enable
from tests.engine.graphs import document, edge, node
from tests.engine.nodes.support import ServerModels, StubContext, run_node
from tests.engine.runtime.support import run
from tests.factories import make_workspace, owner_of
from tests.support.fake_openai import FakeOpenAI, Reply, ToolCall

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("example_host", "_close_async_orm_connections"),
]

SECRET = "sk-live-abcdef123456"


@pytest.fixture
async def _close_async_orm_connections() -> AsyncIterator[None]:
    """The invoker reads settings with the async ORM, in asgiref's worker thread; close that
    thread's connection after each test, or PostgreSQL cannot drop the test database."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def workspace() -> Workspace:
    """A workspace with the example plugin configured (a secret key) and enabled."""
    workspace = make_workspace()
    owner = owner_of(workspace)
    plugin_configure(actor=owner, workspace=workspace, plugin_id="example", config={"api_key": SECRET, "region": "us"})
    plugin_enable(actor=owner, workspace=workspace, plugin_id="example")
    return workspace


def invoker(workspace: Workspace | Any, **options: Any) -> PluginToolInvoker:
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    return PluginToolInvoker(workspace_id=workspace_id, run_id="run-7", http=SsrfSafeHttpClient(), **options)


def context(tools: PluginToolInvoker) -> StubContext:
    return StubContext(RuntimeServices(tools=tools))


async def failure(tools: PluginToolInvoker, plugin: str, tool: str, inputs: dict[str, Any] | None = None) -> NodeError:
    with pytest.raises(NodeError) as caught:
        await tools.invoke(plugin, tool, inputs or {}, context(tools))
    return caught.value


async def test_a_tool_runs_with_the_workspace_settings_and_reports_progress(workspace: Workspace) -> None:
    tools = invoker(workspace)
    ctx = context(tools)

    result = await tools.invoke("example", "echo", {"text": "hi"}, ctx)
    keyed = await tools.invoke("example", "needs_key", {}, ctx)

    assert result == {"text": "hi", "region": "us"}
    assert keyed == {"text": "key ends with 3456", "region": "us"}
    assert ctx.deltas_with("tool_progress") == ["example/echo", "example/echo"]
    assert [delta["percent"] for delta in ctx.deltas if "tool_progress" in delta] == [50.0, 100.0]


async def test_progress_goes_to_the_callback_when_one_is_given(workspace: Workspace) -> None:
    seen: list[tuple[str, float | None, str]] = []

    async def on_progress(tool: str, percent: float | None, note: str) -> None:
        seen.append((tool, percent, note))

    tools = invoker(workspace, on_progress=on_progress)
    ctx = context(tools)
    await tools.invoke("example", "echo", {"text": "hi"}, ctx)

    assert seen == [("example/echo", 50.0, "halfway"), ("example/echo", 100.0, "done")]
    assert ctx.deltas == []


@pytest.mark.parametrize(
    ("tool", "inputs", "code", "message"),
    [
        ("echo", {"times": 2}, "invalid_tool_input", "Invalid input for the echo tool: text: Field required"),
        ("explode", {}, "tool_failed", "The explode tool failed: RuntimeError: the upstream refused key [redacted]"),
        ("hang", {}, "tool_timeout", "The hang tool did not finish within 0.2 seconds."),
        ("wrong_type", {}, "invalid_tool_output", "The wrong_type tool returned str instead of Nothing."),
        ("refuse", {}, "quota_exceeded", "The quota of this account is used up."),
        (
            "fetch",
            {"url": "http://127.0.0.1:9/"},
            "network_not_permitted",
            "The example plugin may not connect to 127.0.0.1: its manifest does not list that host.",
        ),
    ],
)
async def test_every_way_a_tool_fails_is_a_typed_error(
    workspace: Workspace, tool: str, inputs: dict[str, Any], code: str, message: str
) -> None:
    error = await failure(invoker(workspace), "example", tool, inputs)

    assert (error.code, error.message) == (code, message)
    assert (error.details["plugin"], error.details["tool"]) == ("example", tool)
    assert error.retryable is (code in ("tool_timeout", "quota_exceeded"))
    assert SECRET not in repr(error.details)


async def test_a_tool_that_ignores_its_cancellation_does_not_hold_the_run(workspace: Workspace) -> None:
    started = time.monotonic()

    error = await failure(invoker(workspace), "example", "stubborn")

    assert error.code == "tool_timeout"
    assert time.monotonic() - started < 1.6


async def test_missing_credentials_are_named(workspace: Workspace) -> None:
    # Settings saved before the key became required, or a key removed behind the host's back.
    await PluginInstallation.objects.filter(workspace=workspace).aupdate(secrets_encrypted={}, secret_hints={})

    error = await failure(invoker(workspace), "example", "needs_key")

    assert error.code == "missing_credentials"
    assert error.message.startswith("The example plugin needs api_key")
    assert error.details["field"] == "api_key"


async def test_unknown_refused_and_disabled_plugins_fail_before_running(workspace: Workspace) -> None:
    other_workspace = await sync_to_async(make_workspace)(name="Other")

    unknown = await failure(invoker(workspace), "nothing", "echo")
    no_tool = await failure(invoker(workspace), "example", "teleport")
    refused = await failure(invoker(workspace), "broken", "ping")
    disabled = await failure(invoker(other_workspace), "example", "echo")

    assert (unknown.code, unknown.message) == ("tool_not_found", "There is no plugin nothing on this server.")
    assert (no_tool.code, no_tool.message) == ("tool_not_found", "The example plugin has no tool teleport.")
    assert refused.code == "plugin_unavailable"
    assert (disabled.code, disabled.message) == (
        "plugin_disabled",
        "The example plugin is not enabled in this workspace.",
    )
    assert disabled.details["template"] == "The %(plugin)s plugin is not enabled in this workspace."


async def test_a_long_running_tool_needs_a_job_runner(workspace: Workspace, example_host: PluginHost) -> None:
    from builder.sdk import JobHandle, ToolSpec

    plugin = example_host.plugins["example"]
    echo = plugin.tools["echo"]

    async def start(data: Any, ctx: Any) -> JobHandle:
        return JobHandle(job_id="job-1")

    async def poll(job: JobHandle, ctx: Any) -> Any:
        raise AssertionError("the runner follows the job")

    plugin.tools["render"] = ToolSpec(  # type: ignore[index]
        name="render",
        description="Starts a job.",
        input_model=echo.input_model,
        output_model=echo.output_model,
        invoke=start,
        long_running=True,
        poll=poll,
    )

    class Runner:
        async def run(self, spec: Any, job: JobHandle, ctx: Any, *, on_file: FileCallback) -> Any:
            await on_file(StoredFile(field="url", url="/media/clip.mp4", name="clip.mp4", content_type="video/mp4"))
            return {"job": job.job_id, "workspace": ctx.workspace_id}

    error = await failure(invoker(workspace), "example", "render", {"text": "x"})
    node_ctx = context(invoker(workspace))
    result = await invoker(workspace, job_runner=Runner()).invoke("example", "render", {"text": "x"}, node_ctx)

    assert error.code == "long_running_unavailable"
    assert result == {"job": "job-1", "workspace": str(workspace.pk)}
    # The job's stored file reaches the node (the chat's tool.file), named by the tool that made it.
    assert [delta for delta in node_ctx.deltas if "tool_file" in delta] == [
        {
            "tool_file": "example/render",
            "url": "/media/clip.mp4",
            "name": "clip.mp4",
            "content_type": "video/mp4",
            "size": None,
            "field": "url",
        }
    ]


async def test_the_catalog_describes_tools_for_a_model(workspace: Workspace) -> None:
    described = await invoker(workspace).describe("example", "echo")

    assert described is not None
    assert described["name"] == "echo" and described["description"] == "Say the text back."
    assert described["input_schema"]["required"] == ["text"]
    assert await invoker(workspace).describe("example", "nope") is None


async def test_a_failing_tool_node_fails_its_node_not_the_server(workspace: Workspace) -> None:
    nodes = [
        node("start", "start"),
        node("good", "tool", {"plugin": "example", "tool": "echo", "inputs": {"text": "{{ sys.query }}"}}),
        node("bad", "tool", {"plugin": "example", "tool": "explode", "error": {"on_error": "error_branch"}}),
        node("said", "answer", {"text": "{{ good.result.text }} / {{ bad.error.code }}"}),
    ]
    edges = [edge("start", "good"), edge("good", "bad"), edge("bad", "said", "error")]

    outcome, log = await run(document(nodes, edges), services=RuntimeServices(tools=invoker(workspace)), query="hey")

    assert outcome.status == "finished"
    assert outcome.answer == "hey / tool_failed"
    assert log.one("node.finished", "good").outputs == {"result": {"text": "hey", "region": "us"}}
    assert [event.percent for event in log.of("tool.progress", "good")] == [50.0, 100.0]


async def test_an_agent_sees_the_tool_schema_and_reads_errors_as_tool_results(
    workspace: Workspace, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(
        [
            Reply(tool_calls=[ToolCall("echo", {"text": "ping"}, id="a"), ToolCall("explode", {}, id="b")]),
            Reply(text="Echo said ping; the other tool broke."),
        ]
    )
    tools = invoker(workspace)
    ctx = StubContext(RuntimeServices(tools=tools, chat_models=ServerModels(fake_openai)), sys={"query": "go"})
    config = {
        "model": {"provider": "fake", "name": "gpt-4o-mini"},
        "tools": [{"plugin": "example", "tool": "echo"}, {"plugin": "example", "tool": "explode"}],
    }

    result = await run_node("agent", config, ctx)

    echo, explode = result.outputs["tool_calls"]
    assert echo["result"] == {"text": "ping", "region": "us"}
    assert explode["error"] == "The explode tool failed: RuntimeError: the upstream refused key [redacted]"
    functions = {tool["function"]["name"]: tool["function"] for tool in fake_openai.requests[0].tools}
    assert functions["echo"]["parameters"]["properties"]["text"]["description"] == "What to say back."
    assert result.outputs["text"] == "Echo said ping; the other tool broke."
