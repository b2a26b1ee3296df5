"""A plugin's node types are registered before any graph needs them, in every process that judges
or runs graphs: the bot services load the plugins before they parse a draft, a publish or an import;
the ASGI server and Celery workers load them as they start; a management command such as ``migrate``
does not load them at all.

The node plugin (``node_plugin``: the ``shout`` node type) is installed the way a pip-installed
plugin is found: a ``.dist-info`` declaring its entry point, on this process's ``sys.path`` or on a
subprocess's ``PYTHONPATH``. Its ``startup`` hook writes the id of each process that loaded it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.bots.services import bot_draft_save, bot_publish
from builder.bots.transfer import bot_export, bot_import
from builder.conversations.models import Run, RunStep
from builder.conversations.services import conversation_create, message_send
from builder.engine.nodes import registry
from builder.pluginhost.manager import set_host
from tests.factories import make_bot, make_workspace, owner_of
from tests.pluginhost.commands import BASE_DIR, developer_env, entry_point_site, manage
from tests.pluginhost.node_plugin import STARTED_FILE
from tests.support.graphs import linear_bot, node
from tests.support.processes import AsgiServerFactory, log_tail, stop_process

WORKER_START_TIMEOUT_S = 60.0


def node_plugin_site(folder: Path) -> Path:
    return entry_point_site(
        folder, distribution="agentloom-test-nodes", plugin_id="test_nodes", module="tests.pluginhost.node_plugin"
    )


def shout_graph() -> dict[str, Any]:
    return linear_bot(
        node("start", "start@1", {"inputs": []}),
        node("shout", "shout@1", {"text": "{{ sys.query }}"}),
        node("answer", "answer@1", {"text": "{{ shout.text }}"}),
    )


def shout_is_registered() -> bool:
    try:
        registry.resolve("shout@1")
    except LookupError:
        return False
    return True


# --- in this process: the bot services ------------------------------------------------------------


@pytest.fixture
def restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """The node plugin installed; ``restart()`` puts this process back where a fresh one starts: no
    plugin host loaded yet, and only the built-in node types in the engine's registry."""
    monkeypatch.syspath_prepend(str(node_plugin_site(tmp_path / "site")))
    built_in = {name: dict(versions) for name, versions in registry._SPECS.items()}
    assert "shout" not in built_in
    previous = set_host(None)

    def fresh_process() -> None:
        set_host(None)
        monkeypatch.setattr(registry, "_SPECS", {name: dict(versions) for name, versions in built_in.items()})
        assert not shout_is_registered()

    fresh_process()
    yield fresh_process
    set_host(previous)


@pytest.mark.django_db(transaction=True)
def test_saving_a_draft_loads_the_plugins_first(restart: Callable[[], None]) -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    restart()

    saved, problems = bot_draft_save(actor=owner_of(workspace), bot=bot, draft=shout_graph(), revision=1)

    assert problems == [] and saved.draft_revision == 2


@pytest.mark.django_db(transaction=True)
def test_importing_loads_the_plugins_first(restart: Callable[[], None]) -> None:
    workspace = make_workspace()
    owner = owner_of(workspace)
    exported = bot_export(actor=owner, bot=make_bot(workspace, draft=shout_graph()))
    restart()

    imported = bot_import(actor=owner, workspace=workspace, raw=exported.encode(), name="Shouter")

    assert imported.bot.draft["nodes"][1]["type"] == "shout@1" and imported.problems == []


@pytest.mark.django_db(transaction=True)
def test_publishing_loads_the_plugins_first_and_the_bot_runs_the_node(
    restart: Callable[[], None], settings: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the run in this process, whose plugins are the ones installed here
    workspace = make_workspace()
    owner = owner_of(workspace)
    bot = make_bot(workspace, draft=shout_graph())
    restart()

    version = bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    run = message_send(actor=owner, conversation=conversation_create(actor=owner, bot=bot), text="hello")
    run.refresh_from_db()

    assert version.graph["nodes"][1]["type"] == "shout@1"
    assert run.status == Run.Status.FINISHED, run.error
    assert run.answer == "HELLO!"
    assert RunStep.objects.get(run=run, node_id="shout").outputs == {"text": "HELLO!"}


# --- fresh processes: the server, a worker, a management command -----------------------------------


def subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What a deployment with the node plugin installed runs with (plus the startup record's path)."""
    site = node_plugin_site(tmp_path / "site")
    paths = [str(site), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"PYTHONPATH": os.pathsep.join(paths), STARTED_FILE: str(tmp_path / "started.txt"), **extra}


def started_pids(tmp_path: Path) -> list[int]:
    record = tmp_path / "started.txt"
    return [int(line) for line in record.read_text().split()] if record.exists() else []


@pytest.mark.django_db(transaction=True)
def test_the_asgi_server_loads_the_plugins_as_it_starts(tmp_path: Path, asgi_server: AsgiServerFactory) -> None:
    asgi_server(env=subprocess_env(tmp_path))  # returns once the server listens

    assert len(started_pids(tmp_path)) == 1


@pytest.mark.parametrize(("pool", "in_pool_process"), [("solo", False), ("threads", False), ("prefork", True)])
def test_a_celery_worker_loads_the_plugins_as_it_starts(tmp_path: Path, pool: str, in_pool_process: bool) -> None:
    """Before its first task: in the worker process, or in each pool process for prefork."""
    env = {
        **os.environ,
        **subprocess_env(tmp_path, AGENTLOOM_VAR_DIR=str(tmp_path / "var")),
        # A broker of its own: the worker must not take tasks of the suite.
        "CELERY_BROKER_URL": "memory://",
        "CELERY_RESULT_BACKEND": "cache+memory://",
    }
    command = [sys.executable, "-m", "celery", "-A", "builder.config", "worker", f"--pool={pool}", "--concurrency=1"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning", "-n", f"{pool}@nodes"]
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not started_pids(tmp_path):
            if process.poll() is not None:
                pytest.fail(f"the worker exited with {process.returncode}:\n{log_tail(log_path)}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"the worker did not load the plugins:\n{log_tail(log_path)}", pytrace=False)
            time.sleep(0.1)
    finally:
        stop_process(process)

    [pid] = started_pids(tmp_path)
    assert (pid != process.pid) is in_pool_process


def test_a_migration_loads_no_plugin(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    env = developer_env(**subprocess_env(tmp_path, AGENTLOOM_VAR_DIR=str(var)))
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)  # a SQLite database of its own

    manage("migrate", "--noinput", "-v", "0", env=env)

    assert (var / "agentloom.sqlite3").is_file() and started_pids(tmp_path) == []
