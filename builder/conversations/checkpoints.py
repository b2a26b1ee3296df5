"""Durable LangGraph checkpoints, so a paused run resumes after a restart or on another worker.

Embedded default: a SQLite file beside the database. Production: the PostgreSQL database itself.
One saver per event loop (connections belong to a loop; Celery tasks each run their own).
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any

from django.conf import settings

from builder.core.private_files import private_directory, private_sqlite_file

_savers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
_lock: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _postgres_conninfo() -> str:
    db = settings.DATABASES["default"]
    parts = {
        "host": db.get("HOST") or "",
        "port": str(db.get("PORT") or ""),
        "dbname": db["NAME"],
        "user": db.get("USER") or "",
        "password": db.get("PASSWORD") or "",
    }
    return " ".join(f"{key}={value}" for key, value in parts.items() if value)


async def _open_saver() -> Any:
    if settings.EMBEDDED:
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        path = Path(settings.VAR_DIR) / "checkpoints.sqlite3"
        private_directory(path.parent)
        private_sqlite_file(path)  # paused runs' state: created 0600, its WAL and SHM too
        sqlite_saver = AsyncSqliteSaver(await aiosqlite.connect(str(path)))
        await sqlite_saver.setup()
        return sqlite_saver
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(
        _postgres_conninfo(),
        min_size=1,
        max_size=10,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    await pool.open()
    postgres_saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
    await postgres_saver.setup()
    return postgres_saver


async def durable_checkpointer() -> Any:
    loop = asyncio.get_running_loop()
    lock = _lock.setdefault(loop, asyncio.Lock())
    async with lock:
        saver = _savers.get(loop)
        if saver is None:
            saver = _savers[loop] = await _open_saver()
    return saver


async def close_durable_checkpointer() -> None:
    """Release this loop's checkpoint connections (server shutdown, end of a worker's loop)."""
    saver = _savers.pop(asyncio.get_running_loop(), None)
    if saver is None:
        return
    conn = getattr(saver, "conn", None)
    if conn is not None:
        await conn.close()
