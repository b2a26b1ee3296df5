from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.accounts.models import User
from tests.factories import PASSWORD, error_of, make_user

pytestmark = pytest.mark.django_db


def test_login_with_username_or_email_sets_a_session_for_the_builder() -> None:
    user = make_user(username="ada", email="ada@example.com")
    for login in ("ada", "ADA@example.com"):
        client = APIClient()
        response = client.post("/api/v1/auth/login", {"username": login, "password": PASSWORD})
        assert response.status_code == 200, response.content
        assert response.json()["id"] == str(user.pk)
        assert client.get("/api/v1/auth/me").json()["username"] == "ada"


def test_wrong_password_is_a_401_in_the_error_shape() -> None:
    make_user(username="ada")
    response = APIClient().post("/api/v1/auth/login", {"username": "ada", "password": "nope"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_credentials"


def test_session_clients_must_send_the_csrf_token() -> None:
    make_user(username="ada")
    client = APIClient(enforce_csrf_checks=True)
    client.get("/api/v1/auth/csrf")
    token = client.cookies["csrftoken"].value
    login = client.post("/api/v1/auth/login", {"username": "ada", "password": PASSWORD}, HTTP_X_CSRFTOKEN=token)
    assert login.status_code == 200
    refused = client.post("/api/v1/workspaces/", {"name": "No token"})
    assert refused.status_code == 403
    assert "CSRF" in error_of(refused)["message"]
    token = client.cookies["csrftoken"].value  # a new one: logging in rotates it
    accepted = client.post("/api/v1/workspaces/", {"name": "With token"}, HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


def test_signup_validates_and_logs_in(settings: Any) -> None:
    settings.ALLOW_SIGNUP = True  # closed by default in production mode
    client = APIClient()
    bad = client.post("/api/v1/auth/signup", {"username": "x", "email": "not-an-email", "password": "short"})
    assert bad.status_code == 400
    assert {"username", "email", "password"} <= set(error_of(bad)["fields"])
    ok = client.post("/api/v1/auth/signup", {"username": "grace", "email": "g@example.com", "password": PASSWORD})
    assert ok.status_code == 201
    assert client.get("/api/v1/auth/me").json()["email"] == "g@example.com"
    again = APIClient().post(
        "/api/v1/auth/signup", {"username": "grace2", "email": "G@example.com", "password": PASSWORD}
    )
    assert error_of(again)["fields"] == {"email": ["A user with this email already exists."]}
    assert User.objects.count() == 1


def test_anonymous_requests_are_refused_with_401() -> None:
    response = APIClient().get("/api/v1/workspaces/")
    assert response.status_code in (401, 403)
    assert error_of(response)["code"] == "not_authenticated"


def test_profile_language_can_be_switched_to_chinese() -> None:
    user = make_user()
    client = APIClient()
    client.force_login(user)
    assert client.patch("/api/v1/auth/me", {"locale": "zh-hans"}).json()["locale"] == "zh-hans"
    assert client.patch("/api/v1/auth/me", {"locale": "fr"}).status_code == 400
