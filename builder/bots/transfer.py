"""Export a bot to one YAML file and import it back, into any workspace.

The file carries the graph, its settings and what it depends on (plugins, knowledge bases, other
bots, models) — never secrets: every secret slot of a node config (a credential reference, or a
raw value in an old graph) is blanked and listed, with the credential's name, so the importer knows
what to fill in. Importing validates everything before writing anything, and moves raw secrets
into the workspace's credentials like any draft save (``builder/bots/secrets.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor
from builder.accounts.roles import Action
from builder.bots.graph_errors import problem_payload
from builder.bots.models import Bot, BotVersion
from builder.bots.permissions import check_bot_permission
from builder.bots.references import BOT, graph_resource_references
from builder.bots.services import bot_create
from builder.bots.yaml_safety import UnsafeYaml, dump_yaml, load_untrusted_yaml
from builder.core.exceptions import PayloadTooLarge, ValidationFailed
from builder.credentials.selectors import workspace_credentials
from builder.engine.graph_secrets import graph_references, replace_secrets
from builder.engine.secrets import SecretSlot, is_template
from builder.pluginhost.node_types import ensure_loaded as ensure_plugin_node_types

EXPORT_KIND = "agentloom/bot"
EXPORT_FORMAT_VERSION = 1
MODEL_NODE_TYPES = {"llm", "agent", "intent", "parameter_extractor"}


@dataclass
class ImportResult:
    bot: Bot
    dependencies: dict[str, list[Any]]
    secrets_to_fill: list[dict[str, str]]
    problems: list[dict[str, Any]] = field(default_factory=list)


def _node_type_name(node: dict[str, Any]) -> str:
    return str(node.get("type", "")).split("@", 1)[0]


def graph_dependencies(document: dict[str, Any]) -> dict[str, list[Any]]:
    """What must exist where the bot is imported: plugin tools, knowledge bases, bots, models."""
    tools: set[tuple[str, str]] = set()
    knowledge: set[str] = set()
    bots: set[str] = set()
    models: set[tuple[str, str]] = set()

    def add_model(value: Any) -> None:
        if isinstance(value, dict) and value.get("provider") and value.get("name"):
            models.add((str(value["provider"]), str(value["name"])))

    add_model((document.get("settings") or {}).get("model"))
    for reference in graph_resource_references(document):
        (bots if reference.kind == BOT else knowledge).add(reference.target)
    for node in document.get("nodes", []):
        kind, data = _node_type_name(node), node.get("data") or {}
        if kind == "tool":
            tools.add((str(data.get("plugin", "")), str(data.get("tool", ""))))
        if kind == "agent":
            tools.update((str(t.get("plugin", "")), str(t.get("tool", ""))) for t in data.get("tools", []))
        if kind in MODEL_NODE_TYPES:
            add_model(data.get("model"))
            add_model(data.get("fallback_model"))
    return {
        "plugins": [{"plugin": plugin, "tool": tool} for plugin, tool in sorted(tools)],
        "knowledge_bases": sorted(knowledge),
        "bots": sorted(bots),
        "models": [{"provider": provider, "name": name} for provider, name in sorted(models)],
    }


def strip_secrets(
    document: dict[str, Any], *, credential_names: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Blank every secret (credential references and raw values); templates stay.

    Returns the cleaned copy and every secret slot the importer must fill in: ``node_id`` and
    ``field``, plus ``credential_name`` where the slot referenced a credential (its name in
    ``credential_names``, by id), so the importer knows which secret goes there.
    """
    names = credential_names or {}
    removed: list[dict[str, str]] = []

    def blank(node_id: str, slot: SecretSlot) -> Any:
        if isinstance(slot.value, str) and is_template(slot.value):
            return slot.value
        # Empty slots are listed too: an imported bot re-exports with the same to-do list.
        entry = {"node_id": node_id, "field": slot.field}
        if slot.credential_id:
            entry["credential_name"] = names.get(slot.credential_id, "")
        removed.append(entry)
        return ""

    # By name everywhere too: a secret-looking key outside the fields node types mark is blanked.
    return replace_secrets(document, blank, by_name_everywhere=True), removed


