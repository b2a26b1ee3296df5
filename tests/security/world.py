"""The permission matrix's world: two workspaces and something of everything, built once.

Workspace W1 has an owner, an admin, an editor and a viewer; bots A and B (published, shared with
the workspace) and P (private to its creator, the owner, and granted to the viewer as editor); a
knowledge base with a ready document; a model provider (the fake OpenAI server); the web_search
plugin configured; API keys (one per role, one scoped to bot A and one to bot B, a revoked and an
expired one, all made by the owner); conversations with a finished run each: the editor's debug
conversation on A, the viewer's conversation on A, and bot A's key's conversations for its end
users u1 and u2; facts remembered about u1 and about the owner. Workspace W2 has its own owner,
the outsider.

Everything is made through the services, as a user would make it. Two states are set directly:
runs are marked finished (the world is rolled back at the end, so nothing it starts ever commits
and no run executes), and one key is made to have expired (a key cannot be created expired).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.test import Client
from django.utils import timezone

from builder.accounts.models import ApiKey, Invitation, User, Workspace
from builder.accounts.roles import Role
from builder.accounts.services import api_key_create, api_key_revoke, invitation_create
from builder.bots.models import Bot, Visibility
from builder.bots.services import bot_grant_set, bot_publish
from builder.bots.transfer import bot_export
from builder.conversations.models import Conversation, Run, Source
from builder.conversations.services import conversation_create, conversation_start, message_send
from builder.credentials.models import Credential
from builder.credentials.services import credential_create
from builder.knowledge.ingestion import document_ingest
from builder.knowledge.models import Chunk, Document, KnowledgeBase
from builder.knowledge.services import document_upload, knowledge_base_create
from builder.llm.models import ModelProvider
from builder.llm.services import model_provider_create
from builder.memory.catalog import scope_of
from builder.memory.core import FactKind, MemoryFact
from builder.memory.models import EndUser, end_user_id_of
from builder.memory.services import user_variables_save
from builder.memory.store import memory_store
from builder.pluginhost.services import plugin_configure
from tests.factories import make_bot, make_user, make_workspace, member
from tests.support.graphs import linear_bot, node

PLUGIN_ID = "web_search"
# What bot A remembers about the owner and about u1: a fact each and their user variable "city".
SECRET_FACTS = {"owner": "The owner's secret: a flat in Paris", "u1": "u1's secret: plays the oboe"}
SECRET_CITIES = {"owner": "Timbuktu", "u1": "Ushuaia"}


def remembering_bot() -> dict[str, Any]:
    """start → template → answer, with a user variable (what the end-user variable rows change)."""
    return linear_bot(
        node("start", "start", {"inputs": []}),
        node("echo", "template", {"template": "You said: {{ sys.query }}"}),
        node("answer", "answer", {"text": "{{ echo.text }}"}),
        variables=[{"name": "city", "type": "string", "scope": "user", "default": ""}],
    )


@dataclass
class World:
    w1: Workspace
    w2: Workspace
    users: dict[str, User]
    # Raw secrets of the API keys, by name (admin, editor, viewer, bot_a, bot_b, revoked, expired).
    keys: dict[str, str]
    spare_key: ApiKey
    bots: dict[str, Bot]
    provider: ModelProvider
    credential: Credential
    knowledge_base: KnowledgeBase
    document: Document
    chunk: Chunk
    conversations: dict[str, Conversation]
    runs: dict[str, Run]
    # Whose memory → its end-user id, fact id and the end user's row (for the builder's memory page).
    end_user_ids: dict[str, str]
    facts: dict[str, str]
    end_users: dict[str, EndUser]
    invitation: Invitation
    # An invitation into W2 for the owner of W1: the owner may accept it, their keys never.
    invitation_to_w2_token: str
    import_yaml: str
    # Session cookie values, by user name.
    sessions: dict[str, str]

    def ids(self) -> dict[str, str]:
        """What the matrix's paths name: ``bots/{bot_A}/`` → ``bots/<bot A's id>/``."""
        ids = {
            "w1": self.w1.pk,
            "w2": self.w2.pk,
            "editor": self.users["editor"].pk,
            "viewer": self.users["viewer"].pk,
            "invitation": self.invitation.pk,
            "spare_key": self.spare_key.pk,
            "provider": self.provider.pk,
            "credential": self.credential.pk,
            "plugin": PLUGIN_ID,
            "kb": self.knowledge_base.pk,
            "document": self.document.pk,
            "chunk": self.chunk.pk,
            **{f"bot_{name}": bot.pk for name, bot in self.bots.items()},
            **{f"conversation_{name}": conversation.pk for name, conversation in self.conversations.items()},
            **{f"run_{name}": run.pk for name, run in self.runs.items()},
            **{f"end_user_{name}": end_user.pk for name, end_user in self.end_users.items()},
            **{f"fact_{name}": fact for name, fact in self.facts.items()},
        }
        return {name: str(value) for name, value in ids.items()}


def _session(user: User) -> str:
    browser = Client()
    browser.force_login(user)
    return browser.cookies[settings.SESSION_COOKIE_NAME].value


def _key(workspace: Workspace, owner: User, name: str, role: str, bot: Bot | None = None) -> tuple[ApiKey, str]:
    bot_id = bot.pk if bot is not None else None
    return api_key_create(actor=owner, workspace=workspace, name=name, role=role, bot_id=bot_id)


def _finished(run: Run) -> Run:
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FINISHED, answer="Done.", finished_at=timezone.now())
    run.refresh_from_db()
    return run


def _remember(bot: Bot, end_user_id: str, text: str) -> str:
    """A fact the bot learned about this end user; its id as the API names it."""
    now, fact_id = timezone.now(), uuid.uuid4()
    scope = scope_of(bot.pk, end_user_id)
    fact = MemoryFact(id=fact_id.hex, scope=scope, text=text, kind=FactKind.PROFILE, observed_at=now, updated_at=now)
    memory_store().remember(scope, [fact])
    return str(fact_id)


def _bots(w1: Workspace, owner: User, viewer: User) -> dict[str, Bot]:
    bots = {
        "A": make_bot(w1, name="Bot A", draft=remembering_bot()),
        "B": make_bot(w1, name="Bot B", draft=remembering_bot()),
        "P": make_bot(w1, name="Private bot", draft=remembering_bot(), visibility=Visibility.PRIVATE),
    }
    for bot in bots.values():
        bot_publish(actor=owner, bot=bot)
        bot.refresh_from_db()
    bot_grant_set(actor=owner, bot=bots["P"], user=viewer, role=Role.EDITOR)
    bot_grant_set(actor=owner, bot=bots["A"], user=viewer, role=Role.VIEWER)
    return bots


def _keys(w1: Workspace, owner: User, bots: dict[str, Bot]) -> dict[str, tuple[ApiKey, str]]:
    """The owner's API keys by name: one per role, bot A's and bot B's (editor keys), a revoked and
    an expired one, and a spare one to revoke."""
    keys = {str(role): _key(w1, owner, f"{role} key", role) for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER)}
    keys["bot_a"] = _key(w1, owner, "bot A key", Role.EDITOR, bots["A"])
    keys["bot_b"] = _key(w1, owner, "bot B key", Role.EDITOR, bots["B"])
    keys["revoked"] = _key(w1, owner, "revoked key", Role.EDITOR)
    api_key_revoke(actor=owner, key=keys["revoked"][0])
    keys["expired"] = _key(w1, owner, "expired key", Role.EDITOR)
    ApiKey.objects.filter(pk=keys["expired"][0].pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    keys["spare"] = _key(w1, owner, "spare key", Role.VIEWER)
    return keys


def _ready_document(owner: User, knowledge_base: KnowledgeBase) -> Document:
    document = document_upload(
        actor=owner,
        knowledge_base=knowledge_base,
        name="warranty.txt",
        content=b"The warranty is one year.",
        content_type="text/plain",
    )
    document_ingest(str(document.pk))  # what the commit would start: the world never commits
    document.refresh_from_db()
    assert document.status == Document.Status.READY, document.error
    return document


def _runs(users: dict[str, User], bot: Bot, key: ApiKey) -> dict[str, Run]:
    """A finished run in each conversation: the editor's debug chat, the viewer's chat, and the
    key's chats with its end users u1 and u2."""
    debug = conversation_create(actor=users["editor"], bot=bot, use_draft=True)
    viewers = conversation_create(actor=users["viewer"], bot=bot)
    runs = {
        "debug": message_send(actor=users["editor"], conversation=debug, text="Testing my draft"),
        "viewer": message_send(actor=users["viewer"], conversation=viewers, text="Hello"),
    }
    for end_user in ("u1", "u2"):
        runs[end_user] = conversation_start(
            actor=key, bot_id=bot.pk, text="Hi", source=Source.API, end_user_id=end_user
        )
    return {name: _finished(run) for name, run in runs.items()}


