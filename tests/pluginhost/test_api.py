"""Plugins over the API: the catalogue for the builder, enablement and settings per workspace,
secrets encrypted at rest and never returned, and the credentials check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builder.accounts.models import Workspace
from builder.accounts.roles import Role
from builder.core.crypto import decrypt_secret
from builder.pluginhost.manager import PluginHost
from builder.pluginhost.models import PluginInstallation
from tests.factories import client_for, error_of, make_user, make_workspace, member
from tests.pluginhost.example_plugin import VALID_KEY
from tests.pluginhost.support import PING_HOOKS, write_plugin

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("example_host")]

KEY = "sk-live-abcdef123456"


def url(workspace: Workspace, suffix: str = "") -> str:
    return f"/api/v1/workspaces/{workspace.pk}/plugins/{suffix}"


def admin(workspace: Workspace) -> Any:
    return client_for(member(workspace, Role.ADMIN))


def configure(workspace: Workspace, config: dict[str, Any], client: Any = None) -> Any:
    return (client or admin(workspace)).put(url(workspace, "example/config"), {"config": config}, format="json")


def test_the_catalogue_lists_tools_with_their_schemas_and_refused_plugins_with_the_reason() -> None:
    workspace = make_workspace()

    response = client_for(member(workspace, Role.VIEWER)).get(url(workspace))

    assert response.status_code == 200, response.json()
    broken, example = response.json()
    assert example["id"] == "example" and example["status"] == "ready" and example["error"] == ""
    assert (example["name"], example["icon"], example["version"]) == ("Example", "🧪", "0.1.0")
    assert (example["enabled"], example["configured"]) == (False, False)
    echo = next(tool for tool in example["tools"] if tool["name"] == "echo")
    assert echo["title"] == "Echo" and echo["timeout_s"] == 30.0 and echo["long_running"] is False
    assert echo["input_schema"]["properties"]["times"] == {
        "default": 1,
        "description": "How many times.",
        "maximum": 5,
        "minimum": 1,
        "title": "Times",
        "type": "integer",
    }
    assert echo["output_schema"]["required"] == ["text", "region"]
    assert example["config_schema"]["properties"]["api_key"]["x-secret"] is True
    assert example["permissions"] == {"network": ["api.example.com"], "long_running": False, "webhooks": False}
    assert broken["status"] == "error" and broken["tools"] == []
    assert broken["error"].startswith("This plugin could not be loaded: manifest.json provides.tools does not match")


def test_enabling_needs_valid_settings_and_disabling_keeps_them() -> None:
    workspace = make_workspace()
    client = admin(workspace)

    refused = client.post(url(workspace, "example/enable"))
    configure(workspace, {"api_key": KEY}, client)
    enabled = client.post(url(workspace, "example/enable"))
    disabled = client.post(url(workspace, "example/disable"))

    assert refused.status_code == 400
    assert error_of(refused)["message"] == "Complete the plugin's settings before enabling it."
    assert error_of(refused)["fields"] == {"api_key": ["This field is required."]}
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True and enabled.json()["configured"]
    assert disabled.json()["enabled"] is False
    stored = PluginInstallation.objects.get(workspace=workspace)
    assert not stored.enabled and decrypt_secret(stored.secrets_encrypted["api_key"]) == KEY


def test_secrets_are_encrypted_at_rest_and_only_ever_shown_masked() -> None:
    workspace = make_workspace()
    client = admin(workspace)

    saved = configure(workspace, {"api_key": KEY, "signing_secret": "whsec_0123456789abcdef", "region": "us"}, client)
    shown = client.get(url(workspace, "example/config"))
    listed = client.get(url(workspace))

    assert saved.status_code == 200, saved.json()
    assert shown.json() == saved.json()
    assert shown.json()["config"] == {"api_key": "sk-…3456", "signing_secret": "…cdef", "region": "us"}
    assert shown.json()["secrets_set"] == {"api_key": True, "signing_secret": True}
    for response in (saved, shown, listed):
        assert KEY not in response.content.decode() and "0123456789abcdef" not in response.content.decode()
    stored = PluginInstallation.objects.get(workspace=workspace)
    assert stored.config == {"region": "us"}
    assert KEY not in str(stored.secrets_encrypted) and decrypt_secret(stored.secrets_encrypted["api_key"]) == KEY


def test_sending_the_mask_back_keeps_a_secret_and_an_empty_one_removes_it() -> None:
    workspace = make_workspace()
    client = admin(workspace)
    configure(workspace, {"api_key": KEY, "signing_secret": "whsec_0123456789abcdef"}, client)
    masked = client.get(url(workspace, "example/config")).json()["config"]

    kept = configure(workspace, {**masked, "region": "us", "signing_secret": ""}, client)
    left_out = configure(workspace, {"region": "eu"}, client)

    assert kept.status_code == 200, kept.json()
    assert kept.json()["config"] == {"api_key": "sk-…3456", "signing_secret": "", "region": "us"}
    assert left_out.json()["config"]["api_key"] == "sk-…3456"
    stored = PluginInstallation.objects.get(workspace=workspace)
    assert decrypt_secret(stored.secrets_encrypted["api_key"]) == KEY
    assert "signing_secret" not in stored.secrets_encrypted


def test_a_stale_mask_is_refused_rather_than_stored_as_the_key() -> None:
    workspace = make_workspace()
    configure(workspace, {"api_key": KEY})

    response = configure(workspace, {"api_key": "sk-…9999"})

    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "api_key": ["Enter the secret again: this is a masked value, not the secret."]
    }


def test_invalid_settings_are_named_without_echoing_the_values() -> None:
    workspace = make_workspace()

    response = configure(workspace, {"api_key": "abc", "region": "mars"})

    assert response.status_code == 400
    error = error_of(response)
    assert error["message"] == "The plugin's settings are invalid."
    assert error["fields"] == {"api_key": ["Enter at least 4 characters."], "region": ["Choose one of: eu, us."]}
    assert "abc" not in response.content.decode()
    assert not PluginInstallation.objects.filter(workspace=workspace).exclude(config={}).exists()


def test_admins_manage_plugins_members_only_see_them_and_outsiders_see_nothing() -> None:
    workspace = make_workspace()
    editor = client_for(member(workspace, Role.EDITOR))
    outsider = client_for(make_user())

    assert editor.get(url(workspace)).status_code == 200
    assert editor.get(url(workspace, "example")).status_code == 200
    assert configure(workspace, {"api_key": KEY}, editor).status_code == 403
    assert editor.get(url(workspace, "example/config")).status_code == 403
    assert editor.post(url(workspace, "example/enable")).status_code == 403
    assert editor.post(url(workspace, "example/test")).status_code == 403
    assert outsider.get(url(workspace)).status_code == 404
    assert admin(workspace).get(url(workspace, "nothing")).status_code == 404
    assert admin(workspace).post(url(workspace, "broken/enable")).status_code == 404


def test_testing_credentials_asks_the_plugin_and_masks_what_it_says() -> None:
    workspace = make_workspace()
    client = admin(workspace)
    configure(workspace, {"api_key": KEY}, client)

    saved = client.post(url(workspace, "example/test"), {}, format="json")
    draft = client.post(url(workspace, "example/test"), {"config": {"api_key": VALID_KEY}}, format="json")
    invalid = client.post(url(workspace, "example/test"), {"config": {"api_key": "x"}}, format="json")

    assert saved.json() == {"ok": False, "message": "The key [redacted] was rejected.", "checked": True}
    assert draft.json() == {"ok": True, "message": "The key works.", "checked": True}
    assert invalid.status_code == 400
    stored = PluginInstallation.objects.get(workspace=workspace)
    assert decrypt_secret(stored.secrets_encrypted["api_key"]) == KEY  # a draft is not saved


def test_a_plugin_without_a_check_or_with_a_broken_one_answers_clearly(
    example_host: PluginHost, tmp_path: Path
) -> None:
    example_host.load(write_plugin(tmp_path, "plain"))
    broken_check = PING_HOOKS + "\n@hookimpl\ndef validate_config(plugin_id, config, ctx):\n    return 1 / 0\n"
    example_host.load(write_plugin(tmp_path, "faulty", hooks=broken_check))
    workspace = make_workspace()
    client = admin(workspace)

    plain = client.post(url(workspace, "plain/test"), {}, format="json")
    faulty = client.post(url(workspace, "faulty/test"), {}, format="json")

    assert plain.json() == {"ok": True, "message": "This plugin cannot test its settings.", "checked": False}
    assert faulty.json() == {
        "ok": False,
        "message": "The check failed: ZeroDivisionError: division by zero",
        "checked": True,
    }


def test_webhook_routes_are_served_for_their_plugin(example_host: PluginHost, tmp_path: Path, client: Any) -> None:
    hooks = (
        PING_HOOKS
        + """
