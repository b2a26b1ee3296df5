from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from builder.accounts.models import User, Workspace
from builder.accounts.roles import BotRole
from builder.core.models import BaseModel


class Visibility(models.TextChoices):
    WORKSPACE = "workspace", _("Everyone in the workspace")
    PRIVATE = "private", _("Only admins, its creator and people it is shared with")


class Bot(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="bots")
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    icon = models.CharField(_("icon"), max_length=512, blank=True, help_text=_("An emoji or an image URL."))
    visibility = models.CharField(
        _("visibility"), max_length=16, choices=Visibility.choices, default=Visibility.WORKSPACE
    )
    # The DSL document (DESIGN.md §3): graph, variables and settings (persona, model, opening
    # message, suggested questions). Saved as the canvas sends it; validated in services.
    draft: models.JSONField[Any, Any] = models.JSONField(_("draft"), default=dict)
    # Bumped on every draft write: the optimistic-concurrency token editors send back.
    draft_revision = models.PositiveIntegerField(default=1)
    draft_updated_at = models.DateTimeField(auto_now_add=True)
    draft_updated_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    # The version that published channels serve; rollback points it at an older one.
    live_version = models.ForeignKey("BotVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("bot")
        verbose_name_plural = _("bots")

    def __str__(self) -> str:
        return self.name


class BotVersion(BaseModel):
    """An immutable snapshot of the draft (graph + settings) taken at publish time."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("number"))
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    icon = models.CharField(_("icon"), max_length=512, blank=True)
    graph: models.JSONField[Any, Any] = models.JSONField(_("graph"))
    checksum = models.CharField(max_length=64)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["bot", "number"], name="unique_bot_version_number")]
        verbose_name = _("bot version")
        verbose_name_plural = _("bot versions")

    def __str__(self) -> str:
        return f"{self.bot_id} v{self.number}"


class BotGrant(BaseModel):
    """Per-bot sharing: gives a member a role on one bot, above or below their workspace role."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="bot_grants")
    role = models.CharField(_("role"), max_length=16, choices=BotRole.choices)
    granted_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bot", "user"], name="unique_bot_grant")]
        ordering = ["created_at"]
        verbose_name = _("bot grant")
        verbose_name_plural = _("bot grants")

    def __str__(self) -> str:
        return f"{self.user} on {self.bot} ({self.role})"
