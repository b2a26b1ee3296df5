"""docs/plugins.md's tutorial, followed to the letter: its commands run as written, in order, in
one shell; the files it gives are written where it says; what it says they print, they print.

The reader's machine is a throwaway home folder where ``~/agentloom`` is this checkout, and
"Agentloom's virtual environment" is a throwaway virtualenv on top of the shared one
(``layered_virtualenv``): the tutorial's ``pip install -e`` goes there, offline (``OFFLINE_PIP``),
and leaves .venv alone. The tutorial is followed once per module; each test checks one thing
the reader relies on against that one install.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.pluginhost.commands import BASE_DIR, OFFLINE_PIP, developer_env, layered_virtualenv, run
from tests.pluginhost.tutorial import (
    Command,
    FileTree,
    ReaderShell,
    Step,
    WriteFile,
    missing_lines,
    tutorial_steps,
)
from tests.support.scripted_api import Reply, ScriptedApi

DOCS = BASE_DIR / "docs" / "plugins.md"

# Run by the tutorial's environment in a fresh process: the host finds the installed plugin
# through its entry point, and the forecast tool runs through the host's call path (input and
# output checks, timeout, SSRF-safe client) against the weather API at argv[1].
CALL_FORECAST = """
import asyncio, json, sys
from builder.pluginhost.manager import PluginHost
from builder.sdk.testing import PluginHarness

host = PluginHost()
host.discover()
weather = host.plugins["weather"]
harness = PluginHarness(weather.module, config={"api_key": "test-key", "base_url": sys.argv[1]})
output = asyncio.run(harness.invoke_json("forecast", {"city": "Lyon"}))
notes = [update.note for update in harness.progress]
print(json.dumps({"source": weather.source, "output": output, "progress": notes}))
"""


@dataclass
class Walkthrough:
    steps: list[Step]
    shell: ReaderShell
    python: Path  # the tutorial's environment's python
    printed: list[tuple[Command, str]] = field(default_factory=list)
    trees: list[tuple[FileTree, list[str]]] = field(default_factory=list)


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> Walkthrough:
    """The tutorial followed once: each step taken in order (a failing command fails here)."""
    steps = tutorial_steps(DOCS.read_text(encoding="utf-8"))
    machine = tmp_path_factory.mktemp("tutorial")
    home = machine / "home"
    home.mkdir()
    (home / "agentloom").symlink_to(BASE_DIR, target_is_directory=True)
    venv_bin = layered_virtualenv(machine / "venv")
    env = developer_env(
        HOME=str(home),
        PATH=f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
        VIRTUAL_ENV=str(venv_bin.parent),
        **OFFLINE_PIP,
    )
    walkthrough = Walkthrough(steps, ReaderShell(home=home, cwd=home, env=env), venv_bin / "python")
    for step in steps:
        if isinstance(step, Command):
            walkthrough.printed.append((step, walkthrough.shell.run(step.line)))
        elif isinstance(step, WriteFile):
            walkthrough.shell.write(step.path, step.content)
        else:
            walkthrough.trees.append((step, walkthrough.shell.files(step.directory)))
    return walkthrough


@pytest.fixture
def weather_api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as api:
        api.reply("GET", "/v1/forecast", Reply(json={"summary": "Light rain, clearing later.", "high": 17.5}))
        yield api


def test_the_tutorial_takes_a_plugin_from_scaffold_to_installed(walkthrough: Walkthrough) -> None:
    assert [command.line for command, _output in walkthrough.printed] == [
        "cd ~/agentloom",
        "python manage.py plugins scaffold weather --dir ~/src",
        "cd ~/src/weather",
        "python -m pytest",
        "python -m pytest",
        "cd ~/agentloom",
        "python manage.py plugins validate ~/src/weather",
        "pip install -e ~/src/weather",
        "python manage.py plugins list",
    ]
    assert [step.path for step in walkthrough.steps if isinstance(step, WriteFile)] == [
        "agentloom_weather/__init__.py",
        "agentloom_weather/manifest.json",
        "tests/test_weather.py",
    ]


def test_every_command_prints_what_the_tutorial_shows(walkthrough: Walkthrough) -> None:
    for command, output in walkthrough.printed:
        missing = missing_lines(output, command.prints, home=walkthrough.shell.home)
        assert missing == [], f"$ {command.line}\nprinted:\n{output}\nnot the tutorial's lines {missing}"


def test_the_scaffold_writes_the_files_the_tutorial_lists(walkthrough: Walkthrough) -> None:
    [(tree, found)] = walkthrough.trees

    assert found == sorted(tree.files)


def test_the_installed_plugin_passes_validation(walkthrough: Walkthrough) -> None:
    output = walkthrough.shell.run("cd ~/agentloom && python manage.py plugins validate")

    assert "ok  weather 0.1.0  Weather" in output
    assert "ERR" not in output


def test_the_installed_tool_returns_the_forecast(walkthrough: Walkthrough, weather_api: ScriptedApi) -> None:
    output = run([str(walkthrough.python), "-c", CALL_FORECAST, f"{weather_api.url}/v1"], env=walkthrough.shell.env)
    result = json.loads(next(line for line in output.splitlines() if line.startswith('{"source"')))

    assert result["source"] == "entry point weather = agentloom_weather (agentloom-weather 0.1.0)"
    assert result["output"] == {"summary": "Light rain, clearing later.", "high_c": 17.5}
    assert result["progress"] == ["forecast received"]
    [request] = weather_api.requests
    assert request.query == {"q": "Lyon"}
    assert request.headers["authorization"] == "Bearer test-key"
