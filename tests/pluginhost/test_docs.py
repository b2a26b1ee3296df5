"""docs/plugins.md: every hook is documented, and the tutorial works when followed to the letter."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from builder.pluginhost import hookspecs
from builder.sdk.markers import PROJECT_NAME
from tests.pluginhost.commands import BASE_DIR, developer_env, manage, pip_install, pytest_in

DOCS = BASE_DIR / "docs" / "plugins.md"
# <!-- tutorial: path/in/the/plugin -->, then a fenced block: the file's content.
TUTORIAL_FILE = re.compile(r"<!-- tutorial: (?P<path>\S+) -->\n```[a-z]*\n(?P<content>.*?)\n```", re.DOTALL)


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


def test_the_tutorial_followed_literally(tmp_path: Path) -> None:
    """Scaffold, test, write the tutorial's files, test, validate, install, list: as docs/plugins.md
    says, except that pip installs into a folder (``--target``) instead of the shared virtualenv."""
    docs = DOCS.read_text(encoding="utf-8")
    src = tmp_path / "src"

    # 1. Scaffold.  2. Run its tests.
    assert f"Created {src / 'weather'}" in manage("plugins", "scaffold", "weather", "--dir", str(src))
    root = src / "weather"
    assert "3 passed" in pytest_in(root)

    # 3. Write your tool (and its manifest, and its test), then run the tests again.
    files = {match["path"]: match["content"] for match in TUTORIAL_FILE.finditer(docs)}
    assert sorted(files) == [
        "agentloom_weather/__init__.py",
        "agentloom_weather/manifest.json",
        "tests/test_weather.py",
    ]
    for path, content in files.items():
        (root / path).write_text(content + "\n", encoding="utf-8")
    assert "3 passed" in pytest_in(root)

    # 4. Validate.
    validated = manage("plugins", "validate", str(root))
    assert "ok  weather 0.1.0  Weather" in validated and "tool forecast (timeout 15 s)" in validated

    # 5. Install, and the server finds it through its entry point.
    site = tmp_path / "site"
    pip_install(root, site)
    listed = manage("plugins", "list", env=developer_env(PYTHONPATH=str(site)))
    assert "ok  weather 0.1.0  Weather" in listed
    assert "from entry point weather = agentloom_weather (agentloom-weather 0.1.0)" in listed
    assert "agentloom_weather" not in sys.modules
