"""Index stores written by an earlier version of this code are upgraded when opened."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from builder.knowledge.index import Chunk, KnowledgeIndex, PgKnowledgeIndex, SqliteKnowledgeIndex
from builder.knowledge.index.sqlite_index import sqlite_driver


def search(index: KnowledgeIndex) -> list[str]:
    return sorted(hit.chunk_id for hit in index.search_text(["kb"], "upgrade"))


def test_an_index_file_of_schema_version_1_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    with SqliteKnowledgeIndex(path) as index:
        index.create_space("kb", dimension=None)
        index.upsert([Chunk(id="c1", kb_id="kb", document_id="d", text="kept across the upgrade")])
    connection = sqlite_driver().connect(path)
    with connection:  # what version 1 of this code wrote
        connection.execute("ALTER TABLE spaces DROP COLUMN version")
        connection.execute("DELETE FROM meta WHERE key = 'write_version'")
        connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    connection.close()

    with SqliteKnowledgeIndex(path, resident_min_chunks=0, resident_inline=True) as index:
        assert search(index) == ["c1"]
        index.upsert([Chunk(id="c2", kb_id="kb", document_id="d", text="written after the upgrade")])
        assert search(index) == ["c1", "c2"]


def test_a_postgresql_schema_of_version_1_is_upgraded(pgserver_dsn: str) -> None:
    schema = "test_upgrade_from_1"
    with PgKnowledgeIndex(pgserver_dsn, schema=schema) as index:
        for kb in ("kb", "other"):
            index.create_space(kb, dimension=None)
            index.upsert([Chunk(id=f"{kb}1", kb_id=kb, document_id="d", text="kept across the upgrade")])
    try:
        with psycopg.connect(pgserver_dsn, autocommit=True) as connection:  # what version 1 wrote
            for statement in (
                "ALTER TABLE {}.spaces DROP COLUMN version",
                "DROP SEQUENCE {}.write_version",
                "UPDATE {}.meta SET value = '1' WHERE key = 'schema_version'",
            ):
                connection.execute(sql.SQL(statement).format(sql.Identifier(schema)))

        with PgKnowledgeIndex(pgserver_dsn, schema=schema, resident_min_chunks=0, resident_inline=True) as index:
            assert search(index) == ["kb1"]
            index.upsert([Chunk(id="kb2", kb_id="kb", document_id="d", text="written after the upgrade")])
            assert search(index) == ["kb1", "kb2"]
            copies = index._copies.copies
            # Every space has its own version again, and the new write's is the newest.
            assert copies["kb"].version > 0
            index.warm(["other"])
            assert 0 < index._copies.copies["other"].version < copies["kb"].version
    finally:
        with psycopg.connect(pgserver_dsn, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
