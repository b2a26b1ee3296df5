"""Running what a plugin developer runs: ``manage.py plugins …``, pytest and pip, as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180
# pip without a package index (the tests run offline): nothing is downloaded, and builds use the
# environment's own setuptools instead of an isolated one that pip would download. A `--no-…`
# option reads its variable backwards: PIP_NO_BUILD_ISOLATION=0 turns isolation off.
OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


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
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(project)]
    run(command, env=developer_env(**OFFLINE_PIP))


def layered_virtualenv(folder: Path) -> Path:
    """A throwaway virtualenv at ``folder`` that also sees everything installed in this one (pytest,
    Django, Agentloom), so what is ``pip install``-ed into it leaves the shared one alone; its
    ``bin`` folder, to put first on ``PATH`` (see ``OFFLINE_PIP`` for pip's settings)."""
    run([sys.executable, "-m", "venv", "--without-pip", str(folder)])  # ensurepip takes seconds
    site_packages = Path(sysconfig.get_path("purelib", vars={"base": str(folder), "platbase": str(folder)}))
    # A .pth file's `import` line runs at start-up; addsitedir also runs this environment's own
    # .pth files (Agentloom's editable install), which a plain path line would not.
    shared = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    lines = [f"import site; site.addsitedir({directory!r})" for directory in shared]
    (site_packages / "_layered_on_agentloom.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # pip itself comes from the shared environment and installs into this one (its sys.prefix).
    pip = folder / "bin" / "pip"
    pip.write_text('#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n', encoding="utf-8")
    pip.chmod(0o755)
    return folder / "bin"


def entry_point_site(folder: Path, *, distribution: str, plugin_id: str, module: str) -> Path:
    """A folder whose ``.dist-info`` declares ``plugin_id = module`` in the ``agentloom.plugins``
    group, as pip would write it: on ``sys.path`` or ``PYTHONPATH``, the host finds the plugin."""
    dist = folder / f"{distribution.replace('-', '_')}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[agentloom.plugins]\n{plugin_id} = {module}\n")
    return folder
