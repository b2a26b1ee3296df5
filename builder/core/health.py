"""Health checks: is each service this process depends on really answering?

Every check does a real round trip (a query, a channel layer send/receive, a Celery ping and a
probe task) with a short timeout, and reports failure instead of raising, so one dead service
never hides the state of the others.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from builder.config.celery import app as celery_app
from builder.core.tasks import health_probe

CheckStatus = Literal["ok", "error"]
OverallStatus = Literal["ok", "degraded", "down"]
WorkerMode = Literal["inline", "celery"]
RunMode = Literal["embedded", "production"]
# For the API schema's enums (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] names them).
CHECK_STATUSES: tuple[str, ...] = get_args(CheckStatus)
OVERALL_STATUSES: tuple[str, ...] = get_args(OverallStatus)
WORKER_MODES: tuple[str, ...] = get_args(WorkerMode)
RUN_MODES: tuple[str, ...] = get_args(RunMode)

CHANNEL_LAYER_TIMEOUT_S = 2.0
WORKER_PING_TIMEOUT_S = 1.0
PROBE_TASK_TIMEOUT_S = 5.0


@dataclass(frozen=True, kw_only=True)
class DatabaseCheck:
    status: CheckStatus
    latency_ms: float
    vendor: str
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChannelLayerCheck:
    status: CheckStatus
    latency_ms: float
    backend: str
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ProbeTaskCheck:
    status: CheckStatus
    latency_ms: float
    task_id: str
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class WorkerCheck:
    status: CheckStatus
    # "inline": no broker, tasks run in the calling process (the embedded default).
    mode: WorkerMode
    latency_ms: float
    workers: list[str] = field(default_factory=list)
    probe: ProbeTaskCheck | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class SandboxCheck:
    status: CheckStatus
    # How the code node isolates user code here (namespaces…); empty when it cannot.
    isolation: str
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class HealthReport:
    status: OverallStatus
    mode: RunMode
    database: DatabaseCheck
    channel_layer: ChannelLayerCheck
    worker: WorkerCheck
    sandbox: SandboxCheck


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip().rstrip(":")


def check_database(*, using: str = DEFAULT_DB_ALIAS) -> DatabaseCheck:
    """Run ``SELECT 1`` on the database ``using`` names."""
    connection = connections[using]
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        # Drop the broken connection so the next request reconnects instead of reusing it.
        connection.close_if_unusable_or_obsolete()
        return DatabaseCheck(
            status="error", latency_ms=_elapsed_ms(started), vendor=connection.vendor, error=_describe(exc)
        )
    return DatabaseCheck(status="ok", latency_ms=_elapsed_ms(started), vendor=connection.vendor)


async def _channel_layer_round_trip(timeout: float) -> tuple[str, str | None]:
    layer = get_channel_layer()
    if layer is None:
        return "none", "CHANNEL_LAYERS has no default layer"
    backend = type(layer).__name__
    # A fresh plain channel name: nothing else listens on it, and a reply proves the message went
    # through the layer's storage (Redis in production) and back.
    channel = f"health.probe.{secrets.token_hex(8)}"
    token = secrets.token_hex(8)
    await asyncio.wait_for(layer.send(channel, {"type": "health.probe", "token": token}), timeout)
    message = await asyncio.wait_for(layer.receive(channel), timeout)
    if message.get("token") != token:
        return backend, "received a different message than the one sent"
    return backend, None


def check_channel_layer(*, timeout: float = CHANNEL_LAYER_TIMEOUT_S) -> ChannelLayerCheck:
    """Send a message to a unique channel on the default channel layer and receive it back."""
    started = time.perf_counter()
    configured: dict[str, Any] = settings.CHANNEL_LAYERS.get("default") or {}
    backend = str(configured.get("BACKEND", "none")).rsplit(".", 1)[-1]
    try:
        backend, problem = async_to_sync(_channel_layer_round_trip)(timeout)
    except TimeoutError:
        problem = f"no round trip within {timeout:g} s"
    except Exception as exc:
        problem = _describe(exc)
    status: CheckStatus = "error" if problem else "ok"
    return ChannelLayerCheck(status=status, latency_ms=_elapsed_ms(started), backend=backend, error=problem)


def _run_probe_task(timeout: float) -> ProbeTaskCheck:
    started = time.perf_counter()
    token = secrets.token_hex(8)
    # expires: a probe no worker took in time is discarded, not run later.
    result = health_probe.apply_async(args=(token,), expires=timeout, retry=False)
    try:
        value = result.get(timeout=timeout, propagate=True)
    except Exception as exc:
        return ProbeTaskCheck(status="error", latency_ms=_elapsed_ms(started), task_id=result.id, error=_describe(exc))
    finally:
        result.forget()
    if value != token:
        error = f"probe returned {value!r}, expected the token it was sent"
        return ProbeTaskCheck(status="error", latency_ms=_elapsed_ms(started), task_id=result.id, error=error)
    return ProbeTaskCheck(status="ok", latency_ms=_elapsed_ms(started), task_id=result.id)


def check_worker(
    *, ping_timeout: float = WORKER_PING_TIMEOUT_S, probe_timeout: float = PROBE_TASK_TIMEOUT_S
) -> WorkerCheck:
    """Ping the Celery workers, then send a probe task through the broker and wait for its result."""
    if celery_app.conf.task_always_eager:
        return WorkerCheck(status="ok", mode="inline", latency_ms=0.0)
    started = time.perf_counter()
    try:
        # Fail fast when the broker is down: kombu would otherwise retry for minutes.
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=math.ceil(ping_timeout))
        replies = celery_app.control.ping(timeout=ping_timeout) or []
    except Exception as exc:
        error = f"broker unreachable: {_describe(exc)}"
        return WorkerCheck(status="error", mode="celery", latency_ms=_elapsed_ms(started), error=error)
    workers = sorted(hostname for reply in replies for hostname in reply)
    if not workers:
        error = f"no worker answered a ping within {ping_timeout:g} s"
        return WorkerCheck(status="error", mode="celery", latency_ms=_elapsed_ms(started), error=error)
    probe = _run_probe_task(probe_timeout)
    return WorkerCheck(
        status=probe.status,
        mode="celery",
        latency_ms=_elapsed_ms(started),
        workers=workers,
        probe=probe,
        error=None if probe.status == "ok" else "the probe task did not come back",
    )


def check_sandbox() -> SandboxCheck:
    """Whether code nodes can run isolated here (probed once per process; the runner refuses otherwise)."""
    from builder.engine.sandbox.probe import isolation_report

    report = isolation_report()
    if not report.get("available"):
        return SandboxCheck(status="error", isolation="", error=str(report.get("reason") or "unavailable"))
    namespaces = report.get("namespaces") or []
    isolation = "+".join(namespaces) if isinstance(namespaces, list) else str(namespaces)
    return SandboxCheck(status="ok", isolation=isolation or str(report.get("mode", "")))


def health_report() -> HealthReport:
    """Check every service. ``down`` when the database fails (nothing works without it),
    ``degraded`` when only realtime or background work fails."""
    database = check_database()
    channel_layer = check_channel_layer()
    worker = check_worker()
    sandbox = check_sandbox()
    status: OverallStatus
    if database.status != "ok":
        status = "down"
    elif "error" in (channel_layer.status, worker.status, sandbox.status):
        status = "degraded"
    else:
        status = "ok"
    return HealthReport(
        status=status,
        mode="embedded" if settings.EMBEDDED else "production",
        database=database,
        channel_layer=channel_layer,
        worker=worker,
        sandbox=sandbox,
    )
