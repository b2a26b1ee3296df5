"""A hostile page cannot make a visitor's browser log in, sign up or write anything: every unsafe
request authenticated by the session (or by nothing) carries the CSRF token; API keys need none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from builder.accounts.models import User
from tests.factories import PASSWORD, error_of, key_client, make_user, make_workspace

pytestmark = pytest.mark.django_db

UNSAFE = ("post", "put", "patch", "delete")
HOSTILE_ORIGIN: dict[str, Any] = {"HTTP_ORIGIN": "https://evil.example"}


def browser() -> APIClient:
    """A browser that runs the CSRF check as Django does for real requests."""
    return APIClient(enforce_csrf_checks=True)


def test_a_cross_origin_login_without_the_token_logs_no_one_in() -> None:
    make_user(username="ada")
    client = browser()

    refused = client.post("/api/v1/auth/login", {"username": "ada", "password": PASSWORD}, **HOSTILE_ORIGIN)

    assert refused.status_code == 403
    assert error_of(refused)["code"] == "csrf_failed"
    assert "CSRF" in error_of(refused)["message"]
    assert client.get("/api/v1/auth/me").status_code in (401, 403)  # no session was opened


def test_a_cross_origin_signup_without_the_token_creates_no_account() -> None:
    data = {"username": "mallory", "email": "m@example.com", "password": PASSWORD}

    refused = browser().post("/api/v1/auth/signup", data, **HOSTILE_ORIGIN)

    assert refused.status_code == 403
    assert error_of(refused)["code"] == "csrf_failed"
    assert not User.objects.filter(username="mallory").exists()


def test_the_builder_gets_the_token_first_then_logs_in() -> None:
    make_user(username="ada")
    client = browser()
    assert client.get("/api/v1/auth/csrf").status_code == 204
    token = client.cookies["csrftoken"].value

    response = client.post("/api/v1/auth/login", {"username": "ada", "password": PASSWORD}, HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200, response.content
    assert client.get("/api/v1/auth/me").json()["username"] == "ada"


def test_a_logged_in_session_writes_only_with_the_token() -> None:
    make_user(username="ada")
    client = browser()
    client.get("/api/v1/auth/csrf")
    token = client.cookies["csrftoken"].value
    client.post("/api/v1/auth/login", {"username": "ada", "password": PASSWORD}, HTTP_X_CSRFTOKEN=token)

    refused = client.post("/api/v1/workspaces/", {"name": "No token"})

    assert refused.status_code == 403
    assert error_of(refused)["code"] == "csrf_failed"


def test_api_keys_need_no_csrf_token() -> None:
    workspace = make_workspace()
    _client, raw = key_client(workspace)
    keyed = APIClient(enforce_csrf_checks=True)
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = keyed.post(f"/api/v1/workspaces/{workspace.pk}/bots/", {"name": "From a script"})

    assert response.status_code == 201, response.content


def test_anonymous_writes_to_protected_endpoints_stay_401() -> None:
    # No credentials at all: the answer is "log in", not a CSRF riddle.
    response = browser().post("/api/v1/workspaces/", {"name": "x"})

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def _open_endpoints(patterns: list[Any], prefix: str = "/") -> Iterator[tuple[str, str]]:
    """(path, method) of every unsafe method a view lets anonymous callers reach (no path parameters)."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _open_endpoints(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and "<" not in str(pattern.pattern):
            view_class = getattr(pattern.callback, "cls", None)
            if view_class is None or not any(issubclass(p, AllowAny) for p in view_class.permission_classes):
                continue
            for method in UNSAFE:
                if hasattr(view_class, method):
                    yield prefix + str(pattern.pattern), method


def test_every_endpoint_open_to_anonymous_callers_checks_csrf() -> None:
    endpoints = sorted(_open_endpoints(get_resolver().url_patterns))
    assert {("/api/v1/auth/login", "post"), ("/api/v1/auth/signup", "post")} <= set(endpoints)

    for path, method in endpoints:
        response = getattr(browser(), method)(path, {}, **HOSTILE_ORIGIN)
        assert response.status_code == 403, (path, method, response.content)
        assert error_of(response)["code"] == "csrf_failed", (path, method)
