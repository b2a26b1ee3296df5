"""Writes for model providers: create, update, delete, check the connection.

Admins manage providers (they hold the keys); editors only list them to pick models.
"""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.translation import gettext as _
from pydantic import ValidationError

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, actor_user, check_workspace_permission
from builder.accounts.roles import Action
from builder.core.crypto import decrypt_secret, encrypt_secret, mask_secret
from builder.core.exceptions import ValidationFailed
from builder.core.messages import translated_message
from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import NodeError
from builder.llm.clients import ConnectionCheck, ProviderSettings, check_connection
from builder.llm.models import ModelProvider
from builder.llm.plugin_providers import ProviderUnavailable, kind_info, provider_kinds, usable_plugin_kind
from builder.llm.providers import DEFAULT_BASE_URLS, JSON_SCHEMA_BY_DEFAULT, PRESETS, ModelInfo, ProviderKind
from builder.llm.selectors import workspace_enabled_plugins
from builder.sdk.providers import ModelProviderSpec

UPDATABLE_FIELDS = (
    "name",
    "kind",
    "preset",
    "base_url",
    "api_key",
    "models",
    "default_model",
    "is_default",
    "timeout_s",
)
# Service and API say "models"; the column is model_list (``models`` would shadow django.db.models).
_COLUMNS = {"models": "model_list"}
MAX_TIMEOUT_S = 600
MAX_MODELS = 200
_url_validator = URLValidator(schemes=["http", "https"])


def provider_settings(provider: ModelProvider) -> ProviderSettings:
    """How to reach the provider, with its key decrypted (never log the result).

    Raises ``ProviderUnavailable`` for a plugin's kind whose plugin is gone or not enabled in the
    workspace (asked of the database unless the row was loaded knowing it: ``plugin_enabled``).
    """
    plugin = None
    if provider.kind not in ProviderKind.values:

        def enabled(plugin_id: str) -> bool:
            if provider.plugin_enabled is not None:
                return provider.plugin_enabled
            return plugin_id in workspace_enabled_plugins(workspace_id=provider.workspace_id)

        plugin = usable_plugin_kind(provider.kind, enabled=enabled)
    return ProviderSettings(
        kind=provider.kind,
        base_url=provider.base_url,
        api_key=decrypt_secret(provider.api_key_encrypted),
        timeout_s=float(provider.timeout_s),
        allow=_allow_list(),
        plugin=plugin,
    )


def _allow_list() -> tuple[str, ...]:
    return tuple(django_settings.AGENTLOOM_HTTP_ALLOWLIST)


def _base_url_refusal(kind: str, base_url: str) -> str | None:
    """Why the SSRF policy refuses the address ``base_url`` (or the kind's default) resolves to now.

    The same policy as bots' HTTP: private, loopback and link-local addresses only through the
    allow-list. Checked again on every call (builder/llm/http_clients.py): DNS can change. A name
    that does not resolve today is no reason to refuse.
    """
    target = base_url or DEFAULT_BASE_URLS.get(kind, "")
    if not target:
        return None
    try:
        SsrfSafeHttpClient(allow=_allow_list()).vet_sync(httpx.URL(target))
    except NodeError as error:
        if error.code == "http_error":
            return None
        return translated_message(error.message, error.details.get("template"), error.details.get("params"))
    except (httpx.InvalidURL, ValueError):
        return None  # the URL validator says what is wrong with it
    return None


def _unknown_kind() -> str:
    accepted = ", ".join(info.kind for info in provider_kinds())
    return _("Unknown provider kind. Choose one of: %(kinds)s.") % {"kinds": accepted}