def bot_export(*, actor: Actor, bot: Bot, version: BotVersion | None = None) -> str:
    """The YAML file for a bot's draft, or for one of its versions."""
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_EXPORT)
    ensure_plugin_node_types()  # their secret fields are found by their config models
    source = version.graph if version is not None else bot.draft
    labels = version if version is not None else bot
    referenced = workspace_credentials(
        workspace_id=bot.workspace_id, ids={slot.credential_id or "" for _node, slot in graph_references(source)}
    )
    names = {credential_id: credential.name for credential_id, credential in referenced.items()}
    graph, removed = strip_secrets(source, credential_names=names)
    document = {
        "kind": EXPORT_KIND,
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {"version": version.number if version is not None else "draft"},
        "bot": {"name": labels.name, "description": labels.description, "icon": labels.icon},
        "graph": graph,
        "dependencies": graph_dependencies(graph),
        "secrets_to_fill": removed,
    }
    return dump_yaml(document)


def _refuse(field_name: str, message: str, code: str = "invalid_import") -> ValidationFailed:
    return ValidationFailed(_("The file cannot be imported."), code=code, fields={field_name: [message]})


def parse_bot_file(raw: bytes) -> dict[str, Any]:
    """Check and parse an uploaded bot file; every refusal names the field and the reason."""
    limit = settings.BOT_IMPORT_MAX_BYTES
    if len(raw) > limit:
        raise PayloadTooLarge(
            _("Bot files are limited to %(limit)d bytes.") % {"limit": limit}, fields={"file": [_("Too large.")]}
        )
    if not raw.strip():
        raise _refuse("file", _("The file is empty."))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse("file", _("The file is not UTF-8 text.")) from None
    try:
        data = load_untrusted_yaml(text)
    except UnsafeYaml as exc:
        reason = _(exc.template) % exc.params
        raise _refuse("file", _("Refused unsafe YAML: %(reason)s.") % {"reason": reason}) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is None:
            raise _refuse("file", _("The file is not valid YAML.")) from None
        message = _("The file is not valid YAML (line %(line)d).") % {"line": mark.line + 1}
        raise _refuse("file", message) from None
    if not isinstance(data, dict):
        raise _refuse("file", _("The file must contain a mapping at the top level."))
    if data.get("kind") != EXPORT_KIND:
        raise _refuse("kind", _("Expected kind '%(kind)s'.") % {"kind": EXPORT_KIND})
    if data.get("format_version") != EXPORT_FORMAT_VERSION:
        raise _refuse(
            "format_version",
            _("Unsupported format version %(found)s; this server reads version %(supported)d.")
            % {"found": data.get("format_version"), "supported": EXPORT_FORMAT_VERSION},
            code="unsupported_version",
        )
    bot = data.get("bot")
    if not isinstance(bot, dict) or not isinstance(bot.get("name"), str) or not bot["name"].strip():
        raise _refuse("bot.name", _("This field is required."))
    for key in ("description", "icon"):
        if not isinstance(bot.get(key, ""), str):
            raise _refuse(f"bot.{key}", _("Must be text."))
    if not isinstance(data.get("graph"), dict):
        raise _refuse("graph", _("This field is required."))
    return data


@transaction.atomic
def bot_import(*, actor: Actor, workspace: Workspace, raw: bytes, name: str | None = None) -> ImportResult:
    """Create a bot from an exported file. Nothing is written unless the whole file is valid."""
    data = parse_bot_file(raw)
    labels = data["bot"]
    bot, problems = bot_create(
        actor=actor,
        workspace=workspace,
        name=name or labels["name"],
        description=labels.get("description", ""),
        icon=labels.get("icon", ""),
        draft=data["graph"],
        draft_field="graph",
    )
    return ImportResult(
        bot=bot,
        dependencies=graph_dependencies(data["graph"]),
        secrets_to_fill=[item for item in data.get("secrets_to_fill") or [] if isinstance(item, dict)],
        problems=[problem_payload(problem) for problem in problems],
    )
