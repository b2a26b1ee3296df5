"""manifest.json: what the host refuses before running any of a plugin's code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder.pluginhost.manifest import Manifest, ManifestError, load_manifest, sdk_compatible
from tests.pluginhost.support import manifest

SECRET_SCHEMA = {
    "type": "object",
    "properties": {
        "api_key": {"type": "string", "x-secret": True},
        "endpoint": {"type": "string", "default": "https://api.example.com"},
    },
    "required": ["api_key"],
}


def test_a_full_manifest_reads_back_with_its_secrets_and_defaults() -> None:
    parsed = Manifest.model_validate(
        manifest(
            "web_search",
            icon="🔎",
            categories=["search"],
            config_schema=SECRET_SCHEMA,
            permissions={"network": ["api.tavily.com", "*.bing.microsoft.com", "*"], "long_running": False},
        )
    )

    assert parsed.secret_fields == ["api_key"]
    assert parsed.config_fields == ["api_key", "endpoint"]
    assert parsed.with_defaults({"api_key": "k"}) == {"api_key": "k", "endpoint": "https://api.example.com"}
    assert parsed.permissions.webhooks is False
    assert Manifest.model_validate(manifest("bare")).config_schema == {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"id": "Web-Search"}, "id"),
        ({"id": "x"}, "id"),
        ({"version": "1"}, "version"),
        ({"sdk_version": "2.0"}, "written for SDK 2.0"),
        ({"sdk_version": "1.9"}, "written for SDK 1.9"),
        ({"provides": {"tools": ["a", "a"]}}, "listed twice: a"),
        ({"provides": {"tool": ["a"]}}, "provides.tool"),
        ({"unknown": True}, "unknown"),
        ({"config_schema": {"type": "array"}}, '"type": "object"'),
        ({"config_schema": {"type": "object", "properties": {"n": {"type": "nope"}}}}, "not a valid JSON Schema"),
        ({"config_schema": {"type": "object", "properties": {"n": {"type": "integer", "x-secret": True}}}}, "only"),
        (
            {
                "config_schema": {
                    "type": "object",
                    "properties": {
                        "auth": {"type": "object", "properties": {"key": {"type": "string", "x-secret": True}}}
                    },
                }
            },
            "only allowed on top-level properties, not at auth.properties.key.x-secret",
        ),
        ({"permissions": {"network": ["http://api.example.com/"]}}, "permissions.network.0"),
    ],
)
def test_an_invalid_manifest_is_refused_naming_the_field(fields: dict[str, Any], problem: str, tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest("demo", **fields)), encoding="utf-8")

    with pytest.raises(ManifestError) as caught:
        load_manifest(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)


def test_a_missing_or_unreadable_manifest_says_so(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"no manifest\.json next to the plugin's module"):
        load_manifest(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ManifestError, match="not readable JSON"):
        load_manifest(tmp_path / "manifest.json")


@pytest.mark.parametrize(
    ("wanted", "host", "compatible"),
    [("1.0", "1.0", True), ("1.0", "1.3", True), ("1.4", "1.3", False), ("2.0", "1.3", False), ("0.9", "1.0", False)],
)
def test_sdk_versions_are_compatible_within_a_major(wanted: str, host: str, compatible: bool) -> None:
    assert sdk_compatible(wanted, host) is compatible
