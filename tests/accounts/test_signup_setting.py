"""Who may create an account: anyone on the embedded default (one's own machine), only when the
operator allows it in production (AGENTLOOM_ALLOW_SIGNUP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.accounts.models import User
from tests.factories import PASSWORD, error_of
from tests.support.settings_probe import setting_computed

SIGNUP = {"username": "grace", "email": "grace@example.com", "password": PASSWORD}


@pytest.mark.django_db
def test_signup_closed_is_a_403_and_creates_nobody(settings: Any) -> None:
    settings.ALLOW_SIGNUP = False

    response = APIClient().post("/api/v1/auth/signup", SIGNUP)

    assert response.status_code == 403
    assert error_of(response)["code"] == "signup_disabled"
    assert not User.objects.filter(username="grace").exists()


@pytest.mark.django_db
def test_signup_open_creates_the_account(settings: Any) -> None:
    settings.ALLOW_SIGNUP = True

    assert APIClient().post("/api/v1/auth/signup", SIGNUP).status_code == 201


def allow_signup_with(var_dir: Path, **environment: str) -> str:
    """``ALLOW_SIGNUP`` as the settings compute it from this environment (read once per process)."""
    return setting_computed("ALLOW_SIGNUP", "AGENTLOOM_ALLOW_SIGNUP", var_dir, **environment)


def test_open_by_default_on_the_embedded_default_closed_in_production(tmp_path: Path) -> None:
    production = {"DATABASE_URL": "postgres://agentloom@127.0.0.1:5432/agentloom", "DJANGO_SECRET_KEY": "x" * 50}

    assert allow_signup_with(tmp_path) == "True"
    assert allow_signup_with(tmp_path, **production) == "False"
    assert allow_signup_with(tmp_path, **production, AGENTLOOM_ALLOW_SIGNUP="true") == "True"
    assert allow_signup_with(tmp_path, AGENTLOOM_ALLOW_SIGNUP="false") == "False"
