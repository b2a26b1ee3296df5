"""Secrets in a whole graph document (as stored, not yet validated): find them and replace them.

What the host needs to keep secrets out of what it stores and serves: the draft save and the
import move raw secrets into credentials, the export blanks them, the data migration rewrote old
rows. Each node is read through its config model (``secrets.secret_slots``), so a node type marks
its secret fields once and every one of these finds them.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from builder.engine.nodes import registry
from builder.engine.secrets import (
    CredentialRef,
    SecretSlot,
    is_credential_ref,
    is_secret_name,
    parse_credential,
    secret_kind,
    secret_slots,
)


def node_secret_slots(node: Mapping[str, Any], *, by_name_everywhere: bool = False) -> list[SecretSlot]:
    """The secret slots of one node of a raw document.

    By its config model when its type is registered and its ``data`` valid; otherwise (a plugin's
    node type that is not loaded, a broken draft) by names: every credential reference, and every
    text under a secret-looking key, so an export or a migration still finds what it must.
    ``by_name_everywhere`` adds the texts under secret-looking keys anywhere in ``data`` (what an
    export blanks, to be safe, even outside the fields node types mark).
    """
    data = node.get("data")
    if not isinstance(data, Mapping):
        return []
    by_name: list[SecretSlot] = []
    try:
        spec = registry.resolve(str(node.get("type", "")))
        if not by_name_everywhere and not _may_hold_secrets(spec.config_model):
            return []  # most nodes: no need to validate their config again
        config = spec.config_model.model_validate(data)
    except (LookupError, ValidationError):
        _walk_raw(data, (), by_name)
        return by_name
    slots = [slot for slot in secret_slots(config) if _present(data, slot.path)]
    if by_name_everywhere:
        _walk_raw(data, (), by_name)
        marked = {slot.path for slot in slots}
        slots += [slot for slot in by_name if slot.path not in marked and not _inside(slot.path, marked)]
    return slots


@functools.cache
def _may_hold_secrets(config_model: type[BaseModel]) -> bool:
    """Whether a config model has a secret field anywhere (its JSON Schema carries the marks)."""
    schema = json.dumps(config_model.model_json_schema())
    return '"x-secret"' in schema or '"x-secret-names"' in schema


def _inside(path: tuple[str | int, ...], others: set[tuple[str | int, ...]]) -> bool:
    return any(path[: len(other)] == other for other in others)


def _walk_raw(value: Any, path: tuple[str | int, ...], slots: list[SecretSlot]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = (*path, key)
            if is_credential_ref(item):
                slots.append(SecretSlot(here, _credential_or_raw(item), secret_kind(str(key))))
            elif isinstance(item, str) and is_secret_name(str(key)):
                slots.append(SecretSlot(here, item, secret_kind(str(key))))
            else:
                _walk_raw(item, here, slots)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk_raw(item, (*path, index), slots)


def _credential_or_raw(item: Any) -> Any:
    try:
        return parse_credential(item)
    except ValueError:  # a malformed reference: still a slot to blank, never a value to send
        return item


def _present(data: Any, path: tuple[str | int, ...]) -> bool:
    """Whether the raw data spells the slot out (a default the document leaves out holds nothing)."""
    for part in path:
        in_object = isinstance(data, Mapping) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_object or in_list):
            return False
        data = data[part]
    return True


def graph_secret_slots(document: Mapping[str, Any]) -> list[tuple[str, SecretSlot]]:
    """``(node_id, slot)`` for every secret slot of every node of a raw document."""
    nodes = document.get("nodes")
    if not isinstance(nodes, list):
        return []
    return [
        (str(node.get("id")), slot) for node in nodes if isinstance(node, Mapping) for slot in node_secret_slots(node)
    ]


def graph_references(document: Mapping[str, Any]) -> list[tuple[str, SecretSlot]]:
    """``(node_id, slot)`` for every slot that holds a credential reference."""
    return [(node_id, slot) for node_id, slot in graph_secret_slots(document) if slot.credential_id]


Replacement = Callable[[str, SecretSlot], Any]


def dump(value: Any) -> Any:
    """A slot's value as the document stores it."""
    return {"credential": value.credential} if isinstance(value, CredentialRef) else value


def replace_secrets(
    document: Mapping[str, Any], replace: Replacement, *, by_name_everywhere: bool = False
) -> dict[str, Any]:
    """A copy of ``document`` in which each secret slot holds ``replace(node_id, slot)``: a raw JSON
    value (``""``, ``{"credential": id}``, or ``dump(slot.value)`` to leave it as it is)."""
    result = copy.deepcopy(dict(document))
    for node in result.get("nodes") or []:
        if not isinstance(node, dict):
            continue
        for slot in node_secret_slots(node, by_name_everywhere=by_name_everywhere):
            holder = node["data"]
            for part in slot.path[:-1]:
                holder = holder[part]
            holder[slot.path[-1]] = replace(str(node.get("id")), slot)
    return result


def credential_name(label: str, node: Mapping[str, Any], slot: SecretSlot) -> str:
    """What to call a credential made from a secret typed into a graph: ``bot · node · field``
    (``Weather bot · Forecast API · auth.token``), so the credentials list says where it came from."""
    data = node.get("data")
    title = data.get("title") if isinstance(data, Mapping) else None
    where = title.strip()[:60] if isinstance(title, str) and title.strip() else str(node.get("id", ""))
    return " · ".join(part for part in (label.strip()[:60], where, slot.field.removeprefix("data.")) if part)
