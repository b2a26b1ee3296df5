"""Writes for workspace credentials: values go in encrypted and never come out (masked hint only)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from builder.accounts.models import User, Workspace
from builder.accounts.permissions import Actor, actor_user, check_workspace_permission
from builder.accounts.roles import Action
from builder.core.crypto import encrypt_secret, mask_secret
from builder.core.exceptions import ValidationFailed
from builder.credentials.models import Credential, CredentialKind
from builder.engine.secrets import MAX_SECRET_LENGTH, looks_masked

MAX_NAME_LENGTH = 200
# As long as a secret field of a graph may be, so every secret typed into a graph fits.
MAX_VALUE_LENGTH = MAX_SECRET_LENGTH


def _clean_name(name: str, *, workspace: Workspace, instance: Credential | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(fields={"name": [_("This field may not be blank.")]})
    if len(name) > MAX_NAME_LENGTH:
        message = _("Ensure this field has no more than %(count)d characters.") % {"count": MAX_NAME_LENGTH}
        raise ValidationFailed(fields={"name": [message]})
    if _name_taken(workspace, name, instance=instance):
        raise _name_exists()
    return name


def _name_taken(workspace: Workspace, name: str, *, instance: Credential | None = None) -> bool:
    # Folded by the database, as the unique index folds it (SQLite's LOWER() leaves "Ü" as it is).
    same = Credential.objects.filter(workspace=workspace).annotate(folded=Lower("name"))
    same = same.filter(folded=Lower(Value(name)))
    if instance is not None:
        same = same.exclude(pk=instance.pk)
    return bool(same.exists())


def _name_exists() -> ValidationFailed:
    return ValidationFailed(fields={"name": [_("A credential with this name exists already.")]})


def _saved(credential: Credential) -> Credential:
    """Save; a name taken meanwhile by a concurrent request is the same 400 as one taken before."""
    try:
        with transaction.atomic():
            credential.save()
    except IntegrityError:
        raise _name_exists() from None
    return credential


def _clean_kind(kind: str) -> str:
    if kind not in CredentialKind.values:
        raise ValidationFailed(fields={"kind": [_("Unknown kind.")]})
    return kind


def _secret_fields(value: str) -> dict[str, str]:
    if not value:
        raise ValidationFailed(fields={"value": [_("This field may not be blank.")]})
    if len(value) > MAX_VALUE_LENGTH:
        message = _("Ensure this field has no more than %(count)d characters.") % {"count": MAX_VALUE_LENGTH}
        raise ValidationFailed(fields={"value": [message]})
    if looks_masked(value):
        # A mask stored as the secret would lose the secret: a stale form sent back what it was shown.
        raise ValidationFailed(fields={"value": [_("Enter the secret again: this is a masked value, not the secret.")]})
    return {"value_encrypted": encrypt_secret(value), "value_hint": mask_secret(value)}


@transaction.atomic
def credential_create(
    *, actor: Actor, workspace: Workspace, name: str, value: str, kind: str = CredentialKind.TOKEN
) -> Credential:
    """Add a credential that bots of the workspace may reference."""
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.CREDENTIALS_MANAGE)
    credential = Credential(
        workspace=workspace,
        name=_clean_name(name, workspace=workspace, instance=None),
        kind=_clean_kind(kind),
        created_by=actor_user(actor),
        **_secret_fields(value),
    )
    return _saved(credential)


@transaction.atomic
def credential_update(
    *, actor: Actor, credential: Credential, name: str | None = None, kind: str | None = None, value: str | None = None
) -> Credential:
    """Rename, re-kind or replace the value. A value left out, or the masked hint sent back, keeps
    the stored one. Bots that reference the credential send the new value from their next run."""
    check_workspace_permission(actor=actor, workspace=credential.workspace, action=Action.CREDENTIALS_MANAGE)
    current = Credential.objects.select_for_update().get(pk=credential.pk)
    if name is not None:
        current.name = _clean_name(name, workspace=current.workspace, instance=current)
    if kind is not None:
        current.kind = _clean_kind(kind)
    if value is not None and value != current.value_hint:
        for field, stored in _secret_fields(value).items():
            setattr(current, field, stored)
    return _saved(current)


def credential_delete(*, actor: Actor, credential: Credential) -> None:
    """Remove a credential. Nodes that reference it fail with ``credential_missing`` until given another."""
    check_workspace_permission(actor=actor, workspace=credential.workspace, action=Action.CREDENTIALS_MANAGE)
    credential.delete()


def credential_store(*, workspace: Workspace, name: str, kind: str, value: str, created_by: User | None) -> Credential:
    """A new credential for a secret typed into a graph (the caller checked the bot): named
    ``name``, or ``name (2)``… when that name is taken."""
    base = name.strip()[: MAX_NAME_LENGTH - 8] or "secret"
    unique, counter = base, 1
    while _name_taken(workspace, unique):
        counter += 1
        unique = f"{base} ({counter})"
    kind = kind if kind in CredentialKind.values else CredentialKind.SECRET
    return Credential.objects.create(
        workspace=workspace, name=unique, kind=kind, created_by=created_by, **_secret_fields(value)
    )
