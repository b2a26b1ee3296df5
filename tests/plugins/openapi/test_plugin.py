"""The OpenAPI plugin with the petstore spec: operations become tools with the spec's schemas, and
calls reach the (fake) API exactly as the spec describes, with each kind of authentication."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from builder.sdk import ToolError
from builder.sdk.testing import PluginHarness, assert_plugin_contract
from tests.plugins.openapi.conftest import PETSTORE_YAML, PLUGIN, source
from tests.plugins.openapi.fake_petstore import API_KEY, BEARER, CLIENT_ID, CLIENT_SECRET, SPECS, FakePetstore

Harness = Callable[..., PluginHarness]


def petstore(api: FakePetstore, **settings: Any) -> dict[str, Any]:
    """The petstore imported from the fake's URL (its relative server resolves against it)."""
    return {"sources": [source(spec_url=f"{api.url}/specs/petstore.yaml", **settings)]}


def test_the_host_accepts_the_plugin() -> None:
    plugin = assert_plugin_contract(PLUGIN)

    assert list(plugin.toolsets) == ["operations"] and plugin.tools == {}


async def test_each_operation_is_a_tool_with_the_spec_s_schema(plugin_harness: Harness) -> None:
    harness = plugin_harness(
        PLUGIN, config={"sources": [source(spec=PETSTORE_YAML, server_url="https://pets.example")]}
    )

    tools = await harness.listed_tools()

    assert list(tools) == [
        "petstore__update_pet",
        "petstore__add_pet",
        "petstore__find_pets_by_status",
        "petstore__find_pets_by_tags",
        "petstore__get_pet_by_id",
        "petstore__update_pet_with_form",
        "petstore__delete_pet",
        # uploadFile is left out: its body is a file
        "petstore__get_inventory",
        "petstore__place_order",
        "petstore__get_order_by_id",
        "petstore__delete_order",
        "petstore__create_user",
        "petstore__login_user",
        "petstore__get_user_by_name",
    ]
    get_pet = tools["petstore__get_pet_by_id"]
    assert (get_pet.title, get_pet.description) == ("Find pet by ID.", "Find pet by ID.\n\nReturns a single pet.")
    assert get_pet.input_schema() == {
        "type": "object",
        "properties": {"petId": {"type": "integer", "format": "int64", "description": "ID of pet to return"}},
        "required": ["petId"],
    }
    body = tools["petstore__add_pet"].input_schema()["properties"]["body"]
    assert body["required"] == ["name", "photoUrls"] and body["description"] == "Create a new pet in the store"
    category = body["properties"]["category"]
    # The recursive Category is expanded once, then cut.
    assert category["properties"]["subcategories"]["items"] == {
        "type": "object",
        "description": "A Category (the same structure again).",
    }
    assert "xml" not in body and "example" not in body["properties"]["id"]
    # A path-level parameter given by $ref, and 3.0's nullable as JSON Schema.
    assert tools["petstore__delete_order"].input_schema()["required"] == ["orderId"]
    phone = tools["petstore__create_user"].input_schema()["properties"]["body"]["properties"]["phone"]
    assert phone["type"] == ["string", "null"]


async def test_path_query_and_header_parameters_and_a_json_body(plugin_harness: Harness, api: FakePetstore) -> None:
    harness = plugin_harness(PLUGIN, config=petstore(api, auth="api_key", secret=API_KEY))

    pet = await harness.invoke_json("petstore__get_pet_by_id", {"petId": 10})
    tagged = await harness.invoke_json("petstore__find_pets_by_tags", {"tags": ["cute", "small dog"]})
    renamed = await harness.invoke_json("petstore__update_pet_with_form", {"petId": 11, "name": "Kitty Cat"})
    added = await harness.invoke_json("petstore__add_pet", {"body": {"name": "rex", "photoUrls": ["https://x/1.png"]}})
    deleted = await harness.invoke_json("petstore__delete_pet", {"petId": 10, "api_key": "per-call header"})

    assert pet == {"status": 200, "data": {"id": 10, "name": "doggie", "photoUrls": [], "status": "available"}}
    assert tagged["data"][0]["tags"] == [{"name": "cute"}, {"name": "small dog"}]
    assert renamed["data"]["name"] == "Kitty Cat"
    assert added["data"] == {"name": "rex", "photoUrls": ["https://x/1.png"], "id": 12}
    assert deleted == {"status": 200, "data": None}
    get, by_tags, form, add, delete = api.api_calls()
    assert (get.method, get.path, get.headers["api_key"]) == ("GET", "/api/v3/pet/10", API_KEY)
    assert get.headers["accept"].startswith("application/json")
    assert by_tags.query == [("tags", "cute"), ("tags", "small dog")]
    assert (form.method, form.path, form.query) == ("POST", "/api/v3/pet/11", [("name", "Kitty Cat")])
    assert add.headers["content-type"] == "application/json" and add.json() == {
        "name": "rex",
        "photoUrls": ["https://x/1.png"],
    }
    # The operation's own api_key header parameter, then the source's key over it.
    assert (delete.method, delete.path) == ("DELETE", "/api/v3/pet/10")


