"""What the OpenAPI schema promises: the error responses, the request shapes the server accepts,
and the chat endpoint (tests/api/test_schemathesis.py holds the server to all of it)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from builder.core.schema import SERVICE_ERRORS
from tests.factories import client_for, error_of, make_user, make_workspace, owner_of

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


class _NameIn(serializers.Serializer[Any]):
    name = serializers.CharField()


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def _responses(schema: dict[str, Any], label: str) -> dict[str, Any]:
    return _operations(schema)[label]["responses"]  # type: ignore[no-any-return]


def test_every_error_response_has_the_one_error_shape(schema: dict[str, Any]) -> None:
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    body = schema["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"code", "message", "fields"}
    assert body["properties"]["fields"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    for label, operation in _operations(schema).items():
        errors = {code: response for code, response in operation["responses"].items() if code.startswith("4")}
        for code, response in errors.items():
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, (
                label,
                code,
            )
            assert response["description"], (label, code)


def test_error_responses_follow_from_each_view(schema: dict[str, Any]) -> None:
    # Authenticated, a path parameter, a JSON body.
    assert set(_responses(schema, "PATCH /api/v1/bots/{bot_id}/")) == {"200", "400", "401", "403", "404", "415"}
    # Authenticated, no parameters, no body.
    assert set(_responses(schema, "GET /api/v1/dsl/schema")) == {"200", "401", "403"}
    # A paginated list: a bad ?page_size is a 400, a page past the end a 404.
    assert {"400", "404"} <= set(_responses(schema, "GET /api/v1/workspaces/"))
    # Anonymous and unauthenticated: only what the view declares.
    assert set(_responses(schema, "GET /api/v1/health")) == {"200", "503"}
    # A wrong password is the service's 401.
    assert {"200", "400", "401", "415"} <= set(_responses(schema, "POST /api/v1/auth/login"))
    # What only the services know: stale revisions, size limits. The YAML import takes any body.
    assert "409" in _responses(schema, "PUT /api/v1/bots/{bot_id}/draft")
    imported = _responses(schema, "POST /api/v1/workspaces/{workspace_id}/bots/import")
    assert "413" in imported and "415" not in imported
    assert "404" in _responses(schema, "POST /api/v1/invitations/accept")


class _FiveAMinute(SimpleRateThrottle):
    rate = "5/min"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return "test"


class _ThrottledAnonymousApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [_FiveAMinute]

    @extend_schema(request=_NameIn, responses={200: _NameIn})
    def post(self, request: Any) -> Any:
        raise NotImplementedError


class _ThingApi(APIView):
    @extend_schema(request=_NameIn, responses={200: _NameIn})
    def patch(self, request: Any, thing_id: str) -> Any:
        raise NotImplementedError

    @extend_schema(responses={204: None})
    def delete(self, request: Any, thing_id: str) -> Any:
        raise NotImplementedError


def test_the_derivation_rules_on_views_of_each_kind() -> None:
    patterns = [
        path("throttled", _ThrottledAnonymousApi.as_view()),
        path("things/<uuid:thing_id>", _ThingApi.as_view()),
    ]
    paths = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)["paths"]
    assert set(paths["/throttled"]["post"]["responses"]) == {"200", "400", "415", "429"}
    assert set(paths["/things/{thing_id}"]["patch"]["responses"]) == {"200", "400", "401", "403", "404", "415"}
    assert set(paths["/things/{thing_id}"]["delete"]["responses"]) == {"204", "401", "403", "404"}


def test_every_service_error_entry_names_a_view_method() -> None:
    for name in SERVICE_ERRORS:
        module_name, class_name, method = name.rsplit(".", 2)
        view = getattr(importlib.import_module(module_name), class_name)
        assert callable(getattr(view, method, None)), name


def test_a_patch_body_requires_what_the_server_requires(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    chunk_body = _operations(schema)["PATCH /api/v1/chunks/{chunk_id}"]["requestBody"]
    component = chunk_body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert components[component]["required"] == ["text"]
    assert not [name for name in components if name.startswith("Patched")]


def test_an_empty_patch_is_a_400_naming_what_is_missing() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    member_url = f"/api/v1/workspaces/{workspace.pk}/members/{owner_of(workspace).pk}"
    error = error_of(client.patch(member_url, {}, format="json"))
    assert error["fields"] == {"role": ["This field is required."]}


def test_a_json_field_that_refuses_null_says_so(schema: dict[str, Any]) -> None:
    draft = schema["components"]["schemas"]["DraftInRequest"]["properties"]["draft"]
    assert "null" not in str(draft) and {"type": "object", "additionalProperties": {}} in draft["anyOf"]
    owner = make_user()
    workspace, client = make_workspace(owner), client_for(owner)
    bot = client.post(f"/api/v1/workspaces/{workspace.pk}/bots/", {"name": "B"}, format="json").json()
    refused = client.put(f"/api/v1/bots/{bot['id']}/draft", {"revision": 1, "draft": None}, format="json")
    assert refused.status_code == 400 and "draft" in error_of(refused)["fields"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=null", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page_size=", "page_size"),
        ("page=last", "page"),
        ("page=-1", "page"),
    ],
)
def test_pagination_parameters_outside_the_schema_are_a_400_naming_them(query: str, field: str) -> None:
    client = client_for(make_user())
    response = client.get(f"/api/v1/workspaces/?{query}")
    assert response.status_code == 400, response.content
    assert list(error_of(response)["fields"]) == [field]


def test_pagination_parameters_are_documented_with_their_bounds(schema: dict[str, Any]) -> None:
    parameters = {p["name"]: p["schema"] for p in _operations(schema)["GET /api/v1/workspaces/"]["parameters"]}
    assert parameters["page"] == {"type": "integer", "minimum": 1}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 200}
    owner = make_user()
    make_workspace(owner)
    client = client_for(owner)
    assert client.get("/api/v1/workspaces/?page=1&page_size=200").status_code == 200
    assert client.get("/api/v1/workspaces/?page=2").status_code == 404


def test_the_chat_endpoint_is_documented(schema: dict[str, Any]) -> None:
    chat = _operations(schema)["POST /api/v1/bots/{bot_id}/chat"]
    request = chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][request]["required"] == ["query"]
    answers = chat["responses"]["200"]["content"]
    assert set(answers) == {"application/json", "text/event-stream"}
    answer = schema["components"]["schemas"][answers["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"conversation_id", "run_id", "status", "answer", "files", "usage", "error"} <= set(answer["properties"])
    assert set(chat["responses"]) == {"200", "400", "401", "403", "404", "409"}
    assert {"apiKey": []} in chat["security"]


@pytest.mark.parametrize(("path", "query"), [("bots/", "published=maybe"), ("model-providers/", "is_default=4005")])
def test_a_boolean_filter_takes_true_or_false_only(path: str, query: str) -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    url = f"/api/v1/workspaces/{workspace.pk}/{path}"
    response = client.get(f"{url}?{query}")
    assert response.status_code == 400, response.content
    assert list(error_of(response)["fields"]) == [query.split("=")[0]]
    assert client.get(f"{url}?{query.split('=')[0]}=false").status_code == 200


@pytest.mark.parametrize(("path", "query"), [("bots/", "visibility="), ("api-keys/", "bot="), ("bots/", "published=")])
def test_an_empty_filter_on_a_choice_an_id_or_a_boolean_is_a_400(path: str, query: str) -> None:
    workspace = make_workspace()
    response = client_for(owner_of(workspace)).get(f"/api/v1/workspaces/{workspace.pk}/{path}?{query}")
    assert response.status_code == 400, response.content
    assert list(error_of(response)["fields"]) == [query.rstrip("=")]
