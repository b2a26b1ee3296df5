"""The permission matrix: every endpoint × every actor → exactly the expected status (issue 11).

The endpoints come from the URL conf and the websocket routes (``routes.py``): an endpoint or a
method without a row here fails ``test_every_endpoint_has_rows``, and so does a row whose endpoint
is gone. The actors (``actors.py``) try each row in a world built once (``world.py``); each cell
runs in its own transaction, rolled back, so a DELETE never spoils the next cell. Rows are written
with the rules of ``policies.py``: a row names its rule, and ``.but(...)`` its exceptions.

Bodies are minimal and valid for whoever is allowed, so a status says what the permission said
(the few rows whose allowed answer is 400 send what only the service refuses, after its check).
Cells that fail today because of a defect being fixed are in KNOWN_DEFECTS (strict xfail: once
fixed, the cell fails until its entry is removed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from rest_framework.test import APIClient

from builder.conversations.models import Run
from builder.memory.models import EndUser, Fact
from tests.security.actors import ACTORS, BY_NAME, Actor
from tests.security.policies import (
    ADMINS,
    EDITORS,
    OWNERS,
    VIEWERS,
    Expected,
    anyone,
    bot_action,
    conversation_owner,
    open_door,
    over_websocket,
    people_only,
    signed_in,
    workspace_action,
)
from tests.security.probes import Row, call, client_for
from tests.security.routes import API_PREFIX, EVERY_METHOD, WEBSOCKET, api_routes, server_endpoints
from tests.security.world import SECRET_CITIES, SECRET_FACTS, World, build_world
from tests.support.fake_openai import FakeOpenAI


def get(path: str, expected: Expected, **options: Any) -> Row:
    return Row("GET", path, expected, **options)


def post(path: str, expected: Expected, body: Any = None, **options: Any) -> Row:
    return Row("POST", path, expected, body, **options)


def put(path: str, expected: Expected, body: Any, **options: Any) -> Row:
    return Row("PUT", path, expected, body, **options)


def patch(path: str, expected: Expected, body: Any, **options: Any) -> Row:
    return Row("PATCH", path, expected, body, **options)


def delete(path: str, expected: Expected, **options: Any) -> Row:
    return Row("DELETE", path, expected, **options)


def websocket(path: str, expected: Expected) -> Row:
    return Row(WEBSOCKET, path, over_websocket(expected, ok=200))


# --- bodies, states and what must stay private -------------------------------------------------------
def draft_of(bot: str) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"revision": world.bots[bot].draft_revision, "draft": world.bots[bot].draft}


def revision_of(bot: str) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"revision": world.bots[bot].draft_revision}


def chat_in(conversation: str) -> Callable[[World], dict[str, Any]]:
    return lambda world: {**CHAT, "conversation_id": str(world.conversations[conversation].pk)}


def paused(conversation: str) -> Callable[[World], None]:
    """The conversation's run waits for an answer, so cancel and answer have something to act on."""

    def pause(world: World) -> None:
        Run.objects.filter(pk=world.runs[conversation].pk).update(status=Run.Status.PAUSED)

    return pause


def memory_stays_private(world: World, actor: Actor, response: Any) -> list[str]:
    """What a bot remembers about an end user is theirs: no one else reads it or makes it forget."""
    own = {"owner": "owner", "key_bot_a_u1": "u1"}.get(actor.name)
    text = "" if getattr(response, "streaming", False) else response.content.decode(errors="replace")
    problems = []
    for whose in SECRET_FACTS:
        if whose == own:
            continue
        if SECRET_FACTS[whose] in text or SECRET_CITIES[whose] in text:
            problems.append(f"read {whose}'s memory")
        if not Fact.objects.filter(pk=world.facts[whose]).exists():
            problems.append(f"deleted {whose}'s fact")
        if not EndUser.objects.filter(pk=world.end_users[whose].pk).exists():
            problems.append(f"deleted {whose}'s user variables")
    return problems


