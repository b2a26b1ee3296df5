"""One cell of the permission matrix: a row (an endpoint with a body) tried by one actor."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished
from django.db import close_old_connections
from rest_framework.test import APIClient

from tests.security.actors import THE_OWNER, Actor
from tests.security.policies import WEBSOCKET_ACCEPTED, Expected
from tests.security.routes import WEBSOCKET, route_of
from tests.security.world import World

Body = Mapping[str, Any] | Callable[[World], Mapping[str, Any]] | None
# A websocket that says nothing within this long is broken, not slow (a deadline, not a pause).
WEBSOCKET_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Row:
    """``method`` on ``path`` → ``expected``. ``path`` names the world's objects in braces
    (``bots/{bot_A}/``, ids from ``World.ids()``); a ``#label`` tells apart rows on one path."""

    method: str
    path: str
    expected: Expected
    body: Body = None
    # How the body travels: "json", "yaml" (the world's exported bot) or "multipart" (a text file).
    encoding: str = "json"
    # The chat names its end user in the body; other endpoints take ``?user=``.
    user_in_body: bool = False
    # Sets the state the allowed actor needs (inside the cell's transaction), e.g. a paused run.
    prepare: Callable[[World], None] | None = None
    # Returns what the response leaked or destroyed that the actor had no right to.
    check: Callable[[World, Actor, Any], list[str]] | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def route(self) -> str:
        """The URL conf's (or the websocket routes') route that serves ``path``."""
        return route_of(self.method, self.path)


@dataclass(frozen=True)
class Outcome:
    status: int
    detail: str = ""
    problems: tuple[str, ...] = ()


def named_user(world: World, actor: Actor) -> str | None:
    if actor.names_user == THE_OWNER:
        return world.end_user_ids["owner"]
    return actor.names_user


def _body(world: World, row: Row, actor: Actor) -> dict[str, Any] | None:
    body = row.body(world) if callable(row.body) else row.body
    if body is None:
        return None
    body = dict(body)
    user = named_user(world, actor)
    if row.user_in_body and user is not None:
        body["user"] = user
    return body


def _url(world: World, row: Row, actor: Actor) -> str:
    # A "#label" tells apart rows on one path (the chat, continuing each conversation).
    path = row.path.partition("#")[0].format_map(world.ids())
    user = named_user(world, actor)
    if user is not None and not row.user_in_body:
        path += ("&" if "?" in path else "?") + urlencode({"user": user})
    return path


def client_for(world: World, actor: Actor) -> APIClient:
    client = APIClient()
    if actor.session is not None:
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[actor.session]
    if actor.key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys[actor.key]}")
    return client


def _detail(response: Any) -> str:
    """The error's code, message and fields, to say why a cell failed."""
    if response.status_code < 400 or "json" not in (response.get("Content-Type") or ""):
        return ""
    try:
        error = json.loads(response.content).get("error") or {}
    except (ValueError, AttributeError):
        return ""
    return f"{error.get('code')}: {error.get('message')} {error.get('fields') or ''}".strip()


def _close_stream(response: Any) -> None:
    """Close a streamed answer unread (the stream is the chat tests' business) without letting
    ``request_finished`` close the connection that holds the cell's transaction, as Django's test
    client does for the responses it closes itself."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def http_call(world: World, row: Row, actor: Actor) -> Outcome:
    client = client_for(world, actor)
    url = "/api/v1/" + _url(world, row, actor)
    body = _body(world, row, actor)
    if row.encoding == "yaml":
        response = client.generic(row.method, url, data=world.import_yaml, content_type="application/x-yaml")
    elif row.encoding == "multipart":
        upload = SimpleUploadedFile("notes.txt", b"Opening hours: 9 to 5.", content_type="text/plain")
        response = client.post(url, {"file": upload}, format="multipart")
    else:
        response = client.generic(
            row.method, url, data=json.dumps(body) if body is not None else "", content_type="application/json"
        )
    problems = tuple(row.check(world, actor, response)) if row.check is not None else ()
    if getattr(response, "streaming", False):
        _close_stream(response)
    return Outcome(response.status_code, _detail(response), problems)


def _websocket_headers(world: World, actor: Actor) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    if actor.session is not None:
        cookie = f"{settings.SESSION_COOKIE_NAME}={world.sessions[actor.session]}"
        headers.append((b"cookie", cookie.encode()))
    if actor.key is not None:
        headers.append((b"authorization", f"Bearer {world.keys[actor.key]}".encode()))
    return headers


async def _knock(path: str, query: str, headers: list[tuple[bytes, bytes]]) -> Outcome:
    """Open the socket and send it a message it does not know: an admitted socket answers with an
    ``invalid`` error; a refused one has already sent its reason and closed."""
    from builder.config.asgi import application

    scope = {"type": "websocket", "path": path, "query_string": query.encode(), "headers": headers, "subprotocols": []}
    socket = ApplicationCommunicator(application, scope)
    try:
        await socket.send_input({"type": "websocket.connect"})
        reason = ""
        while True:
            message = await socket.receive_output(WEBSOCKET_TIMEOUT_S)
            if message["type"] == "websocket.accept":
                await socket.send_input({"type": "websocket.receive", "text": json.dumps({"type": "matrix.probe"})})
            elif message["type"] == "websocket.close":
                return Outcome(int(message.get("code", 1000)), reason)
            elif message["type"] == "websocket.send":
                frame = json.loads(message["text"])
                if frame.get("code") == "invalid":
                    return Outcome(WEBSOCKET_ACCEPTED, "answered the probe")
                reason = f"{frame.get('code')}: {frame.get('message')}"
    finally:
        if not socket.future.done():
            await socket.send_input({"type": "websocket.disconnect", "code": 1000})
            await socket.wait(WEBSOCKET_TIMEOUT_S)


def websocket_call(world: World, row: Row, actor: Actor) -> Outcome:
    path, _sep, query = _url(world, row, actor).partition("?")
    return async_to_sync(_knock)("/" + path, query, _websocket_headers(world, actor))


def call(world: World, row: Row, actor: Actor) -> Outcome:
    if row.prepare is not None:
        row.prepare(world)
    if row.method == WEBSOCKET:
        return websocket_call(world, row, actor)
    return http_call(world, row, actor)
