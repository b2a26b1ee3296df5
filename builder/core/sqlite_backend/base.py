"""Django's SQLite backend, creating each database file 0600 before SQLite does.

The one place every SQLite database Django opens passes through (the application's, the test
database), so none is created world-readable under the umask of whoever started the server.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.sqlite3 import base

from builder.core.private_files import private_sqlite_file


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        database = str(conn_params.get("database", ""))
        # Django opens with uri=True: a plain name is a file; ":memory:" and "file:…" URIs (the
        # in-memory test database) have no file of ours to protect.
        if database and database != ":memory:" and not database.startswith("file:"):
            private_sqlite_file(database)
        return super().get_new_connection(conn_params)