CHAT = {"query": "Hello", "stream": True}
LOGIN = {"username": "outsider", "password": "correct horse battery staple"}
SIGNUP = {"username": "newcomer", "email": "newcomer@example.org", "password": "a long and fresh passphrase"}

# --- the table ------------------------------------------------------------------------------------------
W1 = "workspaces/{w1}/"
ROWS: list[Row] = [
    # No authentication at all: health answers even while the database is down.
    get("health", anyone(200)),
    get("dsl/schema", signed_in(200)),
    get("dsl/node-types", signed_in(200)),
    get("model-providers/presets", signed_in(200)),
    get("model-providers/kinds", signed_in(200)),
    get("auth/csrf", open_door(204)),
    post("auth/login", open_door(200), LOGIN),
    # The signed-in person's own account: never through an API key (issue 11, defect 6).
    post("auth/signup", people_only(201).but(anonymous=201), SIGNUP),
    post("auth/logout", people_only(204)),
    get("auth/me", people_only(200)),
    patch("auth/me", people_only(200), {"display_name": "Renamed"}),
    # The invitation into W2 went to the owner of W1: only they accept it (others: "another email").
    post("invitations/accept", people_only(403).but(owner=200), lambda world: {"token": world.invitation_to_w2_token}),
    get("workspaces/", signed_in(200)),
    post("workspaces/", people_only(201), {"name": "Side project"}),
    # Workspace W1.
    get(W1, workspace_action(200, VIEWERS, bot_keys=True)),
    patch(W1, workspace_action(200, ADMINS), {"name": "W1 renamed"}),
    delete(W1, workspace_action(204, OWNERS)),
    # Members see each other; an API key needs MEMBERS_MANAGE to list them (issue 11, defect 6).
    get(W1 + "members/", workspace_action(200, VIEWERS).but(key_editor=403, key_viewer=403)),
    patch(W1 + "members/{editor}", workspace_action(200, ADMINS), {"role": "viewer"}),
    delete(W1 + "members/{editor}", workspace_action(204, ADMINS).but(editor=204)),  # a member may leave
    get(W1 + "invitations/", workspace_action(200, ADMINS)),
    post(W1 + "invitations/", workspace_action(201, ADMINS), {"email": "someone@example.org", "role": "viewer"}),
    delete(W1 + "invitations/{invitation}", workspace_action(200, ADMINS)),
    get(W1 + "api-keys/", workspace_action(200, ADMINS)),
    post(W1 + "api-keys/", workspace_action(201, ADMINS), {"name": "ci", "role": "viewer"}),
    delete(W1 + "api-keys/{spare_key}", workspace_action(200, ADMINS)),
    get(W1 + "bots/", workspace_action(200, VIEWERS, bot_keys=True)),  # a bot key sees its bot
    post(W1 + "bots/", workspace_action(201, EDITORS), {"name": "New bot"}),
    post(W1 + "bots/import", workspace_action(201, EDITORS), encoding="yaml"),
    # Credentials bot graphs reference: editors use them, nobody reads them back.
    get(W1 + "credentials/", workspace_action(200, EDITORS)),
    post(W1 + "credentials/", workspace_action(201, EDITORS), {"name": "Search token", "value": "tok-456"}),
    get(W1 + "credentials/{credential}", workspace_action(200, EDITORS)),
    patch(W1 + "credentials/{credential}", workspace_action(200, EDITORS), {"name": "Renamed token"}),
    delete(W1 + "credentials/{credential}", workspace_action(204, EDITORS)),
    # Model providers: editors pick them on the canvas, admins hold their keys.
    get(W1 + "model-providers/", workspace_action(200, EDITORS)),
    post(W1 + "model-providers/", workspace_action(201, ADMINS), {"name": "Spare", "kind": "openai", "api_key": "sk"}),
    # An unknown kind, which the service refuses after its permission check: 400 = allowed.
    post(W1 + "model-providers/check", workspace_action(400, ADMINS), {"kind": "no_such_kind"}),
    get(W1 + "model-providers/{provider}", workspace_action(200, EDITORS)),
    patch(W1 + "model-providers/{provider}", workspace_action(200, ADMINS), {"name": "Renamed"}),
    delete(W1 + "model-providers/{provider}", workspace_action(204, ADMINS)),
    post(W1 + "model-providers/{provider}/check", workspace_action(200, ADMINS), {}),  # the fake server answers
    # Plugins: seen with the workspace, managed with the model providers (builder/pluginhost/roles.py).
    get(W1 + "plugins/", workspace_action(200, VIEWERS, bot_keys=True)),
    get(W1 + "plugins/{plugin}", workspace_action(200, VIEWERS, bot_keys=True)),
    post(W1 + "plugins/{plugin}/enable", workspace_action(200, ADMINS)),
    post(W1 + "plugins/{plugin}/disable", workspace_action(200, ADMINS)),
    get(W1 + "plugins/{plugin}/config", workspace_action(200, ADMINS)),
    put(
        W1 + "plugins/{plugin}/config",
        workspace_action(200, ADMINS),
        {"config": {"provider": "searxng", "searxng_url": "https://search2.example.com"}},
    ),
    get(W1 + "plugins/{plugin}/tools", workspace_action(200, VIEWERS, bot_keys=True)),
    # Settings the plugin's schema refuses, so nothing is called: 400 = allowed.
    post(W1 + "plugins/{plugin}/test", workspace_action(400, ADMINS), {"config": {"provider": "nothing"}}),
    # Knowledge: bot keys have none (issue 11, defect 6).
    get(W1 + "knowledge-bases/", workspace_action(200, VIEWERS)),
    post(W1 + "knowledge-bases/", workspace_action(201, EDITORS), {"name": "Another"}),
    get("knowledge-bases/{kb}/", workspace_action(200, VIEWERS)),
    patch("knowledge-bases/{kb}/", workspace_action(200, EDITORS), {"description": "Updated"}),
    delete("knowledge-bases/{kb}/", workspace_action(204, EDITORS)),
    post("knowledge-bases/{kb}/retrieve", workspace_action(200, VIEWERS), {"query": "warranty"}),
    get("knowledge-bases/{kb}/documents/", workspace_action(200, VIEWERS)),
    post("knowledge-bases/{kb}/documents/", workspace_action(201, EDITORS), encoding="multipart"),
    post("knowledge-bases/{kb}/documents/url", workspace_action(201, EDITORS), {"url": "https://example.com/hours"}),
    get("documents/{document}/", workspace_action(200, VIEWERS)),
    patch("documents/{document}/", workspace_action(200, EDITORS), {"enabled": False}),
    delete("documents/{document}/", workspace_action(204, EDITORS)),
    post("documents/{document}/reindex", workspace_action(202, EDITORS)),
    get("documents/{document}/chunks/", workspace_action(200, VIEWERS)),
    patch("chunks/{chunk}", workspace_action(200, EDITORS), {"text": "The warranty is two years."}),
    websocket("ws/knowledge/{kb}/", workspace_action(200, VIEWERS)),
]
# A plugin's webhook is public (the plugin checks its caller); a path no plugin serves: 404 to all.
ROWS += [Row(method, "plugins/{plugin}/webhooks/nothing-here", anyone(404)) for method in EVERY_METHOD]

