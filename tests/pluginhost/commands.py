"""Running what a plugin developer runs: ``manage.py plugins …``, pytest and pip, as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180


def developer_env(**extra: str) -> dict[str, str]:
    """This environment minus what pytest-django set for the suite: a developer's shell."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(extra)
    return env


def run(command: list[str], *, cwd: Path = BASE_DIR, env: Mapping[str, str] | None = None) -> str:
    """Run ``command``; fail the test with its output unless it succeeds; return the output."""
    completed = subprocess.run(
        command,
        cwd=cwd,
        env=dict(env) if env is not None else developer_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"{' '.join(command)} exited with {completed.returncode}:\n{output}"
    return output


def manage(*args: str, env: Mapping[str, str] | None = None) -> str:
    return run([sys.executable, str(BASE_DIR / "manage.py"), *args], env=env)


def pytest_in(folder: Path) -> str:
    return run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], cwd=folder)


def pip_install(project: Path, target: Path) -> None:
    """``pip install`` the project into ``target`` (not into the shared virtualenv), offline."""
    options = ["--quiet", "--disable-pip-version-check", "--no-index", "--no-deps", "--no-build-isolation"]
    run([sys.executable, "-m", "pip", "install", *options, "--target", str(target), str(project)])
