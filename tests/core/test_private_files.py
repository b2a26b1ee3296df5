"""What the embedded default keeps under var/ (databases, their WAL/SHM, the knowledge index, the
checkpoints, the generated key, uploads) is readable by the server's user only."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

# A fresh embedded installation in a subprocess (settings are read once per process), under a usual
# umask: it creates var/ and every file in it, and lists their modes while its connections are open
# (SQLite removes the -wal and -shm files when the last one closes).
FRESH_INSTALLATION = """
import asyncio, json, os, sys

os.umask(0o022)
import django

django.setup()
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from builder.conversations.checkpoints import close_durable_checkpointer, durable_checkpointer
from builder.knowledge.index_store import knowledge_index

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE probe (value TEXT)")
    cursor.execute("INSERT INTO probe VALUES ('private')")
knowledge_index()
default_storage.save("documents/1/upload.txt", ContentFile(b"private"))


def modes():
    found = {".": os.stat(settings.VAR_DIR).st_mode}
    for directory, subdirectories, files in os.walk(settings.VAR_DIR):
        for name in subdirectories + files:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, settings.VAR_DIR)] = os.stat(path).st_mode
    return found


async def with_checkpoints_open():
    await durable_checkpointer()
    try:
        return modes()
    finally:
        await close_durable_checkpointer()


print(json.dumps(asyncio.run(with_checkpoints_open())))
"""


def test_var_and_everything_in_it_are_private(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "AGENTLOOM_", "DJANGO_SECRET_KEY"))
    }
    environment |= {"AGENTLOOM_VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "builder.config.settings"}

    completed = subprocess.run(
        [sys.executable, "-c", FRESH_INSTALLATION],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    modes: dict[str, int] = json.loads(completed.stdout.strip().splitlines()[-1])
    expected = {
        "agentloom.sqlite3",
        "agentloom.sqlite3-wal",
        "agentloom.sqlite3-shm",
        "knowledge-index.sqlite3",
        "checkpoints.sqlite3",
        "secret_key",
        "media/documents/1/upload.txt",
    }
    assert expected <= set(modes), sorted(modes)
    readable_by_others = {
        path: oct(stat.S_IMODE(mode)) for path, mode in modes.items() if stat.S_IMODE(mode) & 0o077
    }
    assert readable_by_others == {}
    assert stat.S_IMODE(modes["."]) == 0o700
    assert all(stat.S_IMODE(modes[path]) == 0o600 for path in expected)
