"""Writes for bots: create, edit the draft (optimistic concurrency), publish, roll back, share."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from builder.accounts.models import Membership, User, Workspace
from builder.accounts.permissions import Actor, actor_user, check_workspace_permission
from builder.accounts.roles import Action, BotRole
from builder.bots.drafts import graph_checksum, starter_graph
from builder.bots.graph_errors import graph_invalid_error
from builder.bots.models import Bot, BotGrant, BotVersion, Visibility
from builder.bots.permissions import check_bot_permission
from builder.bots.references import check_graph_references
from builder.bots.secrets import graph_secured
from builder.core.exceptions import Conflict, NotFound, ValidationFailed
from builder.engine.dsl import GraphInvalid, GraphProblem, find_problems, parse_graph, validate_graph
from builder.pluginhost.node_types import ensure_loaded as ensure_plugin_node_types

BOT_FIELDS = ("name", "description", "icon", "visibility")


def _clean_metadata(fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            errors["name"] = [_("This field may not be blank.")]
        elif len(fields["name"]) > 100:
            errors["name"] = [_("Ensure this field has no more than 100 characters.")]
    if "visibility" in fields and fields["visibility"] not in Visibility.values:
        errors["visibility"] = [_("Unknown visibility.")]
    if errors:
        raise ValidationFailed(fields=errors)
    return fields


def _parse_document(document: Any, *, field: str = "draft") -> list[GraphProblem]:
    """Structural errors refuse the save (400); the graph-level problems found are returned."""
    ensure_plugin_node_types()
    try:
        graph = parse_graph(document)
    except GraphInvalid as exc:
        raise graph_invalid_error(exc.problems, field_prefix=field) from exc
    return find_problems(graph)


@transaction.atomic
def bot_create(
    *,
    actor: Actor,
    workspace: Workspace,
    name: str,
    description: str = "",
    icon: str = "",
    visibility: str = Visibility.WORKSPACE,
    draft: dict[str, Any] | None = None,
    draft_field: str = "draft",
) -> tuple[Bot, list[GraphProblem]]:
    """A new bot, from ``draft`` or the starter graph; returns it with its draft's problems.

    ``draft_field`` names the draft in errors (an imported file calls it ``graph``).
    """
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.BOT_CREATE)
    fields = _clean_metadata({"name": name, "description": description, "icon": icon, "visibility": visibility})
    document = draft if draft is not None else starter_graph()
    problems = _parse_document(document, field=draft_field)
    check_graph_references(actor=actor, workspace=workspace, document=document, field=draft_field)
    document = graph_secured(
        actor=actor, workspace=workspace, document=document, label=fields["name"], field=draft_field
    )
    user = actor_user(actor)
    bot = Bot.objects.create(workspace=workspace, draft=document, created_by=user, draft_updated_by=user, **fields)
    return bot, problems


def bot_update(*, actor: Actor, bot: Bot, **fields: Any) -> Bot:
    """Edit name, description, icon or visibility (not versioned: they label the bot)."""
    unknown = set(fields) - set(BOT_FIELDS)
    if unknown:
        raise ValidationFailed(fields={name: [_("Unknown field.")] for name in sorted(unknown)})
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_EDIT)
    if "visibility" in fields:
        # Hiding a bot from colleagues is a sharing decision.
        check_bot_permission(actor=actor, bot=bot, action=Action.BOT_SHARE)
    for name, value in _clean_metadata(fields).items():
        setattr(bot, name, value)
    bot.save()
    return bot


@transaction.atomic
def bot_draft_save(*, actor: Actor, bot: Bot, draft: dict[str, Any], revision: int) -> tuple[Bot, list[GraphProblem]]:
    """Save the canvas. ``revision`` is the one the editor loaded; a stale one gets 409.

    A structurally broken document is refused. A well-formed graph that is not yet runnable
    (a node not connected yet, say) is saved, so autosave never loses work, and its problems are
    returned; publishing refuses them.
    """
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_EDIT)
    problems = _parse_document(draft)
    current = Bot.objects.select_for_update().get(pk=bot.pk)
    if current.draft_revision != revision:
        raise Conflict(
            _("Someone else saved this bot since you loaded it. Reload to see their changes."),
            code="stale_revision",
            extra={"current_revision": current.draft_revision},
        )
    check_graph_references(actor=actor, workspace=current.workspace, document=draft, previous=current.draft)
    current.draft = graph_secured(actor=actor, workspace=current.workspace, document=draft, bot=current)
    current.draft_revision = revision + 1
    current.draft_updated_at = timezone.now()
    current.draft_updated_by = actor_user(actor)
    current.save(update_fields=["draft", "draft_revision", "draft_updated_at", "draft_updated_by", "updated_at"])
    return current, problems


@transaction.atomic
def bot_publish(*, actor: Actor, bot: Bot, note: str = "") -> BotVersion:
    """Freeze the current draft as a new immutable version and make it live.

    Publishing an unchanged draft returns the latest version instead of a duplicate.
    """
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_PUBLISH)
    current = Bot.objects.select_for_update().get(pk=bot.pk)
    ensure_plugin_node_types()
    try:
        validate_graph(current.draft)
    except GraphInvalid as exc:
        raise graph_invalid_error(exc.problems) from exc
    # Its runs trust what it references: the publisher must be allowed to use all of it.
    check_graph_references(actor=actor, workspace=current.workspace, document=current.draft)
    checksum = graph_checksum(current.draft)
    latest = current.versions.order_by("-number").first()
    if (
        latest is not None
        and latest.checksum == checksum
        and (latest.name, latest.description, latest.icon)
        == (
            current.name,
            current.description,
            current.icon,
        )
    ):
        version = latest
    else:
        number = (current.versions.aggregate(top=Max("number"))["top"] or 0) + 1
        version = BotVersion.objects.create(
            bot=current,
            number=number,
            name=current.name,
            description=current.description,
            icon=current.icon,
            graph=current.draft,
            checksum=checksum,
            note=note[:500],
            created_by=actor_user(actor),
        )
    current.live_version = version
    current.save(update_fields=["live_version", "updated_at"])
    return version


def bot_rollback(*, actor: Actor, bot: Bot, version: BotVersion) -> Bot:
    """Serve an earlier version again. The draft is left as it is."""
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_PUBLISH)
    if version.bot_id != bot.pk:
        raise NotFound(_("Version not found."))
    check_graph_references(actor=actor, workspace=bot.workspace, document=version.graph, field="graph")
    bot.live_version = version
    bot.save(update_fields=["live_version", "updated_at"])
    return bot


def bot_version_restore(*, actor: Actor, bot: Bot, version: BotVersion, revision: int) -> Bot:
    """Copy a version's graph into the draft (same optimistic concurrency as a save)."""
    if version.bot_id != bot.pk:
        raise NotFound(_("Version not found."))
    restored, _problems = bot_draft_save(actor=actor, bot=bot, draft=version.graph, revision=revision)
    return restored


