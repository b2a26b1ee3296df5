"""A conversation belongs to whoever opened it, and only they read it, post into it or listen to it.

The owner is the signed-in person who opened it, or, for an API key, the key together with the end
user its client speaks for (``user``). A debug (draft) conversation is also only for those who may
still edit the bot. Everyone else is told the conversation does not exist (404), through every
path: REST messages, runs (get, cancel, answer), the SSE chat continuing it, and the websocket.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from builder.accounts.models import ApiKey, User, Workspace
from builder.accounts.roles import Role
from builder.accounts.tokens import split_api_key
from builder.bots.models import Bot
from builder.bots.services import bot_publish
from builder.conversations.models import Conversation, Message, Run
from builder.conversations.services import conversation_create, message_send
from tests.conversations.conftest import TERMINAL, ThreadedServer, receive_until
from tests.conversations.graphs import echo_bot, question_bot
from tests.factories import client_for, error_of, key_client, make_bot, make_workspace, member, owner_of

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Team:
    workspace: Workspace
    owner: User
    editor: User
    viewer: User
    bot: Bot


def _team(graph: dict[str, Any] | None = None) -> Team:
    workspace = make_workspace()
    owner = owner_of(workspace)
    bot = make_bot(workspace, draft=graph or echo_bot())
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    return Team(workspace, owner, member(workspace, Role.EDITOR), member(workspace, Role.VIEWER), bot)


def _opened_by(client: APIClient, bot: Bot, *, use_draft: bool = False) -> str:
    response = client.post(f"/api/v1/bots/{bot.pk}/conversations", {"use_draft": use_draft}, format="json")
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def _assert_hidden(response: Any) -> None:
    assert response.status_code == 404, response.content
    error = error_of(response)
    assert error["code"] == "not_found" and "secret" not in json.dumps(response.json())


def _bot_key(team: Team) -> tuple[ApiKey, APIClient, str]:
    """A viewer key limited to the team's bot: the key, a client using it, the raw secret."""
    client, raw = key_client(team.workspace, role=Role.VIEWER, bot_id=team.bot.pk)
    return ApiKey.objects.get(prefix=split_api_key(raw)), client, raw


def _settled(run: Run) -> Run:
    """The run once it stopped running (inline on the embedded default, on the worker in production)."""
    deadline = time.monotonic() + 60
    run.refresh_from_db()
    while run.status in Run.ACTIVE:
        assert time.monotonic() < deadline, f"run {run.pk} stayed {run.status}"
        time.sleep(0.05)
        run.refresh_from_db()
    return run