def _clean_models(raw: Any, kind: str, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        errors["models"] = [_("Give a list of models.")]
        return []
    if len(raw) > MAX_MODELS:
        errors["models"] = [_("A provider lists at most %(max)s models.") % {"max": MAX_MODELS}]
        return []
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        try:
            info = ModelInfo.model_validate(item)
        except ValidationError as exc:
            for problem in exc.errors():
                where = ".".join(str(part) for part in ("models", index, *problem["loc"]))
                errors.setdefault(where, []).append(_("This value is invalid."))
            continue
        if info.name in seen:
            errors.setdefault(f"models.{index}.name", []).append(_("This model is listed twice."))
        seen.add(info.name)
        if info.json_schema is None:
            info.json_schema = JSON_SCHEMA_BY_DEFAULT.get(kind, False)
        cleaned.append(info.model_dump())
    return cleaned


def _clean(fields: dict[str, Any], *, workspace: Workspace, instance: ModelProvider | None) -> dict[str, Any]:
    """Validate a full set of provider fields (the update merges them onto the instance first)."""
    errors: dict[str, list[str]] = {}
    name = str(fields.get("name") or "").strip()
    if not name:
        errors["name"] = [_("This field may not be blank.")]
    elif len(name) > 64:
        errors["name"] = [_("Ensure this field has no more than 64 characters.")]
    else:
        clash = ModelProvider.objects.filter(workspace=workspace, name__iexact=name)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors["name"] = [_("This workspace already has a model provider with this name.")]
    kind = str(fields.get("kind") or "")
    info = kind_info(kind)
    # A provider keeps its kind while the plugin that adds it is away (its runs say why they fail).
    if info is None and (instance is None or kind != instance.kind):
        errors["kind"] = [_unknown_kind()]
        raise ValidationFailed(fields=errors)

    preset_key = str(fields.get("preset") or "")
    preset = PRESETS.get(preset_key)
    if preset_key and (preset is None or kind != ProviderKind.OPENAI_COMPATIBLE):
        errors["preset"] = [_("Unknown preset for this kind of provider.")]
    base_url = str(fields.get("base_url") or "").strip().rstrip("/")
    if not base_url and preset is not None:
        base_url = preset.base_url
    if base_url:
        try:
            _url_validator(base_url)
        except DjangoValidationError:
            errors["base_url"] = [_("Enter an http or https URL.")]
    elif kind == ProviderKind.OPENAI_COMPATIBLE:
        errors["base_url"] = [_("An OpenAI-compatible provider needs the URL of its API.")]
    if "base_url" not in errors and (refusal := _base_url_refusal(kind, base_url)):
        errors["base_url"] = [refusal]

    has_key = bool(fields.get("api_key_encrypted"))
    key_required = (info is not None and info.key_required) or (preset is not None and preset.key_required)
    if key_required and not has_key:
        errors["api_key"] = [_("This provider needs an API key.")]

    raw_models = fields.get("models")
    if not raw_models and preset is not None and instance is None:
        raw_models = [info.model_dump() for info in preset.models]
    models = _clean_models(raw_models or [], kind, errors)
    default_model = str(fields.get("default_model") or "").strip()
    if default_model and models and default_model not in {item["name"] for item in models}:
        errors["default_model"] = [_("The default model must be one of the listed models.")]

    timeout_s = fields.get("timeout_s", 60)
    if not isinstance(timeout_s, int) or isinstance(timeout_s, bool) or not 1 <= timeout_s <= MAX_TIMEOUT_S:
        errors["timeout_s"] = [_("Give a whole number of seconds between 1 and %(max)s.") % {"max": MAX_TIMEOUT_S}]
    if errors:
        raise ValidationFailed(fields=errors)
    return {
        "name": name,
        "kind": kind,
        "preset": preset_key,
        "base_url": base_url,
        "model_list": models,
        "default_model": default_model,
        "is_default": bool(fields.get("is_default")),
        "timeout_s": timeout_s,
    }


def _secret_fields(api_key: str) -> dict[str, str]:
    api_key = api_key.strip()
    return {"api_key_encrypted": encrypt_secret(api_key), "api_key_hint": mask_secret(api_key)}


def _save(provider: ModelProvider, cleaned: dict[str, Any]) -> ModelProvider:
    for name, value in cleaned.items():
        setattr(provider, name, value)
    others = ModelProvider.objects.filter(workspace=provider.workspace).exclude(pk=provider.pk)
    if not provider.is_default and not others.exists():
        # The first provider of a workspace is its default: bots work without another step.
        provider.is_default = True
    if provider.is_default:
        others.filter(is_default=True).update(is_default=False)
    provider.save()
    return provider


@transaction.atomic
def model_provider_create(
    *,
    actor: Actor,
    workspace: Workspace,
    name: str,
    kind: str,
    preset: str = "",
    base_url: str = "",
    api_key: str = "",
    models: list[dict[str, Any]] | None = None,
    default_model: str = "",
    is_default: bool = False,
    timeout_s: int = 60,
) -> ModelProvider:
    """Add a provider. With an OpenAI-compatible ``preset`` the URL and models may be left out."""
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.MODEL_PROVIDERS_MANAGE)
    secret = _secret_fields(api_key)
    fields = {
        "name": name,
        "kind": kind,
        "preset": preset,
        "base_url": base_url,
        "models": models or [],
        "default_model": default_model,
        "is_default": is_default,
        "timeout_s": timeout_s,
        **secret,
    }
    cleaned = _clean(fields, workspace=workspace, instance=None)
    provider = ModelProvider(workspace=workspace, created_by=actor_user(actor), **secret)
    return _save(provider, cleaned)


