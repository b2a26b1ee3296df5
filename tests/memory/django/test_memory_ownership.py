"""Whose memory ``/bots/<id>/memory/…`` reaches: the caller's own, never anybody else's.

A signed-in person reaches only what the bot remembers about them, and may not name another end
user (``?user=`` is refused, naming the field). An API key speaks for its own end users: ``?user=``
names one of them, and without it the key itself; a key never reaches a signed-in person's memory,
another key's end users, or the builder's. The bot's editors keep their own pages (``end-users/``).
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.accounts.roles import Role
from builder.bots.models import Bot
from builder.memory.models import EndUser, end_user_id_of
from tests.factories import client_for, error_of, member
from tests.memory.django.conftest import (
    api_key,
    chat,
    new_workspace,
    published_bot,
    remembered,
    remembering_echo_bot,
    turn,
    wait_for_facts,
)

pytestmark = pytest.mark.django_db(transaction=True)

BEIJING, TEA = "The user lives in Beijing", "The user likes green tea"


def _as_key(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _texts(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [fact["text"] for fact in response.json()["results"]]


def test_a_viewer_can_neither_read_nor_forget_the_owners_memory() -> None:
    workspace, owner = new_workspace()
    bot = published_bot(workspace, remembering_echo_bot())
    turn(owner, chat(owner, bot), "I live in Beijing.")
    wait_for_facts(bot, str(owner.pk), BEIJING)
    fact_id = _texts_and_ids(client_for(owner), bot)[0][1]
    viewer = client_for(member(workspace, Role.VIEWER))
    base = f"/api/v1/bots/{bot.pk}/memory"

    for response in (
        viewer.get(f"{base}/facts/?user={owner.pk}"),
        viewer.delete(f"{base}/facts/{fact_id}?user={owner.pk}"),
        viewer.delete(f"{base}?user={owner.pk}"),
        viewer.get(f"{base}/variables?user={owner.pk}"),
    ):
        assert response.status_code == 400, response.content
        assert list(error_of(response)["fields"]) == ["user"]
    assert _texts(viewer.get(f"{base}/facts/")) == []
    assert viewer.delete(f"{base}/facts/{fact_id}").status_code == 404
    assert viewer.delete(base).status_code == 204

    assert [fact.text for fact in remembered(bot, str(owner.pk))] == [BEIJING]
    assert _texts(client_for(owner).get(f"{base}/facts/")) == [BEIJING]


def _texts_and_ids(client: APIClient, bot: Bot) -> list[tuple[str, str]]:
    response = client.get(f"/api/v1/bots/{bot.pk}/memory/facts/")
    assert response.status_code == 200, response.content
    return [(fact["text"], fact["id"]) for fact in response.json()["results"]]


def test_a_key_reaches_only_its_own_end_users() -> None:
    workspace, owner = new_workspace()
    bot = published_bot(workspace, remembering_echo_bot())
    first, first_raw = api_key(workspace, bot=bot)
    _second, second_raw = api_key(workspace, bot=bot)
    u1 = chat(first, bot, "u1")
    turn(first, u1, "I live in Beijing.")
    turn(owner, chat(owner, bot), "I like green tea.")
    wait_for_facts(bot, end_user_id_of(u1), BEIJING)
    wait_for_facts(bot, str(owner.pk), TEA)
    base = f"/api/v1/bots/{bot.pk}/memory"

    assert _texts(_as_key(first_raw).get(f"{base}/facts/?user=u1")) == [BEIJING]
    other = _as_key(second_raw)
    assert _texts(other.get(f"{base}/facts/?user=u1")) == []
    assert other.delete(f"{base}?user=u1").status_code == 204
    # Naming a signed-in person's id reaches nobody's memory but the key's own.
    assert _texts(other.get(f"{base}/facts/?user={owner.pk}")) == []
    assert other.delete(f"{base}?user={owner.pk}").status_code == 204
    assert _texts(_as_key(first_raw).get(f"{base}/facts/")) == []

    assert _texts(_as_key(first_raw).get(f"{base}/facts/?user=u1")) == [BEIJING]
    assert _texts(client_for(owner).get(f"{base}/facts/")) == [TEA]


def test_a_keys_anonymous_callers_are_not_its_creator() -> None:
    workspace, owner = new_workspace()
    bot = published_bot(workspace, remembering_echo_bot())
    key, raw = api_key(workspace, bot=bot)
    conversation = chat(key, bot)
    turn(key, conversation, "I like green tea.")
    wait_for_facts(bot, end_user_id_of(conversation), TEA)

    assert _texts(_as_key(raw).get(f"/api/v1/bots/{bot.pk}/memory/facts/")) == [TEA]
    assert _texts(client_for(owner).get(f"/api/v1/bots/{bot.pk}/memory/facts/")) == []
    assert not EndUser.objects.filter(bot=bot, end_user_id=str(owner.pk)).exists()
    assert remembered(bot, str(owner.pk)) == []


def test_viewers_and_their_keys_are_kept_out_of_the_builders_memory_pages() -> None:
    workspace, _owner = new_workspace()
    bot = published_bot(workspace, remembering_echo_bot())
    viewer = client_for(member(workspace, Role.VIEWER))
    _key, raw = api_key(workspace, role=Role.VIEWER, bot=bot)
    for client in (viewer, _as_key(raw)):
        refused = client.get(f"/api/v1/bots/{bot.pk}/end-users/")
        assert refused.status_code == 403 and error_of(refused)["code"] == "permission_denied"
