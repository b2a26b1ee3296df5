"""Suite-wide fixtures and gating. App-specific fixtures belong in ``tests/<app>/conftest.py``.

The suite runs twice (``scripts/test.sh``): on the embedded default (SQLite, in-memory channel
layer, inline tasks) and in production mode (``DATABASE_URL`` + ``REDIS_URL``: PostgreSQL, Redis
and a real Celery worker). Tests marked ``production`` run only in the second pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from tests.support.fake_openai import fake_openai, fake_openai_server  # noqa: F401  (fixtures)
from tests.support.pgserver import pgserver_dsn  # noqa: F401  (fixture)
from tests.support.processes import (
    AsgiServerFactory,
    CeleryWorker,
    log_tail,
    stop_process,
    wait_for_idle_worker,
    wait_for_port,
)
from tests.support.services import require_service

BASE_DIR = Path(__file__).resolve().parent.parent
WORKER_START_TIMEOUT_S = 60.0
# How long a test's leftover Celery work may take after the test (generous: the machine may be loaded).
WORKER_IDLE_TIMEOUT_S = 180.0
SERVER_START_TIMEOUT_S = 30.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not settings.EMBEDDED:
        return
    skip = pytest.mark.skip(
        reason="production: needs DATABASE_URL + REDIS_URL (PostgreSQL, Redis, a Celery worker); "
        "runs in the production pass of scripts/test.sh"
    )
    for item in items:
        if item.get_closest_marker("production"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _production_services() -> None:
    """In production mode every test needs PostgreSQL and Redis: skip (fail in CI) without them."""
    if settings.EMBEDDED:
        return
    require_service("PostgreSQL", settings.DATABASE_URL)
    if settings.REDIS_URL:
        require_service("Redis", settings.REDIS_URL)


@pytest.fixture(scope="session", autouse=True)
def _production_knowledge_index(_production_services: None, request: pytest.FixtureRequest) -> Iterator[None]:
    """In production mode the knowledge index is PostgreSQL + pgvector, as deployed (the session's
    pgserver: the test PostgreSQL has no pgvector), for this process and the processes it starts
    (the Celery worker and uvicorn read ``AGENTLOOM_KNOWLEDGE_INDEX_URL``; autouse and session-scoped,
    this runs before any of them starts)."""
    if settings.EMBEDDED:
        yield
        return
    from builder.knowledge.index_store import reset_knowledge_index

    dsn: str = request.getfixturevalue("pgserver_dsn")
    previous = settings.KNOWLEDGE_INDEX_URL, os.environ.get("AGENTLOOM_KNOWLEDGE_INDEX_URL")
    settings.KNOWLEDGE_INDEX_URL = os.environ["AGENTLOOM_KNOWLEDGE_INDEX_URL"] = dsn
    reset_knowledge_index()
    try:
        yield
    finally:
        reset_knowledge_index()
        settings.KNOWLEDGE_INDEX_URL = previous[0]
        if previous[1] is None:
            os.environ.pop("AGENTLOOM_KNOWLEDGE_INDEX_URL", None)
        else:
            os.environ["AGENTLOOM_KNOWLEDGE_INDEX_URL"] = previous[1]


@pytest.fixture(scope="session", autouse=True)
def _static_root() -> None:
    """WhiteNoise warns on every request when STATIC_ROOT is missing (a fresh AGENTLOOM_VAR_DIR)."""
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session", autouse=True)
def _fakes_on_loopback_are_allowed() -> Iterator[None]:
    """The fake model servers and APIs listen on 127.0.0.1, which the embedded default allows and
    production does not: the production pass allows it here, as it does for the Celery worker it
    starts. Tests of the policy set the allow-list they need."""
    if settings.EMBEDDED:
        yield
        return
    from django.test import override_settings

    with override_settings(AGENTLOOM_HTTP_ALLOWLIST=["127.0.0.1"]):
        yield


@pytest.fixture(autouse=True)
def _no_login_lockouts_from_other_tests() -> None:
    """Failed sign-ins are counted in the cache, which outlives a test (and, on Redis, the run)."""
    from builder.accounts.login_throttle import login_lockouts_clear

    login_lockouts_clear()


@pytest.fixture(scope="session")
def subprocess_database_url(django_db_setup: None) -> str | None:
    """``DATABASE_URL`` of the test database, for subprocesses; ``None`` on the embedded default,
    where a subprocess gets its own SQLite file (and migrates it) rather than the test database."""
    if settings.EMBEDDED:
        return None
    # django_db_setup has pointed the settings at the test database (test_<name>).
    test_database = settings.DATABASES["default"]["NAME"]
    return urlunsplit(urlsplit(settings.DATABASE_URL)._replace(path=f"/{test_database}"))


@pytest.fixture
def asgi_server(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int], subprocess_database_url: str | None
) -> Iterator[AsgiServerFactory]:
    """Start ``uvicorn builder.config.asgi:application`` in a subprocess; returns its base URL.

    The process gets this process's environment (so the same mode) plus ``env``, minus ``unset``,
    its own ``AGENTLOOM_VAR_DIR`` and, in production mode, the test database (it sees committed
    rows only: use ``django_db(transaction=True)``). For what only a fresh process shows: start-up,
    settings read from the environment, a service that is down from the beginning.
    """
    servers = _AsgiServers(tmp_path, unused_tcp_port_factory, subprocess_database_url)
    yield servers
    servers.stop_all()


class _AsgiServers:
    def __init__(self, tmp_path: Path, ports: Callable[[], int], database_url: str | None) -> None:
        self.tmp_path, self.ports, self.database_url = tmp_path, ports, database_url
        self.started: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[IO[bytes]] = []

    def __call__(self, *, env: Mapping[str, str] | None = None, unset: tuple[str, ...] = ()) -> str:
        port = self.ports()
        process_env = {**os.environ, "AGENTLOOM_VAR_DIR": str(self.tmp_path / f"var-{port}")}
        if self.database_url:
            process_env["DATABASE_URL"] = self.database_url
        process_env.update(env or {})
        for name in unset:
            process_env.pop(name, None)
        log_path = self.tmp_path / f"uvicorn-{port}.log"
        log = log_path.open("wb")
        self.logs.append(log)
        command = [sys.executable, "-m", "uvicorn", "builder.config.asgi:application"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        process = subprocess.Popen(command, cwd=BASE_DIR, env=process_env, stdout=log, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}"
        self.started[base_url] = process
        wait_for_port(port, process, log_path, SERVER_START_TIMEOUT_S)
        return base_url

    def kill(self, base_url: str) -> None:
        process = self.started[base_url]
        process.kill()
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.started.values():
            stop_process(process)
        for log in self.logs:
            log.close()


@pytest.fixture(scope="session")
def celery_worker(
    subprocess_database_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryWorker]:
    """A real ``celery worker`` subprocess on the test database, for the whole session.

    Tests that use it must be marked ``production`` and ``django_db(transaction=True)``: the
    worker is another process, so it sees only committed rows.
    """
    if subprocess_database_url is None:
        pytest.fail("celery_worker needs production mode: mark the test @pytest.mark.production", pytrace=False)
    from builder.config.celery import app as celery_app

    hostname = f"pytest-{uuid.uuid4().hex[:8]}@agentloom-tests"
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    # Tasks left in the queue by an interrupted run must not execute against this database.
    celery_app.control.purge()
    command = [sys.executable, "-m", "celery", "-A", "builder.config", "worker", "--pool=solo"]
    command += ["-Q", f"celery,{settings.PLUGIN_JOBS_QUEUE}"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning", "-n", hostname]
    # The scripted fake APIs the bots call live on 127.0.0.1, which the SSRF guard blocks by default.
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url,
        "PYTHONUNBUFFERED": "1",
        "AGENTLOOM_HTTP_ALLOWLIST": "127.0.0.1",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not celery_app.control.ping(destination=[hostname], timeout=0.5):
            if process.poll() is not None:
                pytest.fail(f"the Celery worker exited with {process.returncode}:\n{log_tail(log_path)}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not answer a ping:\n{log_tail(log_path)}", pytrace=False)
        yield CeleryWorker(hostname=hostname, database_url=subprocess_database_url, log_path=log_path)
    finally:
        # Before django_db_setup's teardown: PostgreSQL refuses to drop a database in use.
        stop_process(process)


@pytest.fixture(autouse=True)
def _celery_worker_done_with_the_test(request: pytest.FixtureRequest, _django_db_marker: None) -> Iterator[None]:
    """After a test that used the Celery worker, wait until the worker is done with the test's tasks,
    before the test's rows are flushed (set up after pytest-django's database fixture, so torn down
    before it)."""
    yield
    if "celery_worker" in request.fixturenames:
        worker: CeleryWorker = request.getfixturevalue("celery_worker")
        wait_for_idle_worker(worker, ["celery", settings.PLUGIN_JOBS_QUEUE], WORKER_IDLE_TIMEOUT_S)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the checkpoint connections that tests' event loops left open: an aiosqlite connection's
    thread is not a daemon, so the process would wait for it forever after the summary."""
    from builder.conversations.checkpoints import _savers

    for saver in list(_savers.values()):
        connection = getattr(saver, "conn", None)
        if connection is not None and hasattr(connection, "stop"):
            connection.stop()
