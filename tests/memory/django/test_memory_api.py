"""What a bot remembers, seen and forgotten through the API: by the bot's editors, and by the end user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.accounts.roles import Role
from builder.accounts.services import workspace_delete
from builder.bots.models import Bot
from builder.bots.services import bot_delete
from builder.knowledge.index import SearchFilter
from builder.memory.catalog import scope_of
from builder.memory.models import EndUser, Fact
from builder.memory.store import memory_store
from tests.factories import client_for, error_of, key_client, member
from tests.memory.django.conftest import (
    api_key,
    chat,
    end_user_of,
    new_workspace,
    published_bot,
    remembered,
    remembering_echo_bot,
    turn,
    wait_for_facts,
)

pytestmark = pytest.mark.django_db(transaction=True)

BEIJING, SHANGHAI = "The user lives in Beijing", "The user moved to Shanghai"


@dataclass
class Known:
    """A bot that knows two end users of one API key: their memory ids, the key's client."""

    bot: Bot
    owner: Any
    alice: str
    bob: str
    client: APIClient


def _bot_that_knows_alice_and_bob() -> Known:
    """Alice lived in Beijing, then moved to Shanghai; Bob likes green tea."""
    workspace, owner = new_workspace()
    bot = published_bot(workspace, remembering_echo_bot())
    key, raw = api_key(workspace)
    alice, bob = end_user_of(key, "alice"), end_user_of(key, "bob")
    turn(key, chat(key, bot, "alice"), "I live in Beijing.")
    wait_for_facts(bot, alice, BEIJING)
    turn(key, chat(key, bot, "alice"), "I moved to Shanghai.")
    wait_for_facts(bot, alice, SHANGHAI)
    turn(key, chat(key, bot, "bob"), "I like green tea.")
    wait_for_facts(bot, bob, "The user likes green tea")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return Known(bot, owner, alice, bob, client)


def _index_hits(bot: Bot, end_user_id: str, query: str) -> list[str]:
    """What the search index itself holds for the end user (not filtered by the fact table)."""
    scope = scope_of(bot.pk, end_user_id)
    store = memory_store()
    hits = store.index.search_text([store.space], query, k=10, filter=SearchFilter(metadata={"scope": scope.key}))
    return [hit.chunk_id for hit in hits]


def test_a_newer_fact_supersedes_the_old_one_which_stays_listed() -> None:
    known = _bot_that_knows_alice_and_bob()
    bot, owner = known.bot, known.owner
    client = client_for(owner)

    end_users = client.get(f"/api/v1/bots/{bot.pk}/end-users/").json()["results"]
    by_id = {item["end_user_id"]: item for item in end_users}
    assert set(by_id) == {known.alice, known.bob}
    assert (by_id[known.alice]["fact_count"], by_id[known.alice]["superseded_count"]) == (1, 1)
    assert by_id[known.alice]["last_seen_at"] and by_id[known.alice]["variable_count"] == 0

    facts = client.get(f"/api/v1/bots/{bot.pk}/end-users/{by_id[known.alice]['id']}/facts/").json()["results"]
    assert [(fact["text"], fact["is_current"]) for fact in facts] == [(BEIJING, False), (SHANGHAI, True)]
    assert facts[0]["superseded_by"] == facts[1]["id"] and facts[1]["superseded_by"] is None
    assert facts[1]["key"] == "home_city" and facts[1]["value"] == "shanghai" and facts[1]["source_turn_ids"]
    # Only the current fact can be recalled.
    assert _index_hits(bot, known.alice, "Beijing") == []


def test_the_builder_forgets_one_fact_and_then_everything_about_an_end_user() -> None:
    known = _bot_that_knows_alice_and_bob()
    bot, owner = known.bot, known.owner
    client = client_for(owner)
    alice = EndUser.objects.get(bot=bot, end_user_id=known.alice)
    EndUser.objects.filter(pk=alice.pk).update(variables={"city": "Shanghai"})
    shanghai = Fact.objects.get(bot=bot, end_user_id=known.alice, text=SHANGHAI)
    base = f"/api/v1/bots/{bot.pk}/end-users/{alice.pk}"

    assert client.delete(f"{base}/facts/{shanghai.pk}").status_code == 204
    assert [fact.text for fact in remembered(bot, known.alice)] == [BEIJING]
    assert _index_hits(bot, known.alice, "Shanghai") == []
    assert error_of(client.delete(f"{base}/facts/{shanghai.pk}"))["code"] == "not_found"

    assert client.delete(base).status_code == 204
    assert remembered(bot, known.alice) == [] and not EndUser.objects.filter(pk=alice.pk).exists()
    assert client.get(base).status_code == 404
    assert [fact.text for fact in remembered(bot, known.bob)] == ["The user likes green tea"]


