"""docs/plugins.md: every hook is documented (test_docs_tutorial.py follows its tutorial)."""

from __future__ import annotations

from builder.pluginhost import hookspecs
from builder.sdk.markers import PROJECT_NAME
from tests.pluginhost.commands import BASE_DIR

DOCS = BASE_DIR / "docs" / "plugins.md"


def hook_names() -> list[str]:
    marker = f"{PROJECT_NAME}_spec"
    return sorted(name for name, value in vars(hookspecs).items() if callable(value) and hasattr(value, marker))


def test_every_hookspec_is_documented_in_the_hook_reference() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    reference = docs[docs.index("## Hook reference") :]

    names = hook_names()

    assert names == [
        "check_config",
        "register_model_providers",
        "register_node_types",
        "register_routes",
        "register_tools",
        "register_toolsets",
        "startup",
        "validate_config",
    ]
    undocumented = [name for name in names if f"### `{name}`" not in reference]
    assert undocumented == [], f"document these hooks in {DOCS.relative_to(BASE_DIR)}: {undocumented}"


def test_every_hookspec_has_a_one_line_docstring() -> None:
    for name in hook_names():
        doc = getattr(hookspecs, name).__doc__ or ""
        assert doc.strip() and "\n" not in doc.strip(), name
