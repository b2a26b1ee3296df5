"""``manage.py plugins scaffold|validate|list``: a new plugin that passes its own test, and the
same checks as the server, from the command line."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from builder.pluginhost.scaffold import ScaffoldError, scaffold_plugin
from tests.pluginhost.commands import BASE_DIR, pytest_in
from tests.pluginhost.support import write_package


def command(*args: str) -> str:
    out = StringIO()
    call_command("plugins", *args, stdout=out)
    return out.getvalue()


def test_a_scaffolded_plugin_passes_its_own_tests_and_validates(tmp_path: Path) -> None:
    output = command("scaffold", "hello_world", "--dir", str(tmp_path))
    root = tmp_path / "hello_world"

    assert f"Created {root}" in output
    assert sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) == [
        "README.md",
        "agentloom_hello_world/__init__.py",
        "agentloom_hello_world/manifest.json",
        "pyproject.toml",
        "tests/conftest.py",
        "tests/test_hello_world.py",
    ]
    assert 'hello_world = "agentloom_hello_world"' in (root / "pyproject.toml").read_text()
    assert "3 passed" in pytest_in(root)
    validated = command("validate", str(root))
    assert "ok  hello_world 0.1.0  Hello World" in validated
    assert "tool greet (timeout 10 s)" in validated


def test_scaffold_refuses_a_bad_id_or_an_existing_folder(tmp_path: Path) -> None:
    scaffold_plugin("taken", tmp_path)

    with pytest.raises(ScaffoldError, match="not a plugin id"):
        scaffold_plugin("Bad-Id", tmp_path)
    with pytest.raises(CommandError, match="exists already"):
        command("scaffold", "taken", "--dir", str(tmp_path))


def test_validate_reports_what_the_server_would_refuse(tmp_path: Path) -> None:
    folder = write_package(tmp_path, "agentloom_liar", "liar", provides={"tools": ["ping", "pong"]})
    (tmp_path / "empty").mkdir()

    out = StringIO()
    with pytest.raises(CommandError, match=r"1 plugin\(s\) would be refused"):
        call_command("plugins", "validate", str(folder), stdout=out)
    with pytest.raises(CommandError, match=r"has neither manifest\.json nor pyproject\.toml"):
        command("validate", str(tmp_path / "empty"))

    assert "ERR liar  manifest.json provides.tools does not match" in out.getvalue()


def test_validate_reads_a_projects_entry_points(tmp_path: Path) -> None:
    write_package(tmp_path, "agentloom_pinger", "pinger")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "agentloom-pinger"\nversion = "1.0.0"\n\n'
        '[project.entry-points."agentloom.plugins"]\npinger = "agentloom_pinger"\n',
        encoding="utf-8",
    )

    output = command("validate", str(tmp_path))

    assert "ok  pinger 1.0.0" in output and f"{tmp_path / 'pyproject.toml'}: pinger = agentloom_pinger" in output


def test_validate_checks_the_repositorys_example_plugin_under_its_dotted_name() -> None:
    output = command("validate", str(BASE_DIR / "tests" / "pluginhost" / "example_plugin"))

    assert "ok  example 0.1.0  Example" in output
    manifest = json.loads((BASE_DIR / "tests/pluginhost/example_plugin/manifest.json").read_text())
    assert all(f"tool {name} " in output for name in manifest["provides"]["tools"])


def test_list_shows_the_installed_plugins() -> None:
    assert command("list")  # the built-ins when there are some, else "No plugins installed."
