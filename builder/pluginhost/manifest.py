"""``manifest.json``: what a plugin says about itself, checked before any of its code runs.

The manifest sits next to the module the entry point names (``plugins/<id>/manifest.json`` for a
built-in). The host then checks ``provides`` against what the hooks really register, and the
``permissions`` against what the plugin does (long-running tools, webhooks, the hosts it calls).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

# No stubs are pinned for jsonschema (tests/engine ignores its types the same way).
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from builder.sdk.execution import field_errors
from builder.sdk.markers import SDK_VERSION

MANIFEST_FILE: Final = "manifest.json"
SECRET_KEY: Final = "x-secret"
# On the items schema of a list of objects: the field naming each item (unique in the list). The
# items' own secrets are stored under that name, so reordering the list keeps them with their item.
ITEM_KEY: Final = "x-key"
# An id is also a Python package name under plugins/ and part of URLs.
PLUGIN_ID: Final = re.compile(r"^[a-z][a-z0-9_]{1,63}$")

PluginId = Annotated[str, StringConstraints(pattern=PLUGIN_ID.pattern)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_\-]{0,31}$")]
# A network permission: "api.example.com", "*.example.com" (any subdomain), "*" (any public host),
# or "config:<field>": the host of the URL in that field of the workspace's settings (an endpoint
# the user chooses), which is looked up each time the plugin's HTTP client is built.
CONFIG_HOST: Final = "config:"
NetworkPermission = Annotated[
    str,
    StringConstraints(
        pattern=r"^(\*|(\*\.)?[a-z0-9]([a-z0-9\-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9\-]*[a-z0-9])?)*"
        r"|config:[A-Za-z_][A-Za-z0-9_\-]{0,99})$"
    ),
]
Version = Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+([.\-+][0-9A-Za-z.\-+]*)?$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unique(values: list[str]) -> list[str]:
    twice = sorted({value for value in values if values.count(value) > 1})
    if twice:
        raise ValueError(f"listed twice: {', '.join(twice)}")
    return values


class Provides(_Strict):
    """What the hooks register; the host refuses a plugin whose hooks register anything else."""

    tools: list[Name] = Field(default_factory=list, max_length=200)
    providers: list[Name] = Field(default_factory=list, max_length=50)
    node_types: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")]] = Field(
        default_factory=list, max_length=50
    )
    # Tool sets (register_toolsets): tools listed per workspace from its settings.
    toolsets: list[Name] = Field(default_factory=list, max_length=20)

    _unique_names = field_validator("tools", "providers", "node_types", "toolsets")(_unique)


class Permissions(_Strict):
    """What the plugin may do: the hosts its HTTP requests go to, long-running jobs, webhooks."""

    network: list[NetworkPermission] = Field(default_factory=list, max_length=100)
    long_running: bool = False
    webhooks: bool = False

    @property
    def config_hosts(self) -> list[str]:
        """The settings fields named by ``config:<field>``: their URLs' hosts are allowed too."""
        return [entry.removeprefix(CONFIG_HOST) for entry in self.network if entry.startswith(CONFIG_HOST)]