# Bots A (shared with the workspace) and P (private to the owner, granted to the viewer as editor).
# A signed-in person chats as themselves: naming an end user is refused (issue 11, defect 1).
for bot in ("A", "P"):
    at = f"bots/{{bot_{bot}}}/"
    ROWS += [
        get(at, bot_action(bot, 200, VIEWERS)),
        patch(at, bot_action(bot, 200, EDITORS), {"name": "Renamed"}),
        delete(at, bot_action(bot, 204, ADMINS)),
        put(at + "draft", bot_action(bot, 200, EDITORS), draft_of(bot)),
        post(at + "publish", bot_action(bot, 201, EDITORS), {}),
        get(at + "versions/", bot_action(bot, 200, VIEWERS)),
        get(at + "versions/1/", bot_action(bot, 200, VIEWERS)),
        post(at + "versions/1/rollback", bot_action(bot, 200, EDITORS)),
        post(at + "versions/1/restore", bot_action(bot, 200, EDITORS), revision_of(bot)),
        get(at + "diff?from=1&to=draft", bot_action(bot, 200, VIEWERS)),
        get(at + "export", bot_action(bot, 200, EDITORS)),
        get(at + "grants/", bot_action(bot, 200, VIEWERS)),
        put(at + "grants/{editor}", bot_action(bot, 200, ADMINS), {"role": "viewer"}),
        delete(at + "grants/{viewer}", bot_action(bot, 204, ADMINS)),
        post(at + "conversations", bot_action(bot, 201, VIEWERS), {"use_draft": False}),
        post(at + "chat", bot_action(bot, 200, VIEWERS).but(viewer_naming_owner=400), CHAT, user_in_body=True),
    ]
