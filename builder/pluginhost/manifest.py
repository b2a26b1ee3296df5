"""``manifest.json``: what a plugin says about itself, checked before any of its code runs.

The manifest sits next to the module the entry point names (``plugins/<id>/manifest.json`` for a
built-in). The host then checks ``provides`` against what the hooks really register, and the
``permissions`` against what the plugin does (long-running tools, webhooks, the hosts it calls).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Final

# No stubs are pinned for jsonschema (tests/engine ignores its types the same way).
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from builder.sdk.execution import field_errors
from builder.sdk.markers import SDK_VERSION

MANIFEST_FILE: Final = "manifest.json"
SECRET_KEY: Final = "x-secret"
# An id is also a Python package name under plugins/ and part of URLs.
PLUGIN_ID: Final = re.compile(r"^[a-z][a-z0-9_]{1,63}$")

PluginId = Annotated[str, StringConstraints(pattern=PLUGIN_ID.pattern)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_\-]{0,31}$")]
# "api.example.com", "*.example.com" (any subdomain) or "*" (any public host).
HostPattern = Annotated[
    str, StringConstraints(pattern=r"^(\*|(\*\.)?[a-z0-9]([a-z0-9\-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9\-]*[a-z0-9])?)*)$")
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

    _unique_names = field_validator("tools", "providers", "node_types")(_unique)


class Permissions(_Strict):
    """What the plugin may do: the hosts its HTTP requests go to, long-running jobs, webhooks."""

    network: list[HostPattern] = Field(default_factory=list, max_length=100)
    long_running: bool = False
    webhooks: bool = False


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
    # string property encrypts it at rest and masks it in every response.
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
        nested = _nested_secrets({k: v for k, v in schema.items() if k != "properties"})
        nested += [f"{name}.{path}" for name, field in properties.items() for path in _nested_secrets(field, top=True)]
        if nested:
            raise ValueError(f'"x-secret" is only allowed on top-level properties, not at {", ".join(nested)}')
        return schema

    @model_validator(mode="after")
    def _compatible_sdk(self) -> Manifest:
        if not sdk_compatible(self.sdk_version):
            raise ValueError(f"written for SDK {self.sdk_version}; this host has SDK {SDK_VERSION}")
        return self

    @property
    def secret_fields(self) -> list[str]:
        properties = self.config_schema.get("properties", {})
        return [name for name, field in properties.items() if isinstance(field, dict) and field.get(SECRET_KEY)]

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
