"""Secrets typed into a bot graph become workspace credentials before the graph is stored.

Every write of a graph (creating a bot, saving the draft, importing a file, restoring a version)
goes through ``graph_secured``, so what is stored, and so every read of it, holds references
``{"credential": "<id>"}`` only (DESIGN.md §7). In a secret slot (``builder/engine/secrets.py``):

- a raw value: moved into a new encrypted credential of the workspace; the same value in the same
  slot as before keeps its credential (an autosaving canvas does not mint one per save);
- a masked value (``"••••"``, the trace's ``"******"``, a hint such as ``"sk-…3456"``): keeps the
  reference stored in that slot; refused where none is stored;
- a reference: kept if the credential is the workspace's. Attaching one the bot did not use yet
  takes the right to use the workspace's credentials (``credentials.manage``), so a member who may
  edit one bot cannot point it, and the workspace's keys, at a server of their choosing;
- empty, or a template (``{{ conv.token }}``): kept as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, actor_user, check_workspace_permission
from builder.accounts.roles import Action
from builder.bots.models import Bot
from builder.core.crypto import SecretUnreadable, decrypt_secret
from builder.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from builder.credentials.selectors import workspace_credentials
from builder.credentials.services import credential_store
from builder.engine.graph_secrets import (
    credential_name,
    dump,
    graph_references,
    graph_secret_slots,
    replace_secrets,
)
from builder.engine.secrets import SecretSlot, looks_masked

Slot = tuple[str, tuple[str | int, ...]]  # (node id, path under data)


def graph_secured(
    *, actor: Actor, workspace: Workspace, document: Any, bot: Bot | None = None, label: str = "", field: str = "draft"
) -> Any:
    """The document to store for ``bot`` (None: a new bot, named ``label``). Errors name the
    field as ``<field>.nodes.<node id>.data.<path>``, like the graph's own errors."""
    if not isinstance(document, Mapping):
        return document
    slots = graph_secret_slots(document)
    if not slots:
        return document
    previous = {(node_id, slot.path): slot for node_id, slot in graph_references(bot.draft if bot else {})}
    plan: dict[Slot, Any] = {}
    errors: dict[str, list[str]] = {}
    attached: dict[str, list[str]] = {}
    raw: list[tuple[str, SecretSlot]] = []
    for node_id, slot in slots:
        where = f"{field}.nodes.{node_id}.{slot.field}"
        if slot.credential_id:
            canonical = _canonical(slot.credential_id)
            plan[(node_id, slot.path)] = {"credential": canonical}
            attached.setdefault(canonical, []).append(where)
        elif slot.inline is not None and looks_masked(slot.inline):
            kept = previous.get((node_id, slot.path))
            if kept is None:
                errors[where] = [_("Enter the secret again: this is a masked value, not the secret.")]
            else:
                plan[(node_id, slot.path)] = dump(kept.value)
        elif slot.inline is not None:
            raw.append((node_id, slot))
    errors |= _reference_errors(actor=actor, workspace=workspace, attached=attached, bot=bot)
    if errors:
        raise ValidationFailed(_("Some secrets in the graph cannot be saved."), code="invalid_secret", fields=errors)
    label = label or (bot.name if bot else "")
    plan |= _stored(actor=actor, workspace=workspace, document=document, raw=raw, previous=previous, label=label)
    if all(plan[(node_id, slot.path)] == dump(slot.value) for node_id, slot in slots if (node_id, slot.path) in plan):
        return document  # references only, already as stored: nothing to rewrite
    return replace_secrets(document, lambda node_id, slot: plan.get((node_id, slot.path), dump(slot.value)))


def secret_references(document: Any) -> list[dict[str, str]]:
    """Where the stored graph references credentials: what a client swaps its raw values for."""
    if not isinstance(document, Mapping):
        return []
    return [
        {"node_id": node_id, "field": slot.field, "credential": _canonical(slot.credential_id or "")}
        for node_id, slot in graph_references(document)
    ]


def _canonical(credential_id: str) -> str:
    try:
        return str(uuid.UUID(credential_id))
    except ValueError:
        return credential_id


def _reference_errors(
    *, actor: Actor, workspace: Workspace, attached: dict[str, list[str]], bot: Bot | None
) -> dict[str, list[str]]:
    """References to credentials the workspace does not have; and, for an actor who may not use
    the workspace's credentials, references the bot did not hold already."""
    if not attached:
        return {}
    found = workspace_credentials(workspace_id=workspace.pk, ids=attached)
    errors = {
        where: [_("This workspace has no such credential.")]
        for credential_id, places in attached.items()
        if credential_id not in found
        for where in places
    }
    new = set(found) - _held(bot.draft if bot else {})
    if new and not _may_attach(actor, workspace):
        # Restoring a version brings back what the bot used before: not an attachment.
        versions = bot.versions.values_list("graph", flat=True) if bot else []
        new -= {held for graph in versions for held in _held(graph)}
        if new:
            refused = {where: [_("You may not use this credential.")] for ref in new for where in attached[ref]}
            message = _("Only those who manage the workspace's credentials may attach one to a bot.")
            raise PermissionDenied(message, fields=refused)
    return errors


def _held(document: Any) -> set[str]:
    """The credentials a stored graph references."""
    return {_canonical(slot.credential_id or "") for _node, slot in graph_references(document or {})}


def _may_attach(actor: Actor, workspace: Workspace) -> bool:
    try:
        check_workspace_permission(actor=actor, workspace=workspace, action=Action.CREDENTIALS_MANAGE)
    except (PermissionDenied, NotFound):
        return False
    return True


def _stored(
    *,
    actor: Actor,
    workspace: Workspace,
    document: Mapping[str, Any],
    raw: list[tuple[str, SecretSlot]],
    previous: dict[Slot, SecretSlot],
    label: str,
) -> dict[Slot, Any]:
    """References for the raw secrets: the slot's previous credential when it holds the same
    value, else one new credential per distinct value."""
    if not raw:
        return {}
    before = _previous_values(workspace, previous)
    nodes = {str(node.get("id")): node for node in document.get("nodes") or [] if isinstance(node, Mapping)}
    plan: dict[Slot, Any] = {}
    minted: dict[str, str] = {}
    for node_id, slot in raw:
        value = slot.inline or ""
        kept = previous.get((node_id, slot.path))
        if kept is not None and before.get(kept.credential_id or "") == value:
            plan[(node_id, slot.path)] = dump(kept.value)
            continue
        if value not in minted:
            name = credential_name(label, nodes.get(node_id, {"id": node_id}), slot)
            credential = credential_store(
                workspace=workspace, name=name, kind=slot.kind, value=value, created_by=actor_user(actor)
            )
            minted[value] = str(credential.pk)
        plan[(node_id, slot.path)] = {"credential": minted[value]}
    return plan


def _previous_values(workspace: Workspace, previous: dict[Slot, SecretSlot]) -> dict[str, str]:
    """The values of the credentials the stored draft references, by id (unreadable ones left out)."""
    ids = {slot.credential_id for slot in previous.values() if slot.credential_id}
    values = {}
    for credential_id, credential in workspace_credentials(workspace_id=workspace.pk, ids=ids).items():
        try:
            values[credential_id] = decrypt_secret(credential.value_encrypted)
        except SecretUnreadable:
            continue
    return values