def test_only_the_bots_editors_see_its_end_users() -> None:
    known = _bot_that_knows_alice_and_bob()
    bot, _owner = known.bot, known.owner
    alice = EndUser.objects.get(bot=bot, end_user_id=known.alice)
    viewer = member(bot.workspace, Role.VIEWER)
    outsider_workspace, outsider = new_workspace()
    viewer_key, _raw = key_client(bot.workspace, role=Role.VIEWER)
    other_bot = published_bot(outsider_workspace, remembering_echo_bot())
    urls = [
        f"/api/v1/bots/{bot.pk}/end-users/",
        f"/api/v1/bots/{bot.pk}/end-users/{alice.pk}",
        f"/api/v1/bots/{bot.pk}/end-users/{alice.pk}/facts/",
        f"/api/v1/bots/{bot.pk}/end-users/{alice.pk}/variables",
    ]
    for url in urls:
        assert client_for(viewer).get(url).status_code == 403, url
        assert viewer_key.get(url).status_code == 403, url
        assert client_for(outsider).get(url).status_code == 404, url
        assert client_for(None).get(url).status_code in (401, 403), url
    assert client_for(viewer).delete(urls[1]).status_code == 403
    # An end user of one bot is not reachable through another bot.
    assert client_for(outsider).get(f"/api/v1/bots/{other_bot.pk}/end-users/{alice.pk}").status_code == 404
    assert remembered(bot, known.alice)


def test_an_end_user_lists_and_forgets_what_the_bot_remembers_about_them() -> None:
    known = _bot_that_knows_alice_and_bob()
    bot, _owner = known.bot, known.owner
    client = known.client
    mine = f"/api/v1/bots/{bot.pk}/memory/facts/?user=alice"

    listed = client.get(mine)
    assert listed.status_code == 200, listed.content
    facts = listed.json()["results"]
    assert [(fact["text"], fact["is_current"]) for fact in facts] == [(BEIJING, False), (SHANGHAI, True)]
    bobs = client.get(f"/api/v1/bots/{bot.pk}/memory/facts/?user=bob").json()["results"]
    assert [fact["text"] for fact in bobs] == ["The user likes green tea"]
    # Without a user: the key's callers who named nobody, who have told the bot nothing.
    assert client.get(f"/api/v1/bots/{bot.pk}/memory/facts/").json()["results"] == []

    # Alice cannot make the bot forget Bob's fact.
    bob_fact = bobs[0]["id"]
    assert client.delete(f"/api/v1/bots/{bot.pk}/memory/facts/{bob_fact}?user=alice").status_code == 404
    assert client.delete(f"/api/v1/bots/{bot.pk}/memory/facts/{facts[0]['id']}?user=alice").status_code == 204
    assert [fact.text for fact in remembered(bot, known.alice)] == [SHANGHAI]

    variables = client.get(f"/api/v1/bots/{bot.pk}/memory/variables?user=alice")
    assert variables.status_code == 200 and variables.json() == []

    assert client.delete(f"/api/v1/bots/{bot.pk}/memory?user=alice").status_code == 204
    assert client.get(mine).json()["results"] == [] and _index_hits(bot, known.alice, "Shanghai") == []
    assert [fact.text for fact in remembered(bot, known.bob)] == ["The user likes green tea"]


def test_the_end_user_api_needs_a_key_that_reaches_the_bot() -> None:
    known = _bot_that_knows_alice_and_bob()
    bot, _owner = known.bot, known.owner
    other_workspace, _other_owner = new_workspace()
    other_bot = published_bot(bot.workspace, remembering_echo_bot())
    foreign, _raw = key_client(other_workspace, role=Role.ADMIN)
    limited, _raw = key_client(bot.workspace, role=Role.VIEWER, bot_id=other_bot.pk)
    url = f"/api/v1/bots/{bot.pk}/memory/facts/?user=alice"

    assert error_of(foreign.get(url))["code"] == "not_found"
    assert error_of(limited.get(url))["code"] == "not_found"
    assert error_of(foreign.delete(f"/api/v1/bots/{bot.pk}/memory?user=alice"))["code"] == "not_found"
    assert client_for(None).get(url).status_code in (401, 403)
    too_long = key_client(bot.workspace)[0].get(f"/api/v1/bots/{bot.pk}/memory/facts/?user={'x' * 201}")
    assert too_long.status_code == 400 and "user" in error_of(too_long)["fields"]
    assert len(remembered(bot, known.alice)) == 2


def test_deleting_a_bot_removes_its_memories_from_the_index() -> None:
    known = _bot_that_knows_alice_and_bob()
    bot, owner = known.bot, known.owner
    assert _index_hits(bot, known.bob, "green tea")

    bot_delete(actor=owner, bot=bot)

    assert _index_hits(bot, known.alice, "Shanghai") == [] and _index_hits(bot, known.bob, "green tea") == []
    assert not Fact.objects.filter(bot_id=bot.pk).exists() and not EndUser.objects.filter(bot_id=bot.pk).exists()


def test_deleting_the_workspace_removes_its_bots_memories_from_the_index() -> None:
    known = _bot_that_knows_alice_and_bob()
    bot, owner = known.bot, known.owner

    workspace_delete(actor=owner, workspace=bot.workspace)

    assert _index_hits(bot, known.alice, "Shanghai") == [] and _index_hits(bot, known.bob, "green tea") == []
    assert not Fact.objects.filter(bot_id=bot.pk).exists()
