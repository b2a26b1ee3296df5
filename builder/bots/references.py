"""What a bot graph reaches beyond itself (other bots, knowledge bases), and who may point it there.

A graph's run acts with the rights of what started it (DESIGN.md §7). A published version's runs
only check that what it references is in the bot's workspace, so the check moves to where the graph
is written and published: every write of a draft (a save, an import, a version restored) refuses
references *new* to the bot (not in its previous draft) to a bot the actor may not chat with or to
knowledge bases the actor may not see; publishing and rolling back check every reference of the
version with the publisher's rights. An editor without access may still edit the other nodes of a
graph someone else pointed at a private bot. References to what is not in the workspace are left
to the run, which fails them with a typed error (an imported bot's ids name another workspace's).
Draft runs check their principal again when they reach each one (``conversations/run_rights.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, check_workspace_permission
from builder.accounts.roles import Action
from builder.bots.models import Bot
from builder.bots.permissions import check_bot_permission
from builder.core.exceptions import ApplicationError, PermissionDenied
from builder.knowledge.models import KnowledgeBase

BOT, KNOWLEDGE_BASE = "bot", "knowledge_base"


@dataclass(frozen=True)
class Reference:
    node_id: str
    field: str  # under the node's data: bot_id, bots, knowledge_bases
    kind: str  # BOT or KNOWLEDGE_BASE
    target: str  # the id the graph names


def graph_resource_references(document: Any) -> Iterator[Reference]:
    """Every bot and knowledge base the graph's nodes name (sub_bot, agent, knowledge_retrieval)."""
    nodes = document.get("nodes") if isinstance(document, Mapping) else None
    for node in nodes if isinstance(nodes, list) else ():
        if not isinstance(node, Mapping) or not isinstance(node.get("data"), Mapping):
            continue
        kind, data, node_id = str(node.get("type", "")).split("@", 1)[0], node["data"], str(node.get("id", ""))
        if kind == "sub_bot" and isinstance(data.get("bot_id"), str):
            yield Reference(node_id, "bot_id", BOT, data["bot_id"])
        if kind == "agent":
            yield from _listed(node_id, data, "bots", BOT)
        if kind in {"agent", "knowledge_retrieval"}:
            yield from _listed(node_id, data, "knowledge_bases", KNOWLEDGE_BASE)


def _listed(node_id: str, data: Mapping[str, Any], field: str, kind: str) -> Iterator[Reference]:
    items = data.get(field)
    for item in items if isinstance(items, list) else ():
        if isinstance(item, str):
            yield Reference(node_id, field, kind, item)


def check_graph_references(
    *, actor: Actor, workspace: Workspace, document: Any, previous: Any = None, field: str = "draft"
) -> None:
    """Raise 403 naming each node and field (``<field>.nodes.<id>.data.<name>``) whose reference the
    actor may not use; references already in ``previous`` (the draft being replaced) are not new."""
    known = {(ref.kind, ref.target) for ref in graph_resource_references(previous)}
    errors: dict[str, list[str]] = {}
    for ref in graph_resource_references(document):
        if (ref.kind, ref.target) in known or _may_use(actor, workspace, ref):
            continue
        message = _("You may not use this bot.") if ref.kind == BOT else _("You may not use knowledge bases.")
        errors.setdefault(f"{field}.nodes.{ref.node_id}.data.{ref.field}", []).append(message)
    if errors:
        raise PermissionDenied(_("This graph uses bots or knowledge bases you may not use."), fields=errors)


def _may_use(actor: Actor, workspace: Workspace, ref: Reference) -> bool:
    try:
        target = uuid.UUID(ref.target)
    except ValueError:
        return True  # names nothing: the run says so
    try:
        if ref.kind == BOT:
            bot = Bot.objects.select_related("workspace").filter(pk=target, workspace=workspace).first()
            if bot is not None:
                check_bot_permission(actor=actor, bot=bot, action=Action.BOT_CHAT)
        else:
            if KnowledgeBase.objects.filter(pk=target, workspace=workspace).exists():
                check_workspace_permission(actor=actor, workspace=workspace, action=Action.KNOWLEDGE_VIEW)
    except ApplicationError:
        return False
    return True