@transaction.atomic
def model_provider_update(*, actor: Actor, provider: ModelProvider, **changes: Any) -> ModelProvider:
    """Change some fields. ``api_key``: leave it out to keep the stored key, ``""`` to remove it."""
    check_workspace_permission(actor=actor, workspace=provider.workspace, action=Action.MODEL_PROVIDERS_MANAGE)
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ValidationFailed(fields={name: [_("Unknown field.")] for name in sorted(unknown)})
    current = ModelProvider.objects.select_for_update().get(pk=provider.pk)
    secret = {"api_key_encrypted": current.api_key_encrypted, "api_key_hint": current.api_key_hint}
    if "api_key" in changes and changes["api_key"] is not None:
        secret = _secret_fields(str(changes.pop("api_key")))
    changes.pop("api_key", None)
    fields = {name: getattr(current, _COLUMNS.get(name, name)) for name in UPDATABLE_FIELDS if name != "api_key"}
    fields |= changes | secret
    cleaned = _clean(fields, workspace=current.workspace, instance=current)
    for name, value in secret.items():
        setattr(current, name, value)
    return _save(current, cleaned)


@transaction.atomic
def model_provider_delete(*, actor: Actor, provider: ModelProvider) -> None:
    """Remove a provider. Nodes that named it fail with ``not_configured`` until repointed."""
    check_workspace_permission(actor=actor, workspace=provider.workspace, action=Action.MODEL_PROVIDERS_MANAGE)
    was_default = provider.is_default
    workspace = provider.workspace
    provider.delete()
    if was_default:
        # Keep the workspace with a default while it has providers.
        successor = ModelProvider.objects.filter(workspace=workspace).order_by("created_at").first()
        if successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default", "updated_at"])


def _model_to_check(kind: str, model: str) -> str:
    if not model and kind not in ProviderKind.values:
        raise ValidationFailed(fields={"model": [_("Name a model to check: this provider cannot list its models.")]})
    return model


def _unavailable(error: ProviderUnavailable, model: str) -> ConnectionCheck:
    return ConnectionCheck(ok=False, message=error.translated(), latency_ms=0.0, model=model)


def model_provider_check(*, actor: Actor, provider: ModelProvider, model: str = "") -> ConnectionCheck:
    """Call the saved provider for real (one token of ``model``, its default model, or its model list)."""
    check_workspace_permission(actor=actor, workspace=provider.workspace, action=Action.MODEL_PROVIDERS_MANAGE)
    model = _model_to_check(provider.kind, model or provider.effective_default_model)
    try:
        settings = provider_settings(provider)
    except ProviderUnavailable as error:
        return _unavailable(error, model)
    return check_connection(settings, model)


def model_provider_check_draft(
    *,
    actor: Actor,
    workspace: Workspace,
    kind: str,
    base_url: str = "",
    api_key: str = "",
    preset: str = "",
    model: str = "",
    timeout_s: int = 60,
) -> ConnectionCheck:
    """Check settings before saving them (the "add provider" form)."""
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.MODEL_PROVIDERS_MANAGE)
    if kind_info(kind) is None:
        raise ValidationFailed(fields={"kind": [_unknown_kind()]})
    model = _model_to_check(kind, model.strip())
    preset_info = PRESETS.get(preset)
    base_url = base_url.strip().rstrip("/") or (preset_info.base_url if preset_info else "")
    if base_url:
        try:
            _url_validator(base_url)
        except DjangoValidationError as exc:
            raise ValidationFailed(fields={"base_url": [_("Enter an http or https URL.")]}) from exc
    elif kind == ProviderKind.OPENAI_COMPATIBLE:
        raise ValidationFailed(fields={"base_url": [_("An OpenAI-compatible provider needs the URL of its API.")]})
    if refusal := _base_url_refusal(kind, base_url):
        raise ValidationFailed(fields={"base_url": [refusal]})
    plugin: ModelProviderSpec | None = None
    if kind not in ProviderKind.values:
        enabled = workspace_enabled_plugins(workspace_id=workspace.pk)
        try:
            plugin = usable_plugin_kind(kind, enabled=enabled.__contains__)
        except ProviderUnavailable as error:
            return _unavailable(error, model)
    settings = ProviderSettings(
        kind=kind,
        base_url=base_url,
        api_key=api_key.strip(),
        timeout_s=float(timeout_s),
        allow=_allow_list(),
        plugin=plugin,
    )
    return check_connection(settings, model)
