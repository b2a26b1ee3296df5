"""Files only the server's user may read: var/, the SQLite databases with their WAL/SHM, the keys.

They hold every conversation, credential (encrypted, with the key beside them in the embedded
default) and password hash: another account on the machine must not read them, whatever the umask
of the shell that started the server. Standard library only (the knowledge index uses it).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_DIRECTORY_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# SQLite creates these beside a database, with the database file's own mode.
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_directory(path: str | os.PathLike[str]) -> Path:
    """``path`` as a directory only its owner may enter: created so, or tightened if it exists."""
    directory = Path(path)
    directory.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)
    _tighten(directory, PRIVATE_DIRECTORY_MODE)
    return directory


def private_sqlite_file(path: str | os.PathLike[str]) -> None:
    """Create the SQLite database ``path`` 0600 before SQLite does, and tighten what an older version left.

    An empty file is an empty database to SQLite, and SQLite gives the -wal, -shm and -journal files
    it creates later the database file's mode: creating the file first is enough for all of them.
    Its folder is the caller's to create (``private_directory``), as SQLite would not create it either.
    """
    database = Path(path)
    if not database.parent.is_dir():
        return  # SQLite itself reports the missing folder ("unable to open database file")
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    for file in (database, *(database.with_name(database.name + suffix) for suffix in _SQLITE_COMPANIONS)):
        _tighten(file, PRIVATE_FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):  # gone meanwhile, or not ours to change
        if stat.S_IMODE(path.stat().st_mode) & ~mode:
            path.chmod(mode)
