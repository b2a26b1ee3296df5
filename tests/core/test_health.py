"""GET /api/v1/health: what a load balancer or an operator sees, in both ways to run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings
from django.test import Client
from pytest_django.fixtures import Settings

from tests.support.processes import AsgiServerFactory, CeleryWorker

HEALTH_URL = "/api/v1/health"

embedded_only = pytest.mark.skipif(
    not django_settings.EMBEDDED, reason="embedded default only; the production pass has its own test"
)


def get_health(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get(HEALTH_URL)
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


@embedded_only
@pytest.mark.django_db
def test_embedded_default_is_healthy_without_any_service(client: Client) -> None:
    status, body = get_health(client)

    assert status == 200
    assert body["status"] == "ok"
    assert body["mode"] == "embedded"
    database, channel_layer, worker = (body["checks"][name] for name in ("database", "channel_layer", "worker"))
    assert database["status"] == "ok"
    assert database["vendor"] == "sqlite"
    assert channel_layer["status"] == "ok"
    assert channel_layer["backend"] == "LocalChannelLayer"
    assert worker == {"status": "ok", "mode": "inline", "latency_ms": 0.0, "workers": [], "probe": None, "error": None}
    # Code nodes run isolated, and the report says how (no network for user code, at least).
    assert body["checks"]["sandbox"]["status"] == "ok"
    assert "network" in body["checks"]["sandbox"]["isolation"]


@pytest.mark.django_db
def test_unreachable_channel_layer_degrades_but_still_answers(
    client: Client, settings: Settings, unused_tcp_port: int
) -> None:
    # A Redis channel layer on a port where nothing listens: the connection is really refused.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{unused_tcp_port}/0"]},
        }
    }

    status, body = get_health(client)

    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"
    channel_layer = body["checks"]["channel_layer"]
    assert channel_layer["status"] == "error"
    assert channel_layer["backend"] == "RedisChannelLayer"
    assert str(unused_tcp_port) in channel_layer["error"]


def test_database_down_answers_503(asgi_server: AsgiServerFactory, unused_tcp_port: int, tmp_path: Path) -> None:
    # A fresh server whose database cannot be opened: SQLite in a folder that does not exist, or
    # PostgreSQL on a port where nothing listens.
    if django_settings.EMBEDDED:
        base_url = asgi_server(env={"AGENTLOOM_SQLITE_PATH": str(tmp_path / "missing" / "db.sqlite3")})
    else:
        down = f"postgres://postgres@127.0.0.1:{unused_tcp_port}/agentloom"
        base_url = asgi_server(env={"DATABASE_URL": down})

    response = httpx.get(base_url + HEALTH_URL, timeout=30)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"]["status"] == "error"
    assert body["checks"]["database"]["error"]
    assert body["checks"]["channel_layer"]["status"] == "ok"


@pytest.mark.production
@pytest.mark.django_db(transaction=True)
def test_production_reports_redis_and_the_worker_that_ran_the_probe(
    client: Client, celery_worker: CeleryWorker
) -> None:
    status, body = get_health(client)

    assert status == 200, body
    assert body["status"] == "ok", body
    assert body["mode"] == "production"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["vendor"] == "postgresql"
    assert body["checks"]["channel_layer"]["backend"] == "RedisChannelLayer"
    assert body["checks"]["channel_layer"]["status"] == "ok"
    worker = body["checks"]["worker"]
    assert worker["mode"] == "celery"
    assert celery_worker.hostname in worker["workers"]
    assert worker["probe"]["status"] == "ok"
    assert worker["probe"]["task_id"]


def test_broker_down_degrades_quickly(asgi_server: AsgiServerFactory, unused_tcp_port: int) -> None:
    # A fresh server whose Celery broker is a port where nothing listens: the worker check must
    # fail fast (kombu would retry for minutes) and the rest keeps working.
    base_url = asgi_server(env={"CELERY_BROKER_URL": f"redis://127.0.0.1:{unused_tcp_port}/0"})

    response = httpx.get(base_url + HEALTH_URL, timeout=30)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"
    worker = body["checks"]["worker"]
    assert worker["status"] == "error"
    assert worker["mode"] == "celery"
    assert worker["error"].startswith("broker unreachable")
    assert worker["latency_ms"] < 5000
