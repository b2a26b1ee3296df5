"""Is an external service (PostgreSQL, Redis, any TCP server) reachable? No Django here.

``scripts/test.sh`` asks before the production pass::

    python -m tests.support.services postgres://postgres@127.0.0.1:5432/agentloom redis://127.0.0.1:6379/15

and tests call :func:`require_service`, which skips on a developer machine but fails in CI
(``CI=true``), where a missing service is a broken pipeline, not a reason to test less.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest

PROBE_TIMEOUT_S = 3.0
_POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
_REDIS_SCHEMES = {"redis", "rediss"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _probe_postgres(url: str, timeout: float) -> str | None:
    import psycopg

    # The maintenance database: the project's own may not exist yet, and it is where Django
    # connects to create the test database anyway.
    conninfo = urlunsplit(urlsplit(url)._replace(path="/postgres", query=""))
    try:
        with psycopg.connect(conninfo, connect_timeout=max(1, round(timeout))) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


def _probe_redis(url: str, timeout: float) -> str | None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


def _probe_tcp(url: str, timeout: float) -> str | None:
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        return f"cannot tell host and port from {redact(url)!r}"
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            return None
    except OSError as exc:
        return str(exc)


@functools.cache
def probe(url: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """``None`` when the service at ``url`` answers (a real query or PING), else the reason.

    Cached: one unreachable service must not cost its timeout once per test.
    """
    scheme = urlsplit(url).scheme
    if scheme in _POSTGRES_SCHEMES:
        return _probe_postgres(url, timeout)
    if scheme in _REDIS_SCHEMES:
        return _probe_redis(url, timeout)
    return _probe_tcp(url, timeout)


def require_service(name: str, url: str) -> None:
    """Skip the calling test when ``url`` does not answer; fail it instead when ``CI=true``."""
    reason = probe(url)
    if reason is None:
        return
    message = f"{name} not reachable at {redact(url)}: {reason}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: services are required)", pytrace=False)
    pytest.skip(message)


def _service_name(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme in _POSTGRES_SCHEMES:
        return "PostgreSQL"
    if scheme in _REDIS_SCHEMES:
        return "Redis"
    return scheme or url


def main(urls: list[str]) -> int:
    """Print why each unreachable URL is unreachable; exit 1 if any is."""
    failed = False
    for url in urls:
        reason = probe(url)
        if reason is not None:
            failed = True
            print(f"{_service_name(url)} not reachable at {redact(url)}: {reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
