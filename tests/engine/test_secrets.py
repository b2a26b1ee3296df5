"""Secret fields of node configs: marked once, found by one walker, resolved at run time, masked in traces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.graph_secrets import graph_secret_slots, replace_secrets
from builder.engine.nodes import registry
from builder.engine.runtime.contract import NodeError, RuntimeServices, node_error
from builder.engine.schema import node_types_catalog
from builder.engine.secrets import CredentialRef, is_secret_name, looks_masked, secret_slots
from tests.engine.nodes.support import StubContext, run_node
from tests.support.http_server import LocalHttpServer, serve

CREDENTIAL = "6f1c2e0a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"


class Vault:
    """A ``CredentialStore`` over a dict (what the host's workspace store does, minus the database)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    async def reveal(self, credential_id: str) -> str:
        if credential_id not in self.values:
            raise node_error("credential_missing", "The credential %(credential)s is gone.", credential=credential_id)
        return self.values[credential_id]


def http_slots(data: dict[str, Any]) -> dict[str, Any]:
    config = registry.resolve("http_request").config_model.model_validate(data)
    return {slot.field: slot.value for slot in secret_slots(config)}


def test_the_walker_finds_every_secret_of_an_http_node_and_nothing_else() -> None:
    slots = http_slots(
        {
            "url": "https://api.example.com/",
            "headers": {"Authorization": "Bearer x", "X-Api-Key": {"credential": CREDENTIAL}, "Accept": "json"},
            "query": {"access_token": "t", "max_tokens": "5", "page": {"credential": CREDENTIAL}},
            "body": {"type": "json", "content": {"user": {"name": "ada", "password": "p"}, "token_type": "bearer"}},
            "auth": {"type": "basic", "username": "ada", "password": "{{ conv.password }}"},
        }
    )

    ref = CredentialRef(credential=CREDENTIAL)
    assert slots == {
        "data.headers.Authorization": "Bearer x",
        "data.headers.X-Api-Key": ref,
        "data.query.access_token": "t",
        "data.query.page": ref,
        "data.body.content.user.password": "p",
        "data.auth.token": "",
        "data.auth.password": "{{ conv.password }}",
        "data.auth.api_key": "",
    }


def test_tool_inputs_named_like_credentials_are_secrets() -> None:
    config = registry.resolve("tool").config_model.model_validate(
        {"plugin": "p", "tool": "t", "inputs": {"apiKey": "k", "query": "owls", "limit": 3}}
    )
    assert [slot.field for slot in secret_slots(config)] == ["data.inputs.apiKey"]


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("Authorization", True),
        ("Proxy-Authorization", True),
        ("X-Api-Key", True),
        ("apiKey", True),
        ("client_secret", True),
        ("X-Auth-Token", True),
        ("Cookie", True),
        ("aws_secret_access_key", True),
        ("max_tokens", False),
        ("token_type", False),
        ("Accept", False),
        ("username", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("text", "masked"),
    [("••••", True), ("******", True), ("sk-…3456", True), ("…", True), ("sk-live-123", False), ("a*b", False)],
)
def test_masks(text: str, masked: bool) -> None:
    assert looks_masked(text) is masked


def test_the_schema_tells_the_canvas_which_fields_are_secret() -> None:
    http = next(entry for entry in node_types_catalog() if entry["name"] == "http_request")
    schema = json.dumps(http["config_schema"])
    auth = http["config_schema"]["$defs"]["HttpAuth"]["properties"]
    assert auth["token"]["x-secret"] is True and auth["password"]["x-secret"] is True
    assert "x-secret" not in auth["username"]
    assert http["config_schema"]["properties"]["headers"]["x-secret-names"]
    assert '"Credential reference"' in schema


def test_an_unregistered_node_type_is_searched_by_names() -> None:
    document = {
        "nodes": [
            {"id": "n", "type": "someones_plugin_node", "data": {"settings": {"api_key": "k", "region": "eu"}}},
        ]
    }
    assert [(node, slot.field) for node, slot in graph_secret_slots(document)] == [("n", "data.settings.api_key")]
    assert replace_secrets(document, lambda _node, _slot: "")["nodes"][0]["data"]["settings"] == {
        "api_key": "",
        "region": "eu",
    }


@pytest.fixture
def api() -> Iterator[LocalHttpServer]:
    with serve() as server:
        yield server


def context(**services: Any) -> StubContext:
    return StubContext(RuntimeServices(http=SsrfSafeHttpClient(allow=["127.0.0.1"]), **services))


async def test_credentials_are_sent_and_masked_in_the_trace(api: LocalHttpServer) -> None:
    ref = {"credential": CREDENTIAL}
    data = {
        "method": "POST",
        "url": api.url("/echo"),
        "headers": {"X-Api-Key": ref, "Authorization": "Basic literal"},
        "body": {"type": "json", "content": {"login": "ada", "password": ref}},
        "auth": {"type": "api_key", "api_key": ref, "name": "key", "placement": "query"},
    }

    result = await run_node("http_request", data, context(credentials=Vault({CREDENTIAL: "s3cr3t-value"})))

    echo = result.outputs["json"]
    assert echo["headers"]["x-api-key"] == "s3cr3t-value" and echo["query"]["key"] == ["s3cr3t-value"]
    assert json.loads(echo["body"]) == {"login": "ada", "password": "s3cr3t-value"}
    assert result.inputs["headers"] == {"X-Api-Key": "******", "Authorization": "******"}
    assert result.inputs["body"] == {"login": "ada", "password": "******"}
    assert "s3cr3t-value" not in json.dumps(result.inputs) and "Basic literal" not in json.dumps(result.inputs)


async def test_a_missing_credential_or_store_is_a_typed_node_error(api: LocalHttpServer) -> None:
    data = {"url": api.url("/echo"), "auth": {"type": "bearer", "token": {"credential": CREDENTIAL}}}

    with pytest.raises(NodeError) as missing:
        await run_node("http_request", data, context(credentials=Vault({})))
    with pytest.raises(NodeError) as no_store:
        await run_node("http_request", data, context())

    assert missing.value.code == "credential_missing" and no_store.value.code == "not_configured"
    assert api.requests == []
