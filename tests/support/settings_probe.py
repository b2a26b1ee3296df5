"""What a setting computes from an environment, read in a fresh process (settings are read once per process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Whatever switches the mode: each probe starts from the embedded default.
_MODE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY")


def setting_computed(setting: str, variable: str, var_dir: Path, **environment: str) -> str:
    """``settings.<setting>`` (printed) in a process with this environment, ``variable`` (the one the
    setting reads) and the mode's variables unset unless given."""
    base = {name: value for name, value in os.environ.items() if not name.startswith((*_MODE_VARIABLES, variable))}
    completed = subprocess.run(
        [sys.executable, "-c", f"from builder.config import settings; print(settings.{setting})"],
        cwd=BASE_DIR,
        env=base | {"AGENTLOOM_VAR_DIR": str(var_dir)} | environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stdout.strip()
