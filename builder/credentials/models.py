from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from builder.accounts.models import User, Workspace
from builder.core.models import BaseModel


class CredentialKind(models.TextChoices):
    TOKEN = "token", _("Token")
    PASSWORD = "password", _("Password")
    API_KEY = "api_key", _("API key")
    SECRET = "secret", _("Other secret")


class Credential(BaseModel):
    """A secret that bot graphs reference as ``{"credential": "<id>"}`` (an http node's token, a
    secret header), so the graph itself never holds it (DESIGN.md §7).

    The value is stored encrypted (``builder.core.crypto``) and only ever shown masked
    (``value_hint``); runs of the workspace's bots decrypt it when a node sends it.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="credentials")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=CredentialKind.choices, default=CredentialKind.TOKEN)
    value_encrypted = models.TextField()
    value_hint = models.CharField(_("value"), max_length=32, blank=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), "workspace", name="unique_credential_name")]
        verbose_name = _("credential")
        verbose_name_plural = _("credentials")

    def __str__(self) -> str:
        return self.name
