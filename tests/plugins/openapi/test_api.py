"""Importing an API over the plugin API: a bad spec is a 400 naming the field, each API's secret is
encrypted and masked and follows its API, the tools endpoint lists the operations with their
schemas, and the Test button says what is wrong with a spec at a URL."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import LazySettings

from builder.accounts.models import Workspace
from builder.accounts.roles import Role
from builder.core.crypto import decrypt_secret
from builder.pluginhost.manager import PluginHost
from builder.pluginhost.models import PluginInstallation
from tests.factories import client_for, error_of, make_workspace, member
from tests.plugins.openapi.conftest import source
from tests.plugins.openapi.fake_petstore import API_KEY, SPECS, FakePetstore
from tests.support.plugin_hosts import host_with

pytestmark = pytest.mark.django_db

OTHER_KEY = "ok-live-abcdefghijklmnop"


@pytest.fixture(autouse=True)
def openapi_host(settings: LazySettings) -> Iterator[PluginHost]:
    """A host with the OpenAPI plugin; the server's SSRF client may reach the fake on 127.0.0.1."""
    settings.AGENTLOOM_HTTP_ALLOWLIST = ["127.0.0.1"]
    with host_with(importlib.import_module("plugins.openapi")) as host:
        yield host


def url(workspace: Workspace, suffix: str) -> str:
    return f"/api/v1/workspaces/{workspace.pk}/plugins/openapi{suffix}"


def admin(workspace: Workspace) -> Any:
    return client_for(member(workspace, Role.ADMIN))


def configure(client: Any, workspace: Workspace, sources: list[dict[str, Any]]) -> Any:
    return client.put(url(workspace, "/config"), {"config": {"sources": sources}}, format="json")


def test_a_bad_pasted_spec_is_a_400_naming_the_field() -> None:
    workspace = make_workspace()
    client = admin(workspace)

    response = configure(client, workspace, [source(spec=(SPECS / "broken.yaml").read_text())])
    tested = client.post(url(workspace, "/test"), {"config": {"sources": [source(spec="openapi: [")]}}, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "sources.0.spec": [
            "Not a usable OpenAPI spec: info: 'version' is a required property; "
            "paths./pets.get: 'responses' is a required property"
        ]
    }
    assert tested.status_code == 400
    assert error_of(tested)["fields"]["sources.0.spec"][0].startswith("Not a usable OpenAPI spec: not valid YAML")
    assert not PluginInstallation.objects.filter(workspace=workspace).exclude(config={}).exists()


def test_the_test_button_reports_a_spec_url_that_is_not_a_spec(api: FakePetstore) -> None:
    workspace = make_workspace()

    response = admin(workspace).post(
        url(workspace, "/test"),
        {"config": {"sources": [source(spec_url=f"{api.url}/specs/broken.yaml")]}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "ok": False,
        "checked": True,
        "message": f"petstore: The spec at {api.url}/specs/broken.yaml is not usable: info: 'version' is a required "
        "property; paths./pets.get: 'responses' is a required property",
    }


def test_each_api_s_secret_is_encrypted_masked_and_follows_its_api(api: FakePetstore) -> None:
    workspace = make_workspace()
    client = admin(workspace)
    petstore = source(spec_url=f"{api.url}/specs/petstore.yaml", auth="api_key", secret=API_KEY)

    saved = configure(client, workspace, [petstore])
    masked = saved.json()["config"]["sources"][0]
    # The list reordered, a second API added before it, the first API's secret sent back masked.
    other = source("weather", spec=(SPECS / "weather-3.1.json").read_text(), secret=OTHER_KEY)
    resaved = configure(client, workspace, [other, masked])

    assert saved.status_code == 200, saved.json()
    assert masked["secret"] == "pk-…cdef" and API_KEY not in saved.content.decode()
    assert resaved.status_code == 200, resaved.json()
    assert [item["secret"] for item in resaved.json()["config"]["sources"]] == ["ok-…mnop", "pk-…cdef"]
    assert resaved.json()["secrets_set"] == {"sources[weather].secret": True, "sources[petstore].secret": True}
    stored = PluginInstallation.objects.get(workspace=workspace)
    assert all("secret" not in item for item in stored.config["sources"])
    assert decrypt_secret(stored.secrets_encrypted["sources[petstore].secret"]) == API_KEY
    assert decrypt_secret(stored.secrets_encrypted["sources[weather].secret"]) == OTHER_KEY


def test_two_apis_cannot_share_a_name() -> None:
    workspace = make_workspace()
    spec = (SPECS / "weather-3.1.json").read_text()

    response = configure(admin(workspace), workspace, [source("weather", spec=spec), source("weather", spec=spec)])

    assert response.status_code == 400
    assert error_of(response)["fields"] == {"sources.1.name": ["Another item has this name already."]}


def test_the_tools_endpoint_lists_the_operations_with_their_schemas(api: FakePetstore) -> None:
    workspace = make_workspace()
    configure(
        admin(workspace),
        workspace,
        [source(spec_url=f"{api.url}/specs/petstore.yaml"), source("gone", spec_url=f"{api.url}/specs/gone.yaml")],
    )

    response = client_for(member(workspace, Role.VIEWER)).get(url(workspace, "/tools"))
    plugin = client_for(member(workspace, Role.VIEWER)).get(url(workspace, ""))

    assert response.status_code == 200, response.json()
    tools = {tool["name"]: tool for tool in response.json()["tools"]}
    assert len(tools) == 14
    get_pet = tools["petstore__get_pet_by_id"]
    assert get_pet["title"] == "Find pet by ID." and get_pet["input_schema"]["required"] == ["petId"]
    assert get_pet["output_schema"]["properties"]["status"]["type"] == "integer"
    assert response.json()["problems"] == [
        {
            "toolset": "operations",
            "source": "gone",
            "code": "toolset_unavailable",
            "message": "The gone tools of the openapi plugin cannot be listed: "
            f"Fetching the spec at {api.url}/specs/gone.yaml answered 404.",
        }
    ]
    assert plugin.json()["tools"] == []
    assert plugin.json()["toolsets"] == [
        {"name": "operations", "description": "One tool per operation of each OpenAPI spec imported in the settings."}
    ]