async def test_the_key_goes_where_the_spec_says_and_form_bodies(plugin_harness: Harness, api: FakePetstore) -> None:
    """OpenAPI 3.1 with a global apiKey-in-query security: ``auto`` finds it."""
    weather = (SPECS / "weather-3.1.json").read_text(encoding="utf-8")
    config = {"sources": [source("weather", spec=weather, server_url=f"{api.url}/api/v3", secret=API_KEY)]}
    harness = plugin_harness(PLUGIN, config=config)

    tools = await harness.listed_tools()
    forecast = await harness.invoke_json(
        "weather__get_forecast", {"city": "Saint-Étienne", "units": None, "days": 2, "X-Request-Id": "r-1"}
    )
    station = await harness.invoke_json("weather__post_stations", {"body": {"name": "Puy", "altitude_m": 1465}})

    assert tools["weather__get_forecast"].input_schema()["properties"]["units"]["type"] == ["string", "null"]
    assert forecast["data"] == {"city": "Saint-Étienne", "summary": "Sunny.", "units": None}
    assert station == {"status": 201, "data": {"registered": {"name": "Puy", "altitude_m": "1465"}}}
    get, post = api.api_calls()
    assert get.path == "/api/v3/forecast/Saint-Étienne"
    assert get.query == [("days", "2"), ("appid", API_KEY)]
    assert get.headers["x-request-id"] == "r-1" and "api_key" not in get.headers
    assert post.headers["content-type"] == "application/x-www-form-urlencoded"


async def test_bearer_tokens(plugin_harness: Harness, api: FakePetstore) -> None:
    api.require = "bearer"
    harness = plugin_harness(PLUGIN, config=petstore(api, auth="bearer", secret=BEARER))

    inventory = await harness.invoke_json("petstore__get_inventory")

    assert inventory["data"] == {"available": 1, "sold": 1}
    assert api.api_calls()[0].headers["authorization"] == f"Bearer {BEARER}"


async def test_oauth2_client_credentials_are_exchanged_cached_and_refreshed_once(
    plugin_harness: Harness, api: FakePetstore
) -> None:
    api.require = "oauth2"
    settings = {"auth": "oauth2_client_credentials", "client_id": CLIENT_ID, "secret": CLIENT_SECRET}
    harness = plugin_harness(PLUGIN, config=petstore(api, scopes="read:pets write:pets", **settings))

    first = await harness.invoke_json("petstore__find_pets_by_status", {"status": "sold"})
    second = await harness.invoke_json("petstore__get_pet_by_id", {"petId": 10})
    api.revoke("token-1")  # expired before its time: the API answers 401 once
    third = await harness.invoke_json("petstore__get_pet_by_id", {"petId": 11})

    assert first["data"] == [{"id": 11, "name": "kitty", "photoUrls": [], "status": "sold"}]
    assert (second["status"], third["data"]["name"]) == (200, "kitty")
    tokens = [request for request in api.requests if request.path == "/oauth/token"]
    assert len(tokens) == 2  # one exchange for the first two calls, one after the 401
    exchange = tokens[0]
    assert exchange.method == "POST" and exchange.headers["content-type"] == "application/x-www-form-urlencoded"
    assert exchange.form() == {"grant_type": "client_credentials", "scope": "read:pets write:pets"}
    assert (
        exchange.headers["authorization"]
        == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    )
    calls = [request.headers["authorization"] for request in api.api_calls()]
    assert calls == ["Bearer token-1", "Bearer token-1", "Bearer token-1", "Bearer token-2"]


async def test_oauth2_client_secret_in_the_form_and_a_refused_client(
    plugin_harness: Harness, api: FakePetstore
) -> None:
    api.require = "oauth2"
    good = petstore(
        api, auth="oauth2_client_credentials", client_id=CLIENT_ID, secret=CLIENT_SECRET, client_auth="body"
    )
    bad = petstore(api, auth="oauth2_client_credentials", client_id=CLIENT_ID, secret="cs-wrong-0123456789")
    harness = plugin_harness(PLUGIN, config=good)

    await harness.invoke("petstore__get_inventory", config=good)
    with pytest.raises(ToolError) as refused:
        await harness.invoke("petstore__get_inventory", config=bad)

    assert api.requests[1].form()["client_secret"] == CLIENT_SECRET
    assert refused.value.code == "unauthorized"
    assert refused.value.message == (
        "The token endpoint of petstore refused the client credentials (401: Unknown client.)."
    )