def build_world(*, model_base_url: str) -> World:
    owner = make_user(username="owner")
    w1 = make_workspace(owner, name="W1")
    users = {
        "owner": owner,
        "admin": member(w1, Role.ADMIN, username="admin"),
        "editor": member(w1, Role.EDITOR, username="editor"),
        "viewer": member(w1, Role.VIEWER, username="viewer"),
        "outsider": make_user(username="outsider"),
    }
    w2 = make_workspace(users["outsider"], name="W2")
    bots = _bots(w1, owner, users["viewer"])
    keys = _keys(w1, owner, bots)

    provider = model_provider_create(
        actor=owner,
        workspace=w1,
        name="fake",
        kind="openai_compatible",
        base_url=model_base_url,
        api_key="sk-test",
        models=[{"name": "gpt-4o-mini"}],
        default_model="gpt-4o-mini",
    )
    search = {"provider": "searxng", "searxng_url": "https://search.example.com"}
    plugin_configure(actor=owner, workspace=w1, plugin_id=PLUGIN_ID, config=search)
    credential = credential_create(actor=owner, workspace=w1, name="Weather token", value="tok-123")
    knowledge_base = knowledge_base_create(actor=owner, workspace=w1, name="Manuals")
    document = _ready_document(owner, knowledge_base)

    runs = _runs(users, bots["A"], keys["bot_a"][0])
    conversations = {name: run.conversation for name, run in runs.items()}
    # What bot A remembers about the owner (from a chat of theirs) and about the key's end user u1.
    end_user_ids = {
        "owner": end_user_id_of(conversation_create(actor=owner, bot=bots["A"])),
        "u1": end_user_id_of(conversations["u1"]),
    }
    facts = {
        whose: _remember(bots["A"], end_user_id, SECRET_FACTS[whose]) for whose, end_user_id in end_user_ids.items()
    }
    for whose, end_user_id in end_user_ids.items():
        user_variables_save(bot_id=bots["A"].pk, end_user_id=end_user_id, changes={"city": SECRET_CITIES[whose]})

    invitation, _token = invitation_create(actor=owner, workspace=w1, email="newcomer@example.com", role=Role.VIEWER)
    _to_w2, to_w2_token = invitation_create(actor=users["outsider"], workspace=w2, email=owner.email, role=Role.VIEWER)
    return World(
        w1=w1,
        w2=w2,
        users=users,
        keys={name: raw for name, (_key, raw) in keys.items() if name != "spare"},
        spare_key=keys["spare"][0],
        bots=bots,
        provider=provider,
        credential=credential,
        knowledge_base=knowledge_base,
        document=document,
        chunk=Chunk.objects.get(document=document),
        conversations=conversations,
        runs=runs,
        end_user_ids=end_user_ids,
        facts=facts,
        end_users={
            whose: EndUser.objects.get(bot=bots["A"], end_user_id=end_user_id)
            for whose, end_user_id in end_user_ids.items()
        },
        invitation=invitation,
        invitation_to_w2_token=to_w2_token,
        import_yaml=bot_export(actor=owner, bot=bots["A"]),
        sessions={name: _session(user) for name, user in users.items()},
    )
