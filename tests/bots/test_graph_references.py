"""A bot's graph reaches other bots and knowledge bases only where its author may go.

Saving a draft (the canvas, an import, a version restored) refuses references new to the bot to a
bot the actor may not chat with or to knowledge bases the actor may not see, naming the node and
field; publishing and rolling back check every reference with the publisher's rights, because the
published version's runs trust them. An editor key for bot A is the attacker here: it may edit A,
but reaches nothing else (issue 11, defect 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from builder.accounts.models import User, Workspace
from builder.accounts.roles import Role
from builder.bots.models import Bot, Visibility
from builder.bots.services import bot_draft_save, bot_publish
from builder.knowledge.models import KnowledgeBase
from builder.knowledge.services import knowledge_base_create
from tests.conversations.graphs import echo_bot
from tests.factories import client_for, error_of, key_client, make_bot, make_workspace, member, owner_of
from tests.support.graphs import linear_bot, node

pytestmark = pytest.mark.django_db


def calls(bot: Bot) -> dict[str, Any]:
    """start → sub_bot(bot) → answer."""
    return linear_bot(
        node("start", "start", {"inputs": []}),
        node("sub", "sub_bot", {"bot_id": str(bot.pk), "inputs": {"query": "{{ sys.query }}"}}),
        node("answer", "answer", {"text": "Got: {{ sub.answer }}"}),
    )


def searches(kb: KnowledgeBase) -> dict[str, Any]:
    """start → knowledge_retrieval(kb) → answer."""
    return linear_bot(
        node("start", "start", {"inputs": []}),
        node("kb", "knowledge_retrieval", {"query": "{{ sys.query }}", "knowledge_bases": [str(kb.pk)]}),
        node("answer", "answer", {"text": "Found {{ kb.chunks | length }}"}),
    )


@dataclass
class Scene:
    workspace: Workspace
    owner: User
    bot: Bot  # A: shared with the workspace, published
    private: Bot  # P: an author's private bot, published
    kb: KnowledgeBase
    bot_key: APIClient  # an editor key limited to A


def scene() -> Scene:
    workspace = make_workspace()
    owner = owner_of(workspace)
    author = member(workspace, Role.EDITOR)
    private = make_bot(workspace, by=author, name="Private", draft=echo_bot(), visibility=Visibility.PRIVATE)
    bot_publish(actor=author, bot=private)
    bot = make_bot(workspace, name="A", draft=echo_bot())
    bot_publish(actor=owner, bot=bot)
    kb = knowledge_base_create(actor=owner, workspace=workspace, name="Manuals")
    bot_key, _raw = key_client(workspace, role=Role.EDITOR, bot_id=bot.pk)
    return Scene(workspace, owner, bot, private, kb, bot_key)


def _put_draft(client: APIClient, bot: Bot, draft: dict[str, Any]) -> Any:
    bot.refresh_from_db()
    return client.put(f"/api/v1/bots/{bot.pk}/draft", {"revision": bot.draft_revision, "draft": draft}, format="json")


def _refused(response: Any, *fields: str) -> None:
    assert response.status_code == 403, response.content
    error = error_of(response)
    assert error["code"] == "permission_denied" and sorted(error["fields"]) == sorted(fields), error


def test_a_bot_key_cannot_point_its_bot_at_a_private_bot_or_a_knowledge_base() -> None:
    s = scene()
    before = s.bot.draft_revision

    _refused(_put_draft(s.bot_key, s.bot, calls(s.private)), "draft.nodes.sub.data.bot_id")
    _refused(_put_draft(s.bot_key, s.bot, searches(s.kb)), "draft.nodes.kb.data.knowledge_bases")
    agent = linear_bot(
        node("start", "start", {"inputs": []}),
        node("agent", "agent", {"bots": [str(s.private.pk)], "knowledge_bases": [str(s.kb.pk)]}),
        node("answer", "answer", {"text": "{{ agent.text }}"}),
    )
    both = ("draft.nodes.agent.data.bots", "draft.nodes.agent.data.knowledge_bases")
    _refused(_put_draft(s.bot_key, s.bot, agent), *both)

    s.bot.refresh_from_db()
    assert s.bot.draft_revision == before and "sub_bot@1" not in str(s.bot.draft)
    # Bot A itself is the key's to edit.
    assert _put_draft(s.bot_key, s.bot, echo_bot()).status_code == 200


def test_an_editor_without_access_edits_the_rest_of_a_graph_pointed_at_a_private_bot() -> None:
    s = scene()
    editor = client_for(member(s.workspace, Role.EDITOR))
    bot_draft_save(actor=s.owner, bot=s.bot, draft=calls(s.private), revision=s.bot.draft_revision)

    edited = calls(s.private)
    edited["nodes"][2]["data"]["text"] = "The other bot says: {{ sub.answer }}"
    assert _put_draft(editor, s.bot, edited).status_code == 200

    other = make_bot(s.workspace, name="B", draft=echo_bot())
    _refused(_put_draft(editor, other, calls(s.private)), "draft.nodes.sub.data.bot_id")


def test_publishing_and_rolling_back_need_the_right_to_use_every_reference() -> None:
    s = scene()
    owner = client_for(s.owner)
    bot_draft_save(actor=s.owner, bot=s.bot, draft=calls(s.private), revision=s.bot.draft_revision)

    _refused(s.bot_key.post(f"/api/v1/bots/{s.bot.pk}/publish", {}, format="json"), "draft.nodes.sub.data.bot_id")
    assert s.bot.versions.count() == 1
    assert owner.post(f"/api/v1/bots/{s.bot.pk}/publish", {}, format="json").status_code == 201
    assert owner.post(f"/api/v1/bots/{s.bot.pk}/versions/1/rollback").status_code == 200

    _refused(s.bot_key.post(f"/api/v1/bots/{s.bot.pk}/versions/2/rollback"), "graph.nodes.sub.data.bot_id")
    s.bot.refresh_from_db()
    assert s.bot.live_version is not None and s.bot.live_version.number == 1
    assert s.bot_key.post(f"/api/v1/bots/{s.bot.pk}/versions/1/rollback").status_code == 200

    # Restoring the version into a draft that no longer calls the private bot is a new reference.
    bot_draft_save(actor=s.owner, bot=s.bot, draft=echo_bot(), revision=s.bot.draft_revision)
    s.bot.refresh_from_db()
    restore = s.bot_key.post(
        f"/api/v1/bots/{s.bot.pk}/versions/2/restore", {"revision": s.bot.draft_revision}, format="json"
    )
    _refused(restore, "draft.nodes.sub.data.bot_id")


def test_importing_a_graph_that_calls_a_private_bot_needs_access_to_it() -> None:
    s = scene()
    bot_draft_save(actor=s.owner, bot=s.bot, draft=calls(s.private), revision=s.bot.draft_revision)
    exported = client_for(s.owner).get(f"/api/v1/bots/{s.bot.pk}/export").content
    url = f"/api/v1/workspaces/{s.workspace.pk}/bots/import"

    def upload(client: APIClient) -> Any:
        return client.post(url, {"file": SimpleUploadedFile("a.yaml", exported)}, format="multipart")

    _refused(upload(client_for(member(s.workspace, Role.EDITOR))), "graph.nodes.sub.data.bot_id")
    assert upload(client_for(s.owner)).status_code == 201