async def test_api_errors_are_tool_errors_the_model_can_read(plugin_harness: Harness, api: FakePetstore) -> None:
    harness = plugin_harness(PLUGIN, config=petstore(api, auth="api_key", secret=API_KEY))
    unauthorised = plugin_harness(PLUGIN, config=petstore(api, auth="api_key", secret="pk-wrong-0123456789"))

    with pytest.raises(ToolError) as missing:
        await harness.invoke("petstore__get_pet_by_id", {"petId": 404})
    with pytest.raises(ToolError) as invalid:
        await harness.invoke("petstore__get_pet_by_id", {"petId": "ten"})
    with pytest.raises(ToolError) as rejected:
        await unauthorised.invoke("petstore__get_inventory")

    assert (missing.value.code, missing.value.details["status"]) == ("not_found", 404)
    assert (
        missing.value.message
        == 'The petstore API answered 404: {"code": 1, "type": "error", "message": "Pet not found"}'
    )
    assert invalid.value.code == "invalid_tool_input"
    assert (
        invalid.value.message
        == "Invalid input for the petstore__get_pet_by_id tool: petId: 'ten' is not of type 'integer'"
    )
    assert rejected.value.code == "unauthorized" and "pk-wrong" not in rejected.value.message


async def test_a_public_operation_gets_no_credentials(plugin_harness: Harness, api: FakePetstore) -> None:
    harness = plugin_harness(PLUGIN, config=petstore(api, auth="api_key", secret=API_KEY))

    login = await harness.invoke_json("petstore__login_user", {"username": "ada", "password": "pw"})

    assert login["data"] == "logged in user session:ada"
    assert API_KEY not in json.dumps(api.api_calls()[0].headers)


async def test_several_apis_and_one_that_cannot_be_read(plugin_harness: Harness, api: FakePetstore) -> None:
    config = {
        "sources": [
            source(spec_url=f"{api.url}/specs/petstore.yaml"),
            source("broken", spec_url=f"{api.url}/specs/broken.yaml"),
            source("gone", spec_url=f"{api.url}/specs/gone.yaml"),
        ]
    }
    harness = plugin_harness(PLUGIN, config=config)

    listing = await harness.host.toolset_cache.listing(harness.plugin, harness.context(config=config))

    assert len(listing.tools) == 14 and all(name.startswith("petstore__") for name in listing.tools)
    broken, gone = listing.problems
    assert (broken.source, broken.error.code) == ("broken", "toolset_unavailable")
    assert broken.error.message == (
        f"The broken tools of the openapi plugin cannot be listed: The spec at {api.url}/specs/broken.yaml is not "
        "usable: info: 'version' is a required property; paths./pets.get: 'responses' is a required property"
    )
    assert gone.error.message.endswith(f"Fetching the spec at {api.url}/specs/gone.yaml answered 404.")
    assert listing.problem_for("broken__list_pets") is broken


def test_pasted_specs_are_checked_before_they_are_saved(plugin_harness: Harness) -> None:
    host = plugin_harness(PLUGIN).host
    config: dict[str, Any] = {
        "sources": [
            source("one", spec=(SPECS / "broken.yaml").read_text()),
            source("two", spec='{"openapi": "3.0.0", "info": '),
            source("three", spec="swagger: '2.0'\ninfo: {title: Old, version: '1'}\npaths: {}\n"),
            source("four", spec=PETSTORE_YAML, auth="oauth2_client_credentials"),
            source("five", spec=PETSTORE_YAML, spec_url="https://pets.example/openapi.json", server_url="https://p"),
            source(
                "six",
                spec="openapi: 3.0.0\ninfo: {title: Refs, version: '1'}\npaths:\n  /a: {$ref: 'https://evil.example/a.yaml'}\n",
            ),
        ]
    }

    problems = host.check_config("openapi", config)

    assert problems == {
        "sources.0.spec": [
            "Not a usable OpenAPI spec: info: 'version' is a required property; "
            "paths./pets.get: 'responses' is a required property"
        ],
        "sources.1.spec": ["Not a usable OpenAPI spec: not valid JSON: Expecting value (line 1, column 30)"],
        "sources.2.spec": [
            "Not a usable OpenAPI spec: this is a Swagger 2.0 document: convert it to OpenAPI 3 first "
            "(swagger.io's converter)"
        ],
        "sources.3.secret": ["Required by this authentication."],
        "sources.3.client_id": ["Required by this authentication."],
        "sources.3.server_url": ["The spec gives no absolute server URL: enter the API's URL."],
        "sources.4.spec_url": ["Give the spec's URL or paste the spec: one of the two."],
        "sources.5.spec": [
            "Not a usable OpenAPI spec: paths./a: https://evil.example/a.yaml is another document; "
            "paste or link a bundled spec (one file)"
        ],
    }


async def test_the_test_button_reads_each_spec_and_exchanges_client_credentials(
    plugin_harness: Harness, api: FakePetstore
) -> None:
    api.require = "oauth2"
    harness = plugin_harness(
        PLUGIN,
        config={
            "sources": [
                source(
                    spec_url=f"{api.url}/specs/petstore.yaml",
                    auth="oauth2_client_credentials",
                    client_id=CLIENT_ID,
                    secret=CLIENT_SECRET,
                ),
                source("broken", spec_url=f"{api.url}/specs/broken.yaml"),
            ]
        },
    )

    check = await harness.validate_config()

    assert check is not None and not check.ok
    assert check.message.startswith(
        "petstore: Swagger Petstore - OpenAPI 3.0, 14 tools, OAuth2 client credentials. broken: The spec at "
    )
    assert api.issued == ["token-1"]
