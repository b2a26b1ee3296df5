"""Move the secrets stored in bot graphs into encrypted workspace credentials (issue 11, defect 3).

Every draft, every published version (immutable for users, rewritten here because this is a
security fix: its checksum is recomputed) and every draft run's copy of a graph gets, in each
secret slot that held a raw value, a reference ``{"credential": "<id>"}`` to a new credential of
the bot's workspace. The same value in one bot's draft, versions and runs becomes one credential,
so an unchanged draft still matches its latest version.

Safe to run twice: slots that hold references are left alone. Reversible: going back puts each
referenced value in clear into the graphs again (for the code before this change, which reads
only raw values) before the credentials table is dropped by 0001's reversal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import migrations
from django.db.models import Value
from django.db.models.functions import Lower

from builder.bots.drafts import graph_checksum
from builder.core.crypto import SecretUnreadable, decrypt_secret, encrypt_secret, mask_secret
from builder.engine.graph_secrets import credential_name, dump, replace_secrets
from builder.engine.secrets import SecretSlot

KINDS = {"token", "password", "api_key", "secret"}
MAX_NAME_LENGTH = 200


def _rewrite(document: Any, replace: Callable[[Mapping[str, Any], SecretSlot], Any]) -> Any:
    """``document`` with each slot replaced, or the same object when nothing changed."""
    if not isinstance(document, Mapping) or not isinstance(document.get("nodes"), list):
        return document
    nodes = {str(node.get("id")): node for node in document["nodes"] if isinstance(node, Mapping)}
    rewritten = replace_secrets(document, lambda node_id, slot: replace(nodes.get(node_id, {}), slot))
    return document if rewritten == document else rewritten


class _BotSecrets:
    """Creates (forward) or reads (backward) the credentials of one bot's graphs."""

    def __init__(self, apps: Any, bot: Any) -> None:
        self.credentials = apps.get_model("credentials", "Credential")
        self.bot = bot
        self.minted: dict[str, str] = {}

    def to_reference(self, node: Mapping[str, Any], slot: SecretSlot) -> Any:
        value = slot.inline
        if value is None:
            return dump(slot.value)
        if value not in self.minted:
            self.minted[value] = self._create(credential_name(self.bot.name, node, slot), slot.kind, value)
        return {"credential": self.minted[value]}

    def to_value(self, node: Mapping[str, Any], slot: SecretSlot) -> Any:
        if slot.credential_id is None:
            return dump(slot.value)
        stored = self.credentials.objects.filter(workspace_id=self.bot.workspace_id, pk=slot.credential_id).first()
        if stored is None:
            return dump(slot.value)
        try:
            return decrypt_secret(stored.value_encrypted)
        except SecretUnreadable:
            return ""

    def _taken(self, name: str) -> bool:
        # Folded by the database, as the unique index on LOWER(name) folds it.
        same = self.credentials.objects.filter(workspace_id=self.bot.workspace_id).annotate(folded=Lower("name"))
        return bool(same.filter(folded=Lower(Value(name))).exists())

    def _create(self, name: str, kind: str, value: str) -> str:
        base = name[: MAX_NAME_LENGTH - 8] or "secret"
        unique, counter = base, 1
        while self._taken(unique):
            counter += 1
            unique = f"{base} ({counter})"
        credential = self.credentials.objects.create(
            workspace_id=self.bot.workspace_id,
            name=unique,
            kind=kind if kind in KINDS else "secret",
            value_encrypted=encrypt_secret(value),
            value_hint=mask_secret(value),
            created_by_id=self.bot.created_by_id,
        )
        return str(credential.pk)


def _each_graph(apps: Any, replace_for: Callable[[_BotSecrets], Callable[..., Any]]) -> None:
    Bot = apps.get_model("bots", "Bot")
    BotVersion = apps.get_model("bots", "BotVersion")
    Run = apps.get_model("conversations", "Run")
    for bot in Bot.objects.order_by("created_at").iterator():
        secrets = _BotSecrets(apps, bot)
        replace = replace_for(secrets)
        draft = _rewrite(bot.draft, replace)
        if draft is not bot.draft:
            Bot.objects.filter(pk=bot.pk).update(draft=draft)
        for version in BotVersion.objects.filter(bot_id=bot.pk).order_by("number").iterator():
            graph = _rewrite(version.graph, replace)
            if graph is not version.graph:
                BotVersion.objects.filter(pk=version.pk).update(graph=graph, checksum=graph_checksum(graph))
        for run in Run.objects.filter(bot_id=bot.pk, graph__isnull=False).only("pk", "graph").iterator():
            graph = _rewrite(run.graph, replace)
            if graph is not run.graph:
                Run.objects.filter(pk=run.pk).update(graph=graph)


def graph_secrets_to_credentials(apps: Any, schema_editor: Any) -> None:
    _each_graph(apps, lambda secrets: secrets.to_reference)


def credentials_back_into_graphs(apps: Any, schema_editor: Any) -> None:
    _each_graph(apps, lambda secrets: secrets.to_value)


class Migration(migrations.Migration):
    dependencies = [
        ("credentials", "0001_initial"),
        ("bots", "0001_initial"),
        ("conversations", "0004_message_files"),
    ]

    operations = [migrations.RunPython(graph_secrets_to_credentials, credentials_back_into_graphs, elidable=False)]