import json

from builder.sdk import WebhookResponse, WebhookRoute


async def finished(request):
    if request.headers.get("x-signature") != "good":
        return WebhookResponse(status=401, json={"error": "bad signature"})
    body = json.loads(request.body)
    return WebhookResponse(json={"job": body["id"], "query": dict(request.query)}, headers={"X-Seen": "1"})


async def crash(request):
    raise RuntimeError("boom")


@hookimpl
def register_routes():
    return [WebhookRoute("jobs/finished", finished), WebhookRoute("crash", crash, methods=frozenset({"GET"}))]
"""
    )
    example_host.load(write_plugin(tmp_path, "video", hooks=hooks, permissions={"webhooks": True}))
    base = "/api/v1/plugins/video/webhooks"

    signed = client.post(
        f"{base}/jobs/finished?attempt=2", {"id": "j1"}, content_type="application/json", HTTP_X_SIGNATURE="good"
    )
    unsigned = client.post(f"{base}/jobs/finished", {"id": "j1"}, content_type="application/json")
    wrong_method = client.get(f"{base}/jobs/finished")
    crashed = client.get(f"{base}/crash")
    unknown = client.post(f"{base}/nothing")

    assert signed.status_code == 200, signed.content
    assert signed.json() == {"job": "j1", "query": {"attempt": "2"}} and signed["X-Seen"] == "1"
    assert unsigned.status_code == 401
    assert wrong_method.status_code == 405 and wrong_method["Allow"] == "POST"
    assert crashed.status_code == 500 and error_of(crashed)["code"] == "plugin_error"
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "not_found"


def test_the_admin_lists_installations_without_their_secrets() -> None:
    staff = make_user(is_staff=True, is_superuser=True)
    workspace = make_workspace(staff)
    configure(workspace, {"api_key": KEY})
    installation = PluginInstallation.objects.get(workspace=workspace)
    client = client_for(staff)

    listing = client.get("/admin/pluginhost/plugininstallation/")
    page = client.get(f"/admin/pluginhost/plugininstallation/{installation.pk}/change/")

    assert listing.status_code == 200 and page.status_code == 200
    assert "sk-…3456" in page.content.decode()
    assert KEY not in page.content.decode() and installation.secrets_encrypted["api_key"] not in page.content.decode()
