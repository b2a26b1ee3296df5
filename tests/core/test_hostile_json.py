"""Hostile JSON bodies are refused with a 400 in the one error shape, before anything is stored."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.bots.models import Bot
from builder.core.untrusted import MAX_NESTING_DEPTH
from tests.factories import PASSWORD, client_for, error_of, make_bot, make_user, make_workspace, owner_of

pytestmark = pytest.mark.django_db


def nested(depth: int) -> str:
    """A JSON array nested ``depth`` levels deep."""
    return "[" * depth + "]" * depth


def post_json(client: APIClient, method: str, url: str, body: str) -> Any:
    return client.generic(method, url, body, content_type="application/json")


@pytest.mark.parametrize("url", ["/api/v1/auth/login", "/api/v1/auth/signup"])
def test_deeply_nested_json_to_an_anonymous_endpoint_is_a_parse_error(url: str) -> None:
    response = post_json(APIClient(), "POST", url, '{"username": ' + nested(10_000) + "}")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "parse_error"
    assert str(MAX_NESTING_DEPTH) in error["message"]


def test_deeply_nested_json_to_an_authenticated_endpoint_is_a_parse_error_and_changes_nothing() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace, name="Kept")
    client = client_for(owner_of(workspace))
    body = {"revision": 1, "draft": {"nodes": "PLACEHOLDER"}}
    text = json.dumps(body).replace('"PLACEHOLDER"', nested(MAX_NESTING_DEPTH + 1))
    response = post_json(client, "PUT", f"/api/v1/bots/{bot.pk}/draft", text)
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"
    bot.refresh_from_db()
    assert bot.draft_revision == 1 and bot.name == "Kept"


def test_nesting_up_to_the_limit_and_brackets_inside_strings_are_accepted() -> None:
    make_user(username="ada")
    client = APIClient()
    # The body object is one level, so the extra value may nest one level less than the limit.
    credentials = json.dumps({"username": "ada", "password": PASSWORD})[:-1]
    at_limit = credentials + ', "extra": ' + nested(MAX_NESTING_DEPTH - 1)
    response = post_json(client, "POST", "/api/v1/auth/login", at_limit + "}")
    assert response.status_code == 200, response.content
    brackets_in_text = json.dumps({"username": "ada", "password": '\\"[' * 5_000 + "{" * 5_000})
    response = post_json(APIClient(), "POST", "/api/v1/auth/login", brackets_in_text)
    assert response.status_code != 400 or error_of(response)["code"] != "parse_error", response.content


def test_a_lone_surrogate_is_refused_with_the_field_that_holds_it() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace, name="Kept")
    client = client_for(owner_of(workspace))
    response = post_json(client, "PATCH", f"/api/v1/bots/{bot.pk}/", '{"name": "bad \\ud800 name"}')
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid" and list(error["fields"]) == ["name"]
    bot.refresh_from_db()
    assert bot.name == "Kept"


def graph_with(value: str, *, at: tuple[str, str] = ("data", "title")) -> str:
    """A valid starter graph whose first node holds the raw JSON ``value`` at ``at``."""
    draft = copy.deepcopy(make_bot(make_workspace()).draft)
    draft["nodes"][0][at[0]][at[1]] = "PLACEHOLDER"
    return json.dumps(draft).replace('"PLACEHOLDER"', value)


def test_a_lone_surrogate_deep_in_a_graph_or_in_a_key_names_its_path() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    in_value, in_key = graph_with('"\\udfff"'), graph_with('{"\\ud83d": 1}')
    before = Bot.objects.count()
    url = f"/api/v1/workspaces/{workspace.pk}/bots/"
    response = post_json(client, "POST", url, '{"name": "x", "draft": ' + in_value + "}")
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["draft.nodes.0.data.title"]
    response = post_json(client, "POST", url, '{"name": "x", "draft": ' + in_key + "}")
    assert response.status_code == 400
    # The key is named with the surrogate escaped: the error itself must be valid UTF-8.
    assert list(error_of(response)["fields"]) == ["draft.nodes.0.data.title.\\ud83d"]
    assert Bot.objects.count() == before


def test_a_surrogate_pair_is_one_valid_character() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    client = client_for(owner_of(workspace))
    response = post_json(client, "PATCH", f"/api/v1/bots/{bot.pk}/", '{"name": "smile \\ud83d\\ude00"}')
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "smile \U0001f600"


def test_a_number_too_large_for_a_float_is_refused() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    body = '{"name": "x", "draft": ' + graph_with("1e999", at=("position", "x")) + "}"
    before = Bot.objects.count()
    response = post_json(client, "POST", f"/api/v1/workspaces/{workspace.pk}/bots/", body)
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "parse_error"
    assert Bot.objects.count() == before
