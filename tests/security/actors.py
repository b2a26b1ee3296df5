"""Who knocks: each actor of the permission matrix, and how it presents itself to the server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    name: str
    # A world user signed in with a session cookie.
    session: str | None = None
    # A world API key, sent as ``Authorization: Bearer``.
    key: str | None = None
    # The end user it speaks for (``user`` in the chat body, ``?user=`` elsewhere), sent as it is;
    # THE_OWNER stands for the owner of W1 as bot A's memory knows them.
    names_user: str | None = None


THE_OWNER = "<the owner's end-user id>"


ACTORS: tuple[Actor, ...] = (
    Actor("owner", session="owner"),
    Actor("admin", session="admin"),
    Actor("editor", session="editor"),
    Actor("viewer", session="viewer"),
    # A signed-in viewer who names the owner as the end user (issue 11, defect 2's attack).
    Actor("viewer_naming_owner", session="viewer", names_user=THE_OWNER),
    Actor("outsider", session="outsider"),
    Actor("anonymous"),
    Actor("key_admin", key="admin"),
    Actor("key_editor", key="editor"),
    Actor("key_viewer", key="viewer"),
    # Bot A's key (an editor key scoped to bot A): without an end user, and for u1 and for u2.
    Actor("key_bot_a", key="bot_a"),
    Actor("key_bot_a_u1", key="bot_a", names_user="u1"),
    Actor("key_bot_a_u2", key="bot_a", names_user="u2"),
    Actor("key_bot_b", key="bot_b"),
    Actor("key_revoked", key="revoked"),
    Actor("key_expired", key="expired"),
)
ACTOR_NAMES = tuple(actor.name for actor in ACTORS)
BY_NAME = {actor.name: actor for actor in ACTORS}

UNAUTHENTICATED = ("anonymous", "key_revoked", "key_expired")
BOT_A_KEYS = ("key_bot_a", "key_bot_a_u1", "key_bot_a_u2")
BOT_KEYS = (*BOT_A_KEYS, "key_bot_b")
