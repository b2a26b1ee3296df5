"""A JSON body's values have the JSON types the schema gives their fields; DRF's conversions
(12 → "12", "12" → 12, "yes" → true) are for forms only. Found by tests/api/test_schemathesis.py:
a display name of 4.1e16 was saved as "4.12723978760924e+16"."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from builder.accounts.roles import Role
from tests.factories import client_for, error_of, make_user, make_workspace, owner_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": 4.1e16}, "display_name"),
        ({"display_name": True}, "display_name"),
        ({"locale": 1}, "locale"),
    ],
)
def test_a_text_field_refuses_a_number_or_a_boolean(body: dict[str, Any], field: str) -> None:
    user = make_user(display_name="Ada")
    response = client_for(user).patch("/api/v1/auth/me", body, format="json")
    assert response.status_code == 400, response.content
    assert list(error_of(response)["fields"]) == [field]
    user.refresh_from_db()
    assert user.display_name == "Ada"


def test_numbers_booleans_and_nested_lists_are_held_to_their_types() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    providers = f"/api/v1/workspaces/{workspace.pk}/model-providers/"
    body = {"name": "P", "kind": "openai", "timeout_s": "30", "is_default": "true", "models": [{"name": 5}]}
    response = client.post(providers, body, format="json")
    assert response.status_code == 400, response.content
    assert set(error_of(response)["fields"]) == {"timeout_s", "is_default", "models.0.name"}
    keys = f"/api/v1/workspaces/{workspace.pk}/api-keys/"
    refused = client.post(keys, {"name": "k", "role": Role.VIEWER, "bot": 7}, format="json")
    assert list(error_of(refused)["fields"]) == ["bot"]
    assert client.post(keys, {"name": "k", "role": Role.VIEWER, "bot": None}, format="json").status_code == 201


def test_a_form_keeps_its_text_values() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    kb = client.post(f"/api/v1/workspaces/{workspace.pk}/knowledge-bases/", {"name": "K"}, format="json").json()
    upload = SimpleUploadedFile("a.txt", b"hello", content_type="text/plain")
    response = client.post(
        f"/api/v1/knowledge-bases/{kb['id']}/documents/", {"file": upload, "name": "a"}, format="multipart"
    )
    assert response.status_code == 201, response.content


def test_text_is_measured_as_sent() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    bot = client.post(f"/api/v1/workspaces/{workspace.pk}/bots/", {"name": "B"}, format="json").json()
    # 101 characters as sent (the schema's maxLength is 100), 100 once DRF has trimmed the tab.
    response = client.patch(f"/api/v1/bots/{bot['id']}/", {"name": "\t" + "x" * 100}, format="json")
    assert response.status_code == 400, response.content
    assert list(error_of(response)["fields"]) == ["name"]
