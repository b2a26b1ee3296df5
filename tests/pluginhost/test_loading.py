"""The host loads what passes every check, leaves out what does not with a reason, and carries on."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from builder.pluginhost.manager import PluginHost, get_host, set_host
from tests.pluginhost import example_plugin
from tests.pluginhost.support import PING_HOOKS, write_plugin

NODE_TYPE_HOOKS = """
from builder.engine.nodes.base import NodeConfig, NodeSpec
from builder.engine.runtime.contract import NodeResult
from builder.sdk import hookimpl


class Shout(NodeSpec[NodeConfig]):
    name = "NAME"
    version = 1
    title = "Shout"
    config_model = NodeConfig
    static_outputs = {"text": "string"}

    async def run(self, config, ctx):
        return NodeResult(outputs={"text": "!"})


@hookimpl
def register_node_types():
    return [Shout]
"""


def host_with(*modules: object) -> PluginHost:
    host = PluginHost()
    for module in modules:
        host.load(module)  # type: ignore[arg-type]
    return host


def problem_of(host: PluginHost, plugin_id: str) -> str:
    return host.problems[plugin_id].message


def test_a_good_plugin_is_loaded_with_everything_its_hooks_register() -> None:
    host = host_with(example_plugin)

    plugin = host.get("example")
    assert plugin is not None and host.problems == {}
    assert sorted(plugin.tools) == sorted(plugin.manifest.provides.tools)
    assert host.tool("example", "echo") is plugin.tools["echo"]
    assert host.tool("example", "nope") is None and host.tool("nope", "echo") is None
    assert plugin.directory == Path(example_plugin.__file__).parent


def test_provides_must_match_what_the_hooks_register_and_the_others_still_load(tmp_path: Path) -> None:
    liar = write_plugin(tmp_path, "liar", provides={"tools": ["ping", "pong"]})
    forgetful = write_plugin(tmp_path, "forgetful", hooks=PING_HOOKS.replace("@hookimpl\n", ""))
    fine = write_plugin(tmp_path, "fine")

    host = host_with(liar, forgetful, fine)

    assert sorted(host.plugins) == ["fine"]
    assert problem_of(host, "liar") == (
        "manifest.json provides.tools does not match what register_tools registers: "
        "listed but not registered: pong; registered but not listed: none"
    )
    assert "(is register_tools decorated with @hookimpl from builder.sdk?)" in problem_of(host, "forgetful")
    # A refused plugin's hooks are not left registered with pluggy.
    assert [name for name, _plugin in host.pm.list_name_plugin()] == ["fine"]


@pytest.mark.parametrize(
    ("hooks", "problem"),
    [
        (PING_HOOKS + "\n@hookimpl\ndef register_tool():\n    return []\n", "unknown hook 'register_tool'"),
        (PING_HOOKS + "\n@hookimpl\ndef startup(when):\n    pass\n", "invalid hook implementation"),
        (
            PING_HOOKS.replace("return [ToolSpec", "raise OSError('no disk'); [ToolSpec"),
            "raised while loading: OSError",
        ),
        (PING_HOOKS.replace("return [ToolSpec(", "return ['ping', ToolSpec("), "returned a str, not a ToolSpec"),
        (
            PING_HOOKS.replace("return [ToolSpec(", "return {'ping': ToolSpec(").replace(")]", ")}"),
            "a list of ToolSpec",
        ),
        (PING_HOOKS.replace("return [ToolSpec(", "return [ToolSpec(").replace(")]", ")] * 2"), "two tools named ping"),
    ],
)
def test_broken_hooks_are_refused_with_the_reason(tmp_path: Path, hooks: str, problem: str) -> None:
    host = host_with(write_plugin(tmp_path, "broken", hooks=hooks))

    assert host.plugins == {}
    assert problem in problem_of(host, "broken")


def test_permissions_must_cover_long_running_tools_and_webhooks(tmp_path: Path) -> None:
    long_running = PING_HOOKS.replace("invoke=ping)", "invoke=ping, long_running=True, poll=ping)")
    webhooks = PING_HOOKS + (
        "\nfrom builder.sdk import WebhookRoute, WebhookResponse\n\n"
        "async def done(request):\n    return WebhookResponse()\n\n"
        "@hookimpl\ndef register_routes():\n    return [WebhookRoute('done', done)]\n"
    )

    host = host_with(
        write_plugin(tmp_path, "video", hooks=long_running),
        write_plugin(tmp_path, "video_ok", hooks=long_running, permissions={"long_running": True}),
        write_plugin(tmp_path, "hooks", hooks=webhooks),
        write_plugin(tmp_path, "hooks_ok", hooks=webhooks, permissions={"webhooks": True}),
    )

    assert sorted(host.plugins) == ["hooks_ok", "video_ok"]
    assert 'the tools ping are long-running: manifest.json needs "permissions": {"long_running": true}' in (
        problem_of(host, "video")
    )
    assert '"permissions": {"webhooks": true}' in problem_of(host, "hooks")
    assert host.route("hooks_ok", "done") is not None


def test_node_types_are_checked_and_an_existing_one_is_not_replaced(tmp_path: Path) -> None:
    shout = write_plugin(
        tmp_path, "shout", hooks=NODE_TYPE_HOOKS.replace("NAME", "shout"), provides={"node_types": ["shout"]}
    )
    clash = write_plugin(
        tmp_path, "clash", hooks=NODE_TYPE_HOOKS.replace("NAME", "llm"), provides={"node_types": ["llm"]}
    )
    wrong = write_plugin(tmp_path, "wrong", hooks=NODE_TYPE_HOOKS.replace("NAME", "yell"), provides={"node_types": []})

    checked = host_with(shout, wrong)
    activating = PluginHost(activate_node_types=True)
    activating.load(clash)

    assert [spec.name for spec in checked.plugins["shout"].node_types] == ["shout"]
    assert "registered but not listed: yell" in problem_of(checked, "wrong")
    assert problem_of(activating, "clash") == "the node type llm@1 exists already"


def test_a_second_plugin_with_the_same_id_is_refused_without_hiding_the_first(tmp_path: Path) -> None:
    first, second = write_plugin(tmp_path, "twin"), write_plugin(tmp_path, "twin")

    host = host_with(first, second)

    assert host.plugins["twin"].module is first
    [(key, problem)] = host.problems.items()
    assert key.startswith("twin (module ") and "already loaded" in problem.message


def test_a_startup_that_raises_leaves_only_that_plugin_out(tmp_path: Path) -> None:
    crashing = write_plugin(tmp_path, "crashing", hooks=PING_HOOKS + "\n@hookimpl\ndef startup():\n    1 / 0\n")
    calm = write_plugin(
        tmp_path, "calm", hooks=PING_HOOKS + "\nSTARTED = []\n@hookimpl\ndef startup():\n    STARTED.append(1)\n"
    )
    host = host_with(crashing, calm)

    host.start()
    host.start()

    assert sorted(host.plugins) == ["calm"]
    assert calm.STARTED == [1]
    assert problem_of(host, "crashing") == "startup raised ZeroDivisionError: division by zero"


def test_entry_points_are_loaded_by_name_and_their_failures_recorded(tmp_path: Path) -> None:
    module = write_plugin(tmp_path, "pinger")
    host = PluginHost()

    host.load_entry_point(EntryPoint(name="pinger", value=module.__name__, group="agentloom.plugins"))
    host.load_entry_point(EntryPoint(name="ghost", value="no_such_module_here", group="agentloom.plugins"))
    host.load_entry_point(EntryPoint(name="other", value=module.__name__, group="agentloom.plugins"))
    host.load_entry_point(EntryPoint(name="attr", value=f"{module.__name__}:register_tools", group="agentloom.plugins"))

    assert host.plugins["pinger"].source == f"entry point pinger = {module.__name__}"
    assert problem_of(host, "ghost").startswith("cannot import no_such_module_here: ModuleNotFoundError")
    assert problem_of(host, "other") == "the entry point is named other but manifest.json has id pinger"
    assert problem_of(host, "attr") == f"{module.__name__}:register_tools must name a module, not function"


def test_the_process_host_discovers_installed_plugins_once() -> None:
    previous = set_host(None)
    try:
        host = get_host()
        assert get_host() is host
        assert host.activate_node_types
        # Built-ins are listed in pyproject's entry points; none fails to load.
        assert host.problems == {}
    finally:
        set_host(previous)
