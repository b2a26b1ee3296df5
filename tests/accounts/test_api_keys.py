from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from builder.accounts.models import ApiKey
from builder.accounts.roles import Role
from builder.accounts.tokens import sha256_hex
from tests.factories import client_for, error_of, key_client, make_bot, make_workspace, member, owner_of

pytestmark = pytest.mark.django_db


def test_key_is_shown_once_stored_hashed_and_records_its_use() -> None:
    workspace = make_workspace()
    admin = client_for(member(workspace, Role.ADMIN))
    created = admin.post(f"/api/v1/workspaces/{workspace.pk}/api-keys/", {"name": "CI", "role": "editor"})
    assert created.status_code == 201
    raw = created.json()["key"]
    stored = ApiKey.objects.get()
    assert stored.key_hash == sha256_hex(raw) and raw not in stored.key_hash
    listing = admin.get(f"/api/v1/workspaces/{workspace.pk}/api-keys/").json()["results"]
    assert "key" not in listing[0] and listing[0]["last_used_at"] is None

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(f"/api/v1/workspaces/{workspace.pk}/bots/").status_code == 200
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_revoked_expired_and_forged_keys_are_refused() -> None:
    workspace = make_workspace()
    client, _raw = key_client(workspace)
    url = f"/api/v1/workspaces/{workspace.pk}/bots/"
    assert client.get(url).status_code == 200
    key = ApiKey.objects.get()
    revoked = client_for(owner_of(workspace)).delete(f"/api/v1/workspaces/{workspace.pk}/api-keys/{key.pk}")
    assert revoked.json()["is_active"] is False
    refused = client.get(url)
    assert refused.status_code == 401 and error_of(refused)["code"] == "authentication_failed"

    _client, raw2 = key_client(workspace)
    ApiKey.objects.filter(revoked_at__isnull=True).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = APIClient()
    expired.credentials(HTTP_AUTHORIZATION=f"Bearer {raw2}")
    assert expired.get(url).status_code == 401

    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION=f"Bearer {raw2[:-4]}AAAA")
    assert forged.get(url).status_code == 401


def test_key_power_is_capped_by_its_role_and_by_its_creator() -> None:
    workspace = make_workspace()
    editor = member(workspace, Role.EDITOR)
    as_editor_admin = client_for(editor).post(f"/api/v1/workspaces/{workspace.pk}/api-keys/", {"name": "x"})
    assert as_editor_admin.status_code == 403  # editors do not manage keys

    admin = member(workspace, Role.ADMIN)
    viewer_key, _raw = key_client(workspace, role=Role.VIEWER, by=admin)
    create = viewer_key.post(f"/api/v1/workspaces/{workspace.pk}/bots/", {"name": "Nope"})
    assert create.status_code == 403

    editor_key, _raw = key_client(workspace, role=Role.EDITOR, by=admin)
    assert editor_key.post(f"/api/v1/workspaces/{workspace.pk}/bots/", {"name": "Yes"}).status_code == 201
    # The creator is demoted: the key loses what the creator lost.
    from builder.accounts.models import Membership

    Membership.objects.filter(user=admin).update(role=Role.VIEWER)
    assert editor_key.post(f"/api/v1/workspaces/{workspace.pk}/bots/", {"name": "No more"}).status_code == 403
    Membership.objects.filter(user=admin).delete()
    assert editor_key.get(f"/api/v1/workspaces/{workspace.pk}/bots/").status_code == 401


def test_key_cannot_exceed_its_creator_or_be_owner() -> None:
    workspace = make_workspace()
    admin = client_for(member(workspace, Role.ADMIN))
    url = f"/api/v1/workspaces/{workspace.pk}/api-keys/"
    assert admin.post(url, {"name": "x", "role": "owner"}).status_code == 400
    past = (timezone.now() - timedelta(days=1)).isoformat()
    assert "expires_at" in error_of(admin.post(url, {"name": "x", "expires_at": past}))["fields"]


def test_bot_scoped_key_reaches_only_its_bot() -> None:
    workspace = make_workspace()
    mine, other = make_bot(workspace, name="Mine"), make_bot(workspace, name="Other")
    client, _raw = key_client(workspace, role=Role.EDITOR, bot_id=mine.pk)
    assert client.get(f"/api/v1/bots/{mine.pk}/").status_code == 200
    assert client.get(f"/api/v1/bots/{other.pk}/").status_code == 404
    listing = client.get(f"/api/v1/workspaces/{workspace.pk}/bots/").json()
    assert [bot["name"] for bot in listing["results"]] == ["Mine"]
    assert client.post(f"/api/v1/workspaces/{workspace.pk}/bots/", {"name": "New"}).status_code == 403


def test_key_of_one_workspace_cannot_reach_another() -> None:
    first, second = make_workspace(name="One"), make_workspace(name="Two")
    client, _raw = key_client(first)
    assert client.get(f"/api/v1/workspaces/{second.pk}/bots/").status_code == 404
    assert client.post("/api/v1/workspaces/", {"name": "Three"}).status_code == 403