def bot_delete(*, actor: Actor, bot: Bot) -> None:
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_DELETE)
    # The database drops the bot's memories with it; the search index's copies go first.
    from builder.memory.services import bot_memory_delete

    bot_memory_delete(bot=bot)
    bot.delete()


def bot_grant_set(*, actor: Actor, bot: Bot, user: User, role: str) -> BotGrant:
    """Share a bot with a member as editor or viewer, whatever their workspace role."""
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_SHARE)
    if role not in BotRole.values:
        raise ValidationFailed(fields={"role": [_("A bot can be shared as editor or viewer.")]})
    if not Membership.objects.filter(workspace_id=bot.workspace_id, user=user).exists():
        raise ValidationFailed(fields={"user": [_("Only members of the workspace can be given access to a bot.")]})
    grant, _created = BotGrant.objects.update_or_create(
        bot=bot, user=user, defaults={"role": role, "granted_by": actor_user(actor)}
    )
    return grant


def bot_grant_remove(*, actor: Actor, bot: Bot, user: User) -> None:
    check_bot_permission(actor=actor, bot=bot, action=Action.BOT_SHARE)
    deleted, _detail = BotGrant.objects.filter(bot=bot, user=user).delete()
    if not deleted:
        raise NotFound(_("This person has no access of their own to this bot."))