A = "bots/{bot_A}/"
ROWS += [
    # Chatting with the draft (the builder's debug panel) needs edit rights.
    post(A + "conversations#draft", bot_action("A", 201, EDITORS), {"use_draft": True}),
    # The builder's memory page: the bot's editors see every end user (here u1).
    get(A + "end-users/", bot_action("A", 200, EDITORS)),
    get(A + "end-users/{end_user_u1}", bot_action("A", 200, EDITORS)),
    delete(A + "end-users/{end_user_u1}", bot_action("A", 204, EDITORS)),
    get(A + "end-users/{end_user_u1}/facts/", bot_action("A", 200, EDITORS)),
    delete(A + "end-users/{end_user_u1}/facts/{fact_u1}", bot_action("A", 204, EDITORS)),
    get(A + "end-users/{end_user_u1}/variables", bot_action("A", 200, EDITORS)),
    patch(A + "end-users/{end_user_u1}/variables", bot_action("A", 200, EDITORS), {"values": {"city": "Rome"}}),
    # The end user's own memory: ``?user=`` is for API keys naming their own end users; a signed-in
    # person naming someone gets 400 (issue 11, defect 2). No one reaches another's facts.
    get(A + "memory/facts/", bot_action("A", 200, VIEWERS).but(viewer_naming_owner=400), check=memory_stays_private),
    get(A + "memory/variables", bot_action("A", 200, VIEWERS).but(viewer_naming_owner=400), check=memory_stays_private),
    delete(A + "memory", bot_action("A", 204, VIEWERS).but(viewer_naming_owner=400), check=memory_stays_private),
    # Forgetting one fact: only whose it is; anyone else has no such fact (404).
    delete(
        A + "memory/facts/{fact_owner}",
        bot_action("A", 404, VIEWERS).but(owner=204, viewer_naming_owner=400),
        check=memory_stays_private,
    ),
    delete(
        A + "memory/facts/{fact_u1}",
        bot_action("A", 404, VIEWERS).but(key_bot_a_u1=204, viewer_naming_owner=400),
        check=memory_stays_private,
    ),
]

# Conversations belong to whoever opened them: the editor's debug chat and the viewer's chat on A,
# and bot A's key's chats with u1 and with u2 (issue 11, defect 1). A signed-in person naming an
# end user is refused before anything is looked up (400).
for conversation in ("debug", "viewer", "u1", "u2"):
    only_its_owner = conversation_owner(conversation, 200)
    named = only_its_owner.but(viewer_naming_owner=400)
    run, messages = f"runs/{{run_{conversation}}}", f"conversations/{{conversation_{conversation}}}/messages"
    ROWS += [
        get(messages, named),
        get(run, named),
        post(run + "/cancel", named, prepare=paused(conversation)),
        post(run + "/answer", named, {"answer": "Ada"}, prepare=paused(conversation)),
        post(A + "chat#" + conversation, named, chat_in(conversation), user_in_body=True),
        websocket(f"ws/conversations/{{conversation_{conversation}}}/", only_its_owner.but(viewer_naming_owner=403)),
    ]