def _chat(client: Any, bot: Bot, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/bots/{bot.pk}/chat", {"stream": False, **body}, content_type="application/json")


# --- signed-in people ---------------------------------------------------------------------------


@pytest.mark.usefixtures("run_executor")
def test_other_members_cannot_read_a_conversation_or_its_runs() -> None:
    team = _team()
    owner = client_for(team.owner)
    conversation_id = _opened_by(owner, team.bot)
    run = message_send(actor=team.owner, conversation=Conversation.objects.get(pk=conversation_id), text="my secret")
    _settled(run)

    listed = owner.get(f"/api/v1/conversations/{conversation_id}/messages")
    assert listed.status_code == 200 and listed.json()["results"][0]["content"] == "my secret"
    assert owner.get(f"/api/v1/runs/{run.pk}").json()["query"] == "my secret"

    for intruder in (team.viewer, team.editor, member(team.workspace, Role.ADMIN)):
        client = client_for(intruder)
        _assert_hidden(client.get(f"/api/v1/conversations/{conversation_id}/messages"))
        _assert_hidden(client.get(f"/api/v1/runs/{run.pk}"))
        _assert_hidden(client.post(f"/api/v1/runs/{run.pk}/cancel"))


@pytest.mark.usefixtures("run_executor")
def test_only_the_owner_answers_the_question_a_paused_run_asks() -> None:
    team = _team(question_bot())
    conversation = conversation_create(actor=team.owner, bot=team.bot)
    run = _settled(message_send(actor=team.owner, conversation=conversation, text="hi"))
    assert run.status == Run.Status.PAUSED

    _assert_hidden(client_for(team.viewer).post(f"/api/v1/runs/{run.pk}/answer", {"answer": "Eve"}, format="json"))
    _assert_hidden(client_for(team.viewer).post(f"/api/v1/runs/{run.pk}/cancel"))
    run.refresh_from_db()
    assert run.status == Run.Status.PAUSED
    assert not Message.objects.filter(conversation=conversation, content="Eve").exists()

    answered = client_for(team.owner).post(f"/api/v1/runs/{run.pk}/answer", {"answer": "Ada"}, format="json")
    assert answered.status_code == 200, answered.content


def test_another_member_cannot_continue_a_conversation_through_the_chat_endpoint() -> None:
    team = _team()
    conversation = conversation_create(actor=team.owner, bot=team.bot)
    browser = Client()
    browser.force_login(team.viewer)

    _assert_hidden(_chat(browser, team.bot, {"query": "and now me", "conversation_id": str(conversation.pk)}))
    assert not Message.objects.filter(conversation=conversation).exists()


def test_a_viewer_cannot_post_into_an_editors_debug_conversation() -> None:
    team = _team()
    draft_conversation = _opened_by(client_for(team.editor), team.bot, use_draft=True)
    browser = Client()
    browser.force_login(team.viewer)

    _assert_hidden(_chat(browser, team.bot, {"query": "run the draft", "conversation_id": draft_conversation}))
    _assert_hidden(client_for(team.viewer).get(f"/api/v1/conversations/{draft_conversation}/messages"))
    assert not Run.objects.filter(conversation_id=draft_conversation).exists()


def test_a_debug_conversation_closes_when_its_owner_may_no_longer_edit_the_bot() -> None:
    team = _team()
    editor = client_for(team.editor)
    draft_conversation = _opened_by(editor, team.bot, use_draft=True)
    assert editor.get(f"/api/v1/conversations/{draft_conversation}/messages").status_code == 200

    team.workspace.memberships.filter(user=team.editor).update(role=Role.VIEWER)

    refused = editor.get(f"/api/v1/conversations/{draft_conversation}/messages")
    assert refused.status_code == 403, refused.content
    browser = Client()
    browser.force_login(team.editor)
    assert _chat(browser, team.bot, {"query": "still?", "conversation_id": draft_conversation}).status_code == 403
    assert not Run.objects.filter(conversation_id=draft_conversation).exists()


def test_a_signed_in_person_chats_as_themselves_not_as_an_end_user_they_name() -> None:
    team = _team()
    browser = Client()
    browser.force_login(team.viewer)
    refused = _chat(browser, team.bot, {"query": "hi", "user": "alice"})
    assert refused.status_code == 400 and "user" in error_of(refused)["fields"]
    conversation = conversation_create(actor=team.viewer, bot=team.bot)
    named = client_for(team.viewer).get(f"/api/v1/conversations/{conversation.pk}/messages?user=alice")
    assert named.status_code == 400 and "user" in error_of(named)["fields"]


# --- API keys and their end users ---------------------------------------------------------------


@pytest.mark.usefixtures("run_executor")
def test_a_key_reads_only_the_conversations_of_the_end_user_it_names() -> None:
    team = _team()
    api_key, key, _raw = _bot_key(team)
    conversation = conversation_create(actor=api_key, bot=team.bot, source="api", end_user_id="u1")
    run = _settled(message_send(actor=api_key, conversation=conversation, text="u1's secret", end_user="u1"))
    url = f"/api/v1/conversations/{conversation.pk}/messages"

    assert key.get(f"{url}?user=u1").json()["results"][0]["content"] == "u1's secret"
    assert key.get(f"/api/v1/runs/{run.pk}?user=u1").status_code == 200
    _assert_hidden(key.get(f"{url}?user=u2"))
    _assert_hidden(key.get(url))
    _assert_hidden(key.get(f"/api/v1/runs/{run.pk}?user=u2"))
    _assert_hidden(key.post(f"/api/v1/runs/{run.pk}/cancel?user=u2"))
    # Another key of the same bot, the key's creator and the other members see nothing either.
    _other, other_key, _raw = _bot_key(team)
    _assert_hidden(other_key.get(f"{url}?user=u1"))
    _assert_hidden(client_for(team.owner).get(url))
    # And a key does not reach what signed-in people opened.
    mine = conversation_create(actor=team.owner, bot=team.bot)
    _assert_hidden(key.get(f"/api/v1/conversations/{mine.pk}/messages"))
    _assert_hidden(key.get(f"/api/v1/conversations/{mine.pk}/messages?user={team.owner.pk}"))


def test_a_key_opens_a_conversation_for_the_end_user_it_names() -> None:
    team = _team()
    _api_key, key, _raw = _bot_key(team)
    opened = key.post(f"/api/v1/bots/{team.bot.pk}/conversations", {"user": "u1"}, format="json")
    assert opened.status_code == 201, opened.content
    url = f"/api/v1/conversations/{opened.json()['id']}/messages"
    assert key.get(f"{url}?user=u1").status_code == 200
    _assert_hidden(key.get(url))
    refused = client_for(team.viewer).post(f"/api/v1/bots/{team.bot.pk}/conversations", {"user": "u1"}, format="json")
    assert refused.status_code == 400 and list(error_of(refused)["fields"]) == ["user"]


def test_a_key_continues_a_chat_only_for_the_end_user_who_opened_it() -> None:
    team = _team()
    api_key, _client, raw = _bot_key(team)
    conversation = conversation_create(actor=api_key, bot=team.bot, source="api", end_user_id="u1")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    for body in ({"user": "u2"}, {}):
        refused = api.post(
            f"/api/v1/bots/{team.bot.pk}/chat",
            {"query": "u2 here", "conversation_id": str(conversation.pk), "stream": False, **body},
            content_type="application/json",
        )
        _assert_hidden(refused)
    assert not Message.objects.filter(conversation=conversation).exists()


# --- the websocket ------------------------------------------------------------------------------


def _session_cookie(user: User) -> str:
    browser = Client()
    browser.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"


async def _refused(server: ThreadedServer, conversation_id: Any, headers: dict[str, str], query: str = "") -> str:
    """Connect and expect the documented refusal: one error frame, then a close with 4403."""
    url = f"{server.ws}/ws/conversations/{conversation_id}/{query}"
    async with websockets.connect(url, additional_headers=headers) as socket_:
        error = json.loads(await socket_.recv())
        assert error["type"] == "error", error
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket_.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    return str(error["code"])


def _key_conversation() -> tuple[Conversation, str]:
    team = _team()
    api_key, _client, raw = _bot_key(team)
    return conversation_create(actor=api_key, bot=team.bot, source="api", end_user_id="u1"), raw


@pytest.mark.asyncio
async def test_members_cannot_listen_to_someone_elses_conversation(asgi_live_server: ThreadedServer) -> None:
    team = await sync_to_async(_team)()
    conversation = await sync_to_async(conversation_create)(actor=team.owner, bot=team.bot)
    for intruder in (team.viewer, team.editor):
        cookie = await sync_to_async(_session_cookie)(intruder)
        assert await _refused(asgi_live_server, conversation.pk, {"Cookie": cookie}) == "not_found"
    owner_cookie = await sync_to_async(_session_cookie)(team.owner)
    url = f"{asgi_live_server.ws}/ws/conversations/{conversation.pk}/"
    async with websockets.connect(url, additional_headers={"Cookie": owner_cookie}) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "mine"}))
        assert json.loads(await socket_.recv())["type"] == "run.queued"
        assert (await receive_until(socket_, TERMINAL))[-1]["answer"] == "You said: mine"


@pytest.mark.asyncio
async def test_a_keys_socket_speaks_for_the_end_user_in_its_query(asgi_live_server: ThreadedServer) -> None:
    conversation, raw = await sync_to_async(_key_conversation)()
    auth = {"Authorization": f"Bearer {raw}"}
    assert await _refused(asgi_live_server, conversation.pk, auth, "?user=u2") == "not_found"
    assert await _refused(asgi_live_server, conversation.pk, auth) == "not_found"
    url = f"{asgi_live_server.ws}/ws/conversations/{conversation.pk}/?user=u1"
    async with websockets.connect(url, additional_headers=auth) as socket_:
        await socket_.send(json.dumps({"type": "message.send", "text": "u1 again"}))
        assert json.loads(await socket_.recv())["type"] == "run.queued"
        assert (await receive_until(socket_, TERMINAL))[-1]["answer"] == "You said: u1 again"
