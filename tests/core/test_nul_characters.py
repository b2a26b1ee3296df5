"""A NUL character is text no database keeps (PostgreSQL refuses it in text and JSON columns): it is
refused where it enters, in a body or a query parameter, naming where it was, in both test passes."""

from __future__ import annotations

import pytest

from builder.bots.models import Bot
from tests.factories import client_for, error_of, make_bot, make_workspace, owner_of

pytestmark = pytest.mark.django_db


def test_a_nul_in_a_json_body_is_a_400_naming_the_field_and_nothing_is_stored() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace, name="Kept")
    client = client_for(owner_of(workspace))
    body = '{"name": "Evil\\u0000bot"}'
    response = client.generic("PATCH", f"/api/v1/bots/{bot.pk}/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert list(error_of(response)["fields"]) == ["name"]
    assert Bot.objects.get(pk=bot.pk).name == "Kept"


def test_a_nul_deep_in_a_graph_names_its_path() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    client = client_for(owner_of(workspace))
    body = '{"revision": 1, "draft": {"version": 1, "nodes": [{"id": "a\\u0000"}], "edges": []}}'
    response = client.generic("PUT", f"/api/v1/bots/{bot.pk}/draft", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert list(error_of(response)["fields"]) == ["draft.nodes.0.id"]


@pytest.mark.parametrize("query", ["search=a%00b", "search%00=x"])
def test_a_nul_in_a_query_parameter_is_a_400_naming_it(query: str) -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    response = client.get(f"/api/v1/workspaces/{workspace.pk}/bots/?{query}")
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid"
    assert len(error["fields"]) == 1


def test_a_lone_surrogate_in_a_query_parameter_is_a_400() -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    response = client.get(f"/api/v1/workspaces/{workspace.pk}/bots/?search=%ED%A0%80")
    # Django decodes an invalid UTF-8 sequence to U+FFFD: valid text, nothing to refuse.
    assert response.status_code == 200, response.content


def test_an_end_user_named_with_a_nul_is_refused_on_every_path() -> None:
    """``?user=`` on a websocket reaches no query middleware: the one rule for end users checks it."""
    from builder.accounts.roles import Role
    from builder.accounts.services import api_key_create
    from builder.conversations.ownership import chat_end_user
    from builder.core.exceptions import ValidationFailed

    workspace = make_workspace()
    key, _raw = api_key_create(actor=owner_of(workspace), workspace=workspace, name="k", role=Role.VIEWER)
    with pytest.raises(ValidationFailed) as refused:
        chat_end_user(actor=key, user="alice\x00")
    assert list(refused.value.fields) == ["user"]
    assert chat_end_user(actor=key, user=" alice ") == "alice"
