"""Fixtures and helpers of the long-running tool tests (``test_jobs*.py``; the fixtures are
imported by ``conftest.py``).

The job plugin (``job_plugin/``) is loaded into this process's host, against its fake render
API (``fake_render_api.py``). In production mode the polls run on a real Celery worker, which must
have the plugin too: ``jobs_worker`` starts one that finds it through an entry point (a
``.dist-info`` on its ``PYTHONPATH``, as a pip-installed plugin is found) and takes the job polls
from a queue of its own (``PLUGIN_JOBS_QUEUE``), so the suite's worker, which lacks the plugin,
never gets one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections

from builder.accounts.models import Workspace
from builder.pluginhost.manager import PluginHost
from builder.pluginhost.models import PluginJob
from builder.pluginhost.services import plugin_configure, plugin_enable
from tests.factories import make_workspace, owner_of
from tests.pluginhost import job_plugin
from tests.pluginhost.commands import entry_point_site
from tests.pluginhost.fake_render_api import API_KEY, FakeRenderApi, serve_render_api
from tests.support.plugin_hosts import host_with
from tests.support.processes import log_tail, stop_process

BASE_DIR = Path(__file__).resolve().parents[2]
WORKER_START_TIMEOUT_S = 60.0
PLUGIN = "jobs_test"


@dataclass(frozen=True)
class JobsWorker:
    hostname: str
    queue: str
    log_path: Path


@pytest.fixture(scope="session")
def jobs_worker(subprocess_database_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobsWorker]:
    if subprocess_database_url is None:
        pytest.fail("jobs_worker needs production mode", pytrace=False)
    from builder.config.celery import app as celery_app

    folder = tmp_path_factory.mktemp("jobs-worker")
    site = entry_point_site(
        folder / "site", distribution="agentloom-test-jobs", plugin_id=PLUGIN, module="tests.pluginhost.job_plugin"
    )
    worker = JobsWorker(
        hostname=f"pytest-jobs-{uuid.uuid4().hex[:8]}@agentloom-tests",
        queue=f"plugin-jobs-{uuid.uuid4().hex[:8]}",
        log_path=folder / "worker.log",
    )
    paths = [str(site), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(paths),
        "AGENTLOOM_HTTP_ALLOWLIST": "127.0.0.1",
        "AGENTLOOM_PLUGIN_JOBS_QUEUE": worker.queue,
    }
    command = [sys.executable, "-m", "celery", "-A", "builder.config", "worker", "--pool=threads", "--concurrency=4"]
    command += ["-Q", worker.queue, "--without-gossip", "--without-mingle", "--without-heartbeat"]
    command += ["-l", "warning", "-n", worker.hostname]
    with worker.log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not celery_app.control.ping(destination=[worker.hostname], timeout=0.5):
            if process.poll() is not None:
                pytest.fail(f"the jobs worker exited:\n{log_tail(worker.log_path)}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"the jobs worker did not answer:\n{log_tail(worker.log_path)}", pytrace=False)
        yield worker
    finally:
        stop_process(process)


@pytest.fixture
def jobs_host() -> Iterator[PluginHost]:
    with host_with(job_plugin) as host:
        yield host


@pytest.fixture
def render_api() -> Iterator[FakeRenderApi]:
    with serve_render_api() as api:
        yield api


@pytest.fixture
def jobs_mode(settings: Any, request: pytest.FixtureRequest) -> JobsWorker | None:
    """Plugins may reach the fake API on 127.0.0.1; in production, polls go to ``jobs_worker``."""
    settings.AGENTLOOM_HTTP_ALLOWLIST = ["127.0.0.1"]
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    worker: JobsWorker = request.getfixturevalue("jobs_worker")
    settings.PLUGIN_JOBS_QUEUE = worker.queue
    return worker


@pytest.fixture
async def async_orm_closed() -> AsyncIterator[None]:
    """The async ORM works in asgiref's thread; close its connection after each test, or
    PostgreSQL cannot drop the test database."""
    yield
    await sync_to_async(connections.close_all)()


def configure(workspace: Workspace, api: FakeRenderApi, **config: Any) -> None:
    """The job plugin enabled in ``workspace`` against ``api`` (``config`` overrides: deadline_s…)."""
    owner = owner_of(workspace)
    values = {"api_key": API_KEY, "base_url": api.base_url, "poll_interval_s": 0.2, "deadline_s": 30, **config}
    plugin_configure(actor=owner, workspace=workspace, plugin_id=PLUGIN, config=values)
    plugin_enable(actor=owner, workspace=workspace, plugin_id=PLUGIN)


def jobs_workspace(api: FakeRenderApi, **config: Any) -> Workspace:
    workspace = make_workspace()
    configure(workspace, api, **config)
    return workspace


async def wait_until(check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


async def job_row(**lookup: Any) -> PluginJob:
    return await PluginJob.objects.aget(**lookup)


async def job_ended(job: PluginJob) -> bool:
    await job.arefresh_from_db()
    return job.status != PluginJob.Status.RUNNING


def stored_name(url: str) -> str:
    assert url.startswith(settings.MEDIA_URL), url
    return url.removeprefix(settings.MEDIA_URL)


async def stored_bytes(url: str) -> bytes:
    def read() -> bytes:
        with default_storage.open(stored_name(url), "rb") as handle:
            content: bytes = handle.read()
            return content

    return await sync_to_async(read, thread_sensitive=False)()


async def files_of(job: PluginJob) -> list[str]:
    folder = f"plugin-jobs/{job.workspace_id}/{job.pk}"
    exists = await sync_to_async(default_storage.exists)(folder)
    if not exists:
        return []
    _dirs, files = await sync_to_async(default_storage.listdir)(folder)
    return sorted(files)
