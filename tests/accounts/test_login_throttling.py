"""Guessing passwords is slow: a few failures lock the account (and many lock the address) for a
while, even for the right password; the lock ends on its own. Runs on the embedded cache (locmem)
and, in the production pass, on Redis."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD, error_of, make_user

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"


def sign_in(username: str, password: str, **headers: Any) -> Any:
    return APIClient().post(LOGIN, {"username": username, "password": password}, **headers)


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.LOGIN_MAX_FAILURES_PER_USERNAME = 5
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    settings.LOGIN_LOCKOUT_S = 900
    return settings


def test_forty_wrong_passwords_do_not_lead_to_the_right_one(limits: Any) -> None:
    make_user(username="ada")

    statuses = [sign_in("ada", f"guess {attempt}").status_code for attempt in range(40)]
    right_one = sign_in("ada", PASSWORD)

    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    assert right_one.status_code == 429  # the lock holds whatever the password
    assert error_of(right_one)["code"] == "login_throttled"
    assert 0 < int(right_one["Retry-After"]) <= 900


def test_the_refusal_is_translated(limits: Any) -> None:
    make_user(username="ada")
    for attempt in range(5):
        sign_in("ada", f"guess {attempt}")

    english = sign_in("ada", PASSWORD)
    chinese = sign_in("ada", PASSWORD, HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert "Too many failed sign-ins" in error_of(english)["message"]
    assert "登录失败次数过多" in error_of(chinese)["message"]


def test_the_account_is_counted_however_it_is_spelled(limits: Any) -> None:
    make_user(username="ada", email="ada@example.com")
    for spelling in ("ada", "ADA", "ada@example.com", "Ada@Example.com", "ada"):
        assert sign_in(spelling, "wrong").status_code == 401

    assert sign_in("ada@example.com", PASSWORD).status_code == 429


def test_one_address_guessing_many_accounts_is_locked_out_whatever_it_claims(limits: Any) -> None:
    limits.LOGIN_MAX_FAILURES_PER_ADDRESS = 3
    make_user(username="grace")
    for number in range(3):
        # A client-written X-Forwarded-For does not make another address.
        forged = {"HTTP_X_FORWARDED_FOR": f"203.0.113.{number}"}
        assert sign_in(f"someone{number}", "wrong", **forged).status_code == 401

    assert sign_in("grace", PASSWORD).status_code == 429
    assert sign_in("grace", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 200  # another address


def test_a_success_after_the_lockout_window_works(limits: Any) -> None:
    # One failure locks, for a second (a failure takes a password hash's time: five could outlast it).
    limits.LOGIN_MAX_FAILURES_PER_USERNAME, limits.LOGIN_LOCKOUT_S = 1, 1
    make_user(username="ada")
    assert sign_in("ada", "guess").status_code == 401
    assert sign_in("ada", PASSWORD).status_code == 429

    deadline = time.monotonic() + 30
    while (response := sign_in("ada", PASSWORD)).status_code == 429:
        assert time.monotonic() < deadline, "the lock-out did not end"
        time.sleep(0.1)

    assert response.status_code == 200, response.content
    # The success cleared the account's failures: one more mistake is a plain 401 again.
    assert sign_in("ada", "wrong").status_code == 401
