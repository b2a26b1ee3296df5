"""A workspace's settings of a plugin: validated against the manifest's ``config_schema``, secrets
encrypted at rest and masked on the way out.

What a client sends for a secret field (``"x-secret": true``):

- the field left out, or the masked value it was shown (``"sk-…3456"``): keep the stored secret;
- ``""`` or ``null``: remove it;
- anything else: the new secret.

A secret may also sit in each item of a top-level list of objects that name themselves (the items'
``"x-key"`` field, e.g. several API sources each with its key): it is stored under the item's name
(``sources[petstore].secret``), so the rules above follow the item when the list is reordered.

Validation messages are our own, never jsonschema's: those quote the value, and the value may be
a secret.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError as SchemaViolation  # type: ignore[import-untyped]

from builder.core.crypto import SecretUnreadable, decrypt_secret, encrypt_secret, mask_secret
from builder.core.exceptions import ValidationFailed
from builder.pluginhost.manifest import Manifest
from builder.pluginhost.models import PluginInstallation

MASK_CHARACTER = "…"


@dataclass(frozen=True)
class StoredConfig:
    """What a ``PluginInstallation`` stores for a validated configuration."""

    config: dict[str, Any]
    secrets_encrypted: dict[str, str]
    secret_hints: dict[str, str]


def _without_secrets(manifest: Manifest, values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``values`` with every secret (top-level, or inside a list's items) left out."""
    plain = copy.deepcopy(dict(values))
    for slot in manifest.secret_slots(plain):
        slot.holder.pop(slot.field, None)
    return plain


def decrypted_config(manifest: Manifest, installation: PluginInstallation | None) -> dict[str, Any]:
    """The settings in clear (plain values and decrypted secrets), without defaults. Never log it."""
    if installation is None:
        return {}
    values = _without_secrets(manifest, installation.config)
    for slot in manifest.secret_slots(values):
        token = installation.secrets_encrypted.get(slot.key)
        if token:
            slot.holder[slot.field] = decrypt_secret(token)
    return values


def masked_config(manifest: Manifest, installation: PluginInstallation | None) -> dict[str, Any]:
    """The settings as every response shows them: secrets as their hint, unset ones as ``""``."""
    stored = installation.config if installation is not None else {}
    hints = installation.secret_hints if installation is not None else {}
    values = _without_secrets(manifest, stored)
    for slot in manifest.secret_slots(values):
        slot.holder[slot.field] = hints.get(slot.key, "")
    return values


def secrets_set(manifest: Manifest, installation: PluginInstallation | None) -> dict[str, bool]:
    """Whether each secret is set, by its key (``api_key``, ``sources[petstore].secret``)."""
    stored = installation.config if installation is not None else {}
    tokens = installation.secrets_encrypted if installation is not None else {}
    return {slot.key: bool(tokens.get(slot.key)) for slot in manifest.secret_slots(copy.deepcopy(dict(stored)))}


def merged_config(
    manifest: Manifest, installation: PluginInstallation | None, submitted: Mapping[str, Any]
) -> dict[str, Any]:
    """The full settings in clear after applying ``submitted`` (plain fields replace, secrets as above;
    a secret inside a list's item is matched by the item's name, so reordering the list keeps it)."""
    current = decrypted_config(manifest, installation)
    current_secrets = {
        slot.key: slot.holder[slot.field] for slot in manifest.secret_slots(current) if slot.field in slot.holder
    }
    hints = installation.secret_hints if installation is not None else {}
    values = copy.deepcopy(dict(submitted))
    errors: dict[str, list[str]] = {}
    for slot in manifest.secret_slots(values):
        if slot.field not in slot.holder:
            if slot.key in current_secrets:
                slot.holder[slot.field] = current_secrets[slot.key]
            continue
        value = slot.holder[slot.field]
        if value is None or value == "":
            del slot.holder[slot.field]
        elif not isinstance(value, str):
            errors[slot.where] = [_("Enter a value of type %(type)s.") % {"type": "string"}]
        elif slot.key in current_secrets and value == hints.get(slot.key):
            slot.holder[slot.field] = current_secrets[slot.key]
        elif MASK_CHARACTER in value:
            # A mask that is not the stored secret's: a stale form. Storing it would lose the key.
            errors[slot.where] = [_("Enter the secret again: this is a masked value, not the secret.")]
    if errors:
        raise ValidationFailed(fields=errors)
    return values


def _violation_message(error: SchemaViolation) -> str:
    keyword = str(error.validator)
    limit = error.validator_value
    if keyword == "type":
        kinds = limit if isinstance(limit, list) else [limit]
        return _("Enter a value of type %(type)s.") % {"type": " or ".join(str(kind) for kind in kinds)}
    if keyword in ("enum", "const"):
        choices = limit if isinstance(limit, list) else [limit]
        return _("Choose one of: %(choices)s.") % {"choices": ", ".join(str(choice) for choice in choices)}
    if keyword == "minLength":
        return _("Enter at least %(count)s characters.") % {"count": limit}
    if keyword == "maxLength":
        return _("Enter at most %(count)s characters.") % {"count": limit}
    if keyword in ("minimum", "exclusiveMinimum"):
        return _("Enter a number of at least %(limit)s.") % {"limit": limit}
    if keyword in ("maximum", "exclusiveMaximum"):
        return _("Enter a number of at most %(limit)s.") % {"limit": limit}
    if keyword in ("pattern", "format"):
        return _("This value does not have the expected format.")
    return _("This value is invalid.")


def validate_config(manifest: Manifest, values: Mapping[str, Any]) -> None:
    """Raise ``ValidationFailed`` with messages per field unless ``values`` fit the config schema."""
    validator = Draft202012Validator(manifest.config_schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    fields: dict[str, list[str]] = {}
    for error in validator.iter_errors(dict(values)):
        path = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, Mapping):
            for name in error.validator_value:
                if name not in error.instance:
                    fields.setdefault(f"{path}.{name}" if path else name, []).append(_("This field is required."))
        elif error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            known = set(error.schema.get("properties", {}))
            for name in error.instance:
                if name not in known:
                    fields.setdefault(f"{path}.{name}" if path else name, []).append(_("Unknown field."))
        else:
            fields.setdefault(path, []).append(_violation_message(error))
    for name, key in manifest.keyed_lists.items():
        items = values.get(name)
        names = [item.get(key) for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []
        for index, item_name in enumerate(names):
            if isinstance(item_name, str) and item_name in names[:index]:
                fields.setdefault(f"{name}.{index}.{key}", []).append(_("Another item has this name already."))
    if fields:
        raise ValidationFailed(_("The plugin's settings are invalid."), fields=fields)


def stored_config(manifest: Manifest, values: Mapping[str, Any]) -> StoredConfig:
    """Split validated settings into what the row stores: plain values, ciphertexts and hints."""
    plain = _without_secrets(manifest, values)
    slots = manifest.secret_slots(copy.deepcopy(dict(values)))
    secrets = {slot.key: str(slot.holder[slot.field]) for slot in slots if slot.holder.get(slot.field)}
    return StoredConfig(
        config=plain,
        secrets_encrypted={name: encrypt_secret(value) for name, value in secrets.items()},
        secret_hints={name: mask_secret(value) for name, value in secrets.items()},
    )


def is_configured(manifest: Manifest, installation: PluginInstallation | None) -> bool:
    """Whether the stored settings satisfy the schema (its required fields are set)."""
    try:
        validate_config(manifest, decrypted_config(manifest, installation))
    except (ValidationFailed, SecretUnreadable):
        return False
    return True
