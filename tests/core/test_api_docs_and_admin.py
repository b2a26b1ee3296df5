from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.factories import make_bot, make_user, make_workspace

pytestmark = pytest.mark.django_db


def test_openapi_schema_documents_every_endpoint() -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for expected in [
        "/api/v1/workspaces/",
        "/api/v1/workspaces/{workspace_id}/bots/",
        "/api/v1/workspaces/{workspace_id}/bots/import",
        "/api/v1/bots/{bot_id}/draft",
        "/api/v1/bots/{bot_id}/publish",
        "/api/v1/bots/{bot_id}/diff",
        "/api/v1/bots/{bot_id}/versions/{number}/rollback",
        "/api/v1/workspaces/{workspace_id}/api-keys/",
        "/api/v1/dsl/schema",
    ]:
        assert expected in paths, expected
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_swagger_ui_is_served_without_a_cdn() -> None:
    page = APIClient().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html and "cdn.jsdelivr.net" not in html


def test_dsl_schema_and_node_catalog_are_served() -> None:
    client = APIClient()
    client.force_login(make_user())
    schema = client.get("/api/v1/dsl/schema").json()
    assert "nodes" in schema["properties"]
    catalog = client.get("/api/v1/dsl/node-types").json()["results"]
    assert {"start", "llm", "answer", "condition", "code"} <= {item["name"] for item in catalog}


def test_every_model_is_in_the_admin_and_its_pages_load() -> None:
    ours = [model for model in apps.get_models() if model._meta.app_label in {"accounts", "bots", "core"}]
    assert ours
    missing = [model.__name__ for model in ours if model not in admin.site._registry]
    assert missing == []
    staff = make_user(is_staff=True, is_superuser=True)
    workspace = make_workspace(staff)
    make_bot(workspace)
    client = APIClient()
    client.force_login(staff)
    for model in ours:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url


def test_node_catalog_speaks_the_request_language() -> None:
    client = APIClient()
    client.force_login(make_user())
    english = {item["name"]: item["title"] for item in client.get("/api/v1/dsl/node-types").json()["results"]}
    chinese = {
        item["name"]: item["title"]
        for item in client.get("/api/v1/dsl/node-types", HTTP_ACCEPT_LANGUAGE="zh-Hans").json()["results"]
    }
    assert english["condition"] != chinese["condition"]
    assert any("\u4e00" <= char <= "\u9fff" for char in chinese["condition"])


def test_openapi_schema_is_valid_and_warning_free(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/bots/{bot_id}/draft" in target.read_text()