class Manifest(_Strict):
    id: PluginId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""
    # An emoji, an https URL, or a file name inside the plugin's package.
    icon: Annotated[str, StringConstraints(max_length=500)] = ""
    version: Version
    sdk_version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+$")]
    categories: list[Slug] = Field(default_factory=list, max_length=10)
    provides: Provides = Field(default_factory=Provides)
    # The JSON Schema of the workspace's settings (an object); "x-secret": true on a top-level
    # string property encrypts it at rest and masks it in every response. So it does on a string
    # property of the items of a top-level list whose items name themselves ("x-key": "name"):
    # several API sources, each with its own key.
    config_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    permissions: Permissions = Field(default_factory=Permissions)

    @field_validator("config_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            raise ValueError(f"not a valid JSON Schema: {error.message}") from None
        if schema.get("type") != "object":
            raise ValueError('the settings are an object: give "type": "object"')
        properties = schema.get("properties", {})
        for name, field in properties.items():
            if isinstance(field, dict) and field.get(SECRET_KEY) and field.get("type") != "string":
                raise ValueError(f'{name}: only "type": "string" properties can be "x-secret"')
            for item_field in _item_secrets(field):
                if _keyed_items(field) is None:
                    raise ValueError(
                        f'{name}: a list whose items have "x-secret" fields names each item: give its items '
                        f'"{ITEM_KEY}": "<a required string property>"'
                    )
                if field["items"]["properties"][item_field].get("type") != "string":
                    raise ValueError(f'{name}.items.{item_field}: only "type": "string" properties can be "x-secret"')
        nested = _nested_secrets({k: v for k, v in schema.items() if k != "properties"})
        for name, field in properties.items():
            allowed = {f"items.properties.{item}.{SECRET_KEY}" for item in _item_secrets(field)}
            nested += [f"{name}.{path}" for path in _nested_secrets(field, top=True) if path not in allowed]
        if nested:
            raise ValueError(
                f'"x-secret" is only allowed on top-level properties, not at {", ".join(nested)} '
                f'(and on the items\' properties of a top-level list whose items have "{ITEM_KEY}")'
            )
        return schema

    @field_validator("permissions")
    @classmethod
    def _config_hosts_are_url_fields(cls, permissions: Permissions, info: ValidationInfo) -> Permissions:
        schema = info.data.get("config_schema")
        if schema is None:  # an invalid config_schema is reported on its own
            return permissions
        properties = schema.get("properties", {})
        for field in permissions.config_hosts:
            entry = f'"{CONFIG_HOST}{field}"'
            if not isinstance(properties.get(field), dict):
                known = ", ".join(properties) or "none"
                raise ValueError(f"network: {entry} names no property of config_schema (its properties: {known})")
            if properties[field].get("type") != "string":
                raise ValueError(
                    f'network: {entry} names config_schema.properties.{field}, which is not "type": "string" '
                    "(the field holds the URL whose host the plugin may call)"
                )
        return permissions

    @model_validator(mode="after")
    def _compatible_sdk(self) -> Manifest:
        if not sdk_compatible(self.sdk_version):
            raise ValueError(f"written for SDK {self.sdk_version}; this host has SDK {SDK_VERSION}")
        return self

    @property
    def secret_fields(self) -> list[str]:
        """The top-level secret fields (see ``secret_slots`` for the secrets inside lists too)."""
        properties = self.config_schema.get("properties", {})
        return [name for name, field in properties.items() if isinstance(field, dict) and field.get(SECRET_KEY)]

    @property
    def keyed_lists(self) -> dict[str, str]:
        """Top-level lists of objects named by an ``x-key`` field: list field → key field."""
        properties = self.config_schema.get("properties", {})
        return {name: key for name, field in properties.items() if (key := _keyed_items(field)) is not None}

    def secret_slots(self, values: dict[str, Any]) -> list[SecretSlot]:
        """Every place of ``values`` where a secret goes: each top-level secret field (set or not), and
        each secret field of each named item of a list (``sources[petstore].secret``)."""
        slots = [SecretSlot(key=name, where=name, holder=values, field=name) for name in self.secret_fields]
        properties = self.config_schema.get("properties", {})
        for name, key in self.keyed_lists.items():
            items = values.get(name)
            if not isinstance(items, list):
                continue
            for index, item in enumerate(items):
                if not isinstance(item, dict) or not isinstance(item.get(key), str):
                    continue
                slots += [
                    SecretSlot(
                        key=f"{name}[{item[key]}].{field}", where=f"{name}.{index}.{field}", holder=item, field=field
                    )
                    for field in _item_secrets(properties[name])
                ]
        return slots

    @property
    def config_fields(self) -> list[str]:
        return list(self.config_schema.get("properties", {}))

    def with_defaults(self, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` with the schema's top-level ``default`` values for the fields it lacks."""
        properties = self.config_schema.get("properties", {})
        defaults = {
            name: field["default"]
            for name, field in properties.items()
            if isinstance(field, dict) and "default" in field and name not in config
        }
        return {**defaults, **config}


@dataclass(frozen=True)
class SecretSlot:
    """One place of a plugin's settings where a secret goes.

    ``key``: its name in storage (``api_key``, ``sources[petstore].secret``); ``where``: its path in
    the settings, for messages (``sources.0.secret``); ``holder[field]`` is the value itself.
    """

    key: str
    where: str
    holder: dict[str, Any]
    field: str


def _keyed_items(field: Any) -> str | None:
    """The ``x-key`` field of a list of objects whose items name themselves with a required string."""
    if not isinstance(field, dict) or field.get("type") != "array" or not isinstance(field.get("items"), dict):
        return None
    items = field["items"]
    key = items.get(ITEM_KEY)
    item_properties = items.get("properties", {})
    if not isinstance(key, str) or not isinstance(item_properties.get(key), dict):
        return None
    if item_properties[key].get("type") != "string" or key not in items.get("required", []):
        return None
    return key


def _item_secrets(field: Any) -> list[str]:
    """The ``x-secret`` properties of the items of a top-level list."""
    if not isinstance(field, dict) or not isinstance(field.get("items"), dict):
        return []
    properties = field["items"].get("properties", {})
    if not isinstance(properties, dict):
        return []
    return [name for name, item in properties.items() if isinstance(item, dict) and item.get(SECRET_KEY)]


def _nested_secrets(node: Any, *, top: bool = False) -> list[str]:
    """Paths of "x-secret" keys anywhere under ``node`` (``top``: not counting node's own key)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == SECRET_KEY and not top:
                found.append(SECRET_KEY)
            elif isinstance(value, dict | list):
                found += [f"{key}.{path}" for path in _nested_secrets(value)]
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += [f"{index}.{path}" for path in _nested_secrets(value)]
    return found


def sdk_compatible(wanted: str, host: str = SDK_VERSION) -> bool:
    """Same major version, and the plugin needs no newer minor than the host has."""
    wanted_major, wanted_minor = (int(part) for part in wanted.split("."))
    host_major, host_minor = (int(part) for part in host.split("."))
    return wanted_major == host_major and wanted_minor <= host_minor


class ManifestError(ValueError):
    """A manifest that cannot be read or is invalid; the message names the file and the fields."""


def load_manifest(path: Path) -> Manifest:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: no manifest.json next to the plugin's module") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"{path}: not readable JSON: {error}") from None
    try:
        return Manifest.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{name or '(top level)'}: {', '.join(messages)}" for name, messages in field_errors(error).items()
        )
        raise ManifestError(f"{path}: {problems}") from None