# --- known defects: cells that fail until their fix lands (delete a group once it is fixed) -------------
def _defects(reason: str, labels: Iterable[str], actors: Iterable[str]) -> dict[str, str]:
    return {f"{label} as {actor}": reason for label in labels for actor in actors}


KNOWN_DEFECTS: dict[str, str] = {}


# --- the world -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any, fake_openai_server: FakeOpenAI) -> Iterator[World]:
    """Built once, in a transaction rolled back after the module; each cell nests its own in it."""
    # The fake model server listens on 127.0.0.1, which providers may reach only when allowed.
    # Passwords are hashed fast: the cells ask who may, not how passwords are stored. Sign-up is
    # open (production closes it by default): the signup row asks who may use it where it is open.
    matrix_settings = override_settings(
        AGENTLOOM_HTTP_ALLOWLIST=["127.0.0.1"],
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ALLOW_SIGNUP=True,
    )
    with django_db_blocker.unblock(), matrix_settings:
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build_world(model_base_url=fake_openai_server.base_url)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _channels_keep_the_test_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels' database_sync_to_async closes "old" connections around each call, which would
    close the connection that holds the cell's transaction (Django's test client stops the same
    clean-up on its request signals, for the same reason)."""
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    """Each websocket or SSE cell runs on a loop of its own; a Redis channel layer binds to the first."""
    from channels.layers import channel_layers

    channel_layers.backends.pop("default", None)
    yield
    channel_layers.backends.pop("default", None)


def _cells() -> Iterator[Any]:
    for row in ROWS:
        for actor in ACTORS:
            identifier = f"{row.label} as {actor.name}"
            reason = KNOWN_DEFECTS.get(identifier)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(row, actor, id=identifier, marks=marks)


# --- the tests -----------------------------------------------------------------------------------------
def test_every_endpoint_has_rows() -> None:
    """A new endpoint or method cannot be forgotten, and a row cannot outlive its endpoint."""
    tabled = {(row.method, row.route) for row in ROWS}
    served = server_endpoints()
    missing, gone = sorted(served - tabled), sorted(tabled - served)
    assert not missing, "endpoints without a row in the matrix:\n" + "\n".join(map(str, missing))
    assert not gone, "rows for endpoints that do not exist:\n" + "\n".join(map(str, gone))


def test_known_defects_name_cells_of_the_table() -> None:
    cells = {f"{row.label} as {actor.name}" for row in ROWS for actor in ACTORS}
    assert not set(KNOWN_DEFECTS) - cells, sorted(set(KNOWN_DEFECTS) - cells)


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "methods"), sorted(api_routes().items()))
def test_other_methods_are_not_allowed(route: str, methods: tuple[str, ...], world: World) -> None:
    """What a view does not handle is 405 (to a signed-in owner, who passes every other check)."""
    paths = [row.path for row in ROWS if row.route == route and row.method != WEBSOCKET]
    assert paths, f"{route} has no row (test_every_endpoint_has_rows lists what is missing)"
    path = paths[0]
    url = "/" + API_PREFIX + path.partition("#")[0].partition("?")[0].format_map(world.ids())
    client: APIClient = client_for(world, BY_NAME["owner"])
    for method in sorted(set(EVERY_METHOD) - set(methods)):
        response = client.generic(method, url)
        assert response.status_code == 405, (method, url, response.content)


@pytest.mark.django_db
@pytest.mark.parametrize(("row", "actor"), list(_cells()))
def test_cell(row: Row, actor: Actor, world: World) -> None:
    outcome = call(world, row, actor)
    expected = row.expected[actor.name]
    assert (outcome.status, outcome.problems) == (expected, ()), (
        f"{row.label} as {actor.name}: {outcome.status} {outcome.detail!r} {list(outcome.problems)}, "
        f"expected {expected}"
    )
