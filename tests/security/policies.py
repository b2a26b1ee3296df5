"""The permission rules the matrix's table is written in: who holds which role, and what each kind
of endpoint answers each actor (DESIGN.md §7, issue 11). A row states its rule and the exceptions.

- No (or a revoked or expired) credential: 401 wherever one is needed.
- Outside a workspace: 404 (its existence is not theirs to know); inside without the role: 403.
- A bot one cannot see (another bot's key, a private bot): 404; seen without the role: 403.
- A bot-scoped key acts only on its bot: workspace-level actions other than viewing are 403.
- A conversation belongs to whoever opened it: anyone else 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from tests.security.actors import ACTOR_NAMES, BOT_A_KEYS, BOT_KEYS, BY_NAME, UNAUTHENTICATED

OWNERS = ("owner",)
ADMINS = ("owner", "admin")
EDITORS = ("owner", "admin", "editor")
VIEWERS = ("owner", "admin", "editor", "viewer")

# An actor's role in W1 ("bot key": scoped to one bot; None: not in W1). Keys are the owner's,
# so they act with their own role.
WORKSPACE_ROLE: dict[str, str | None] = {
    "owner": "owner",
    "admin": "admin",
    "editor": "editor",
    "viewer": "viewer",
    "viewer_naming_owner": "viewer",
    "outsider": None,
    "key_admin": "admin",
    "key_editor": "editor",
    "key_viewer": "viewer",
    **dict.fromkeys(BOT_KEYS, "bot key"),
}
_SHARED_BOT_ROLE = {name: role for name, role in WORKSPACE_ROLE.items() if role != "bot key"}
# An actor's effective role on each bot (None: cannot see it). A and B are shared with the
# workspace (the viewer holds a viewer grant on A); P is the owner's private bot, granted to the
# viewer as editor. Bot keys are editor keys.
BOT_ROLE: dict[str, dict[str, str | None]] = {
    "A": {**_SHARED_BOT_ROLE, **dict.fromkeys(BOT_A_KEYS, "editor"), "key_bot_b": None},
    "B": {**_SHARED_BOT_ROLE, **dict.fromkeys(BOT_A_KEYS), "key_bot_b": "editor"},
    "P": {
        **_SHARED_BOT_ROLE,
        "editor": None,
        "viewer": "editor",
        "viewer_naming_owner": "editor",
        **dict.fromkeys(BOT_KEYS),
    },
}
# Who opened each conversation of the world: its only reader, writer and listener.
CONVERSATION_OWNER = {"debug": "editor", "viewer": "viewer", "u1": "key_bot_a_u1", "u2": "key_bot_a_u2"}


class Expected(Mapping[str, int]):
    """Actor → the status it must get (every actor named once)."""

    def __init__(self, statuses: Mapping[str, int]) -> None:
        missing = set(ACTOR_NAMES) - set(statuses)
        unknown = set(statuses) - set(ACTOR_NAMES)
        assert not missing and not unknown, f"missing {missing}, unknown {unknown}"
        self._statuses = dict(statuses)

    def __getitem__(self, actor: str) -> int:
        return self._statuses[actor]

    def __iter__(self) -> Iterator[str]:
        return iter(ACTOR_NAMES)

    def __len__(self) -> int:
        return len(self._statuses)

    def but(self, **exceptions: int) -> Expected:
        """The same rule with named exceptions (each one deserves a comment where it is used)."""
        assert set(exceptions) <= set(ACTOR_NAMES), set(exceptions) - set(ACTOR_NAMES)
        return Expected({**self._statuses, **exceptions})


def _with_credentials(statuses: Mapping[str, int]) -> Expected:
    return Expected({**statuses, **dict.fromkeys(UNAUTHENTICATED, 401)})


def anyone(ok: int) -> Expected:
    """No authentication at all: whatever is sent, ``ok``."""
    return Expected(dict.fromkeys(ACTOR_NAMES, ok))


def open_door(ok: int) -> Expected:
    """No credential needed, but a bad one (a revoked or expired key) is refused."""
    return _with_credentials(dict.fromkeys(ACTOR_NAMES, ok)).but(anonymous=ok)


def signed_in(ok: int) -> Expected:
    """Any valid credential."""
    return _with_credentials(dict.fromkeys(ACTOR_NAMES, ok))


def people_only(ok: int) -> Expected:
    """Self-service for signed-in people; an API key is refused (403)."""
    return _with_credentials({name: ok if BY_NAME[name].key is None else 403 for name in ACTOR_NAMES})


def workspace_action(ok: int, roles: Iterable[str], *, bot_keys: bool = False) -> Expected:
    """An action in W1 allowed to ``roles`` (and to bot-scoped keys only when ``bot_keys``)."""
    allowed = set(roles)

    def status(role: str | None) -> int:
        if role is None:
            return 404
        if role == "bot key":
            return ok if bot_keys else 403
        return ok if role in allowed else 403

    return _with_credentials({name: status(role) for name, role in WORKSPACE_ROLE.items()})


def bot_action(bot: str, ok: int, roles: Iterable[str]) -> Expected:
    """An action on one bot allowed to ``roles`` (as the bot's effective role)."""
    allowed = set(roles)

    def status(role: str | None) -> int:
        if role is None:
            return 404
        return ok if role in allowed else 403

    return _with_credentials({name: status(role) for name, role in BOT_ROLE[bot].items()})


def conversation_owner(conversation: str, ok: int) -> Expected:
    """Only who opened the conversation; anyone else signed in 404."""
    owner = CONVERSATION_OWNER[conversation]
    return _with_credentials({name: ok if name == owner else 404 for name in ACTOR_NAMES})


WEBSOCKET_ACCEPTED = 101
# The websocket's close codes for what HTTP answers 401, and 403 or 404 (builder/realtime/consumers.py).
WEBSOCKET_CLOSE = {401: 4401, 403: 4403, 404: 4403}


def over_websocket(expected: Expected, *, ok: int) -> Expected:
    """The same rule on a websocket: kept open (101) where HTTP says ``ok``, else closed with a code."""
    return Expected(
        {name: WEBSOCKET_ACCEPTED if status == ok else WEBSOCKET_CLOSE[status] for name, status in expected.items()}
    )
