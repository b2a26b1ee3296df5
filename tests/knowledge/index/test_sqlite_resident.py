"""The SQLite index's in-memory copies: same answers as FTS5 and sqlite-vec, never stale.

(The whole shared suite also runs on them: the ``sqlite-resident`` backend of conftest.)
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import pytest

from builder.knowledge.index import Chunk, SearchFilter, SqliteKnowledgeIndex
from builder.knowledge.index.sqlite_index import sqlite_driver

WORDS = [f"word{n}" for n in range(17)]
CHINESE = ["北京", "上海", "熊猫", "竹子", "长江", "茶叶", "电池", "手机"]


def random_vector(rng: random.Random, dimension: int = 8) -> list[float]:
    values = [rng.gauss(0, 1) for _ in range(dimension)]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def corpus(rng: random.Random, kb: str, count: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    for n in range(count):
        # Zipf-ish word choice, and every 10th chunk a copy of another: equal scores, so ties count.
        words = rng.choices(WORDS + CHINESE, weights=[1 / (i + 1) for i in range(len(WORDS) + len(CHINESE))], k=12)
        text = " ".join(words) if n % 10 else chunks[-1].text if chunks else "alpha"
        chunks.append(
            Chunk(
                id=f"{kb}-{n}",
                kb_id=kb,
                document_id=f"{kb}-doc{n % 9}",
                text=text,
                metadata={"part": n % 3},
                vector=random_vector(rng),
            )
        )
    return chunks


def build(path: Path) -> None:
    rng = random.Random(42)
    with SqliteKnowledgeIndex(path) as index:
        for kb in ("a", "b"):
            index.create_space(kb, dimension=8)
            chunks = corpus(rng, kb, 240)
            index.upsert(chunks[:120])
            index.upsert(chunks[120:])
        index.delete_document("a", "a-doc4")
        index.delete_chunks(["b-3", "b-77"])
        index.upsert([Chunk(id="a-5", kb_id="a", document_id="a-doc5", text="alpha alpha 北京", vector=[1.0] * 8)])


def test_the_copy_ranks_exactly_like_fts5_and_sqlite_vec(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    build(path)
    rng = random.Random(7)
    filters = [
        None,
        SearchFilter(document_ids=["a-doc1", "a-doc5", "b-doc2", "b-doc8"]),
        SearchFilter(metadata={"part": 1}),
        SearchFilter(document_ids=["a-doc3", "b-doc3"], metadata={"part": 2}),
        SearchFilter(document_ids=["nobody"]),
    ]
    with (
        SqliteKnowledgeIndex(path, resident_min_chunks=None) as sqlite_only,
        SqliteKnowledgeIndex(path, resident_min_chunks=0, resident_inline=True) as in_memory,
    ):
        for _ in range(40):
            query = " ".join(rng.sample(WORDS + CHINESE, 3))
            vector = random_vector(rng)
            for search_filter in filters:
                for kb_ids, k in ((["a"], 5), (["a", "b"], 20), (["b"], 1000)):
                    expected = sqlite_only.search_text(kb_ids, query, k=k, filter=search_filter)
                    found = in_memory.search_text(kb_ids, query, k=k, filter=search_filter)
                    assert [hit.chunk_id for hit in found] == [hit.chunk_id for hit in expected]
                    assert [hit.score for hit in found] == pytest.approx([hit.score for hit in expected], rel=1e-12)
                    assert found == expected

                    expected = sqlite_only.search_vector(kb_ids, vector, k=k, filter=search_filter)
                    found = in_memory.search_vector(kb_ids, vector, k=k, filter=search_filter)
                    assert [hit.chunk_id for hit in found] == [hit.chunk_id for hit in expected]
                    assert [hit.score for hit in found] == pytest.approx([hit.score for hit in expected], abs=1e-6)
        assert in_memory._residents  # the copies did answer


def wait_for_copy(index: SqliteKnowledgeIndex, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not index._residents or index._building:
        assert time.monotonic() < deadline, "the in-memory copy was not built in the background"
        time.sleep(0.05)


def test_a_stale_copy_never_answers_and_is_rebuilt_in_the_background(tmp_path: Path) -> None:
    with SqliteKnowledgeIndex(tmp_path / "index.sqlite3", resident_min_chunks=0) as index:
        index.create_space("kb", dimension=None)
        index.upsert([Chunk(id="old", kb_id="kb", document_id="d", text="parcel refund")])
        assert [hit.chunk_id for hit in index.search_text(["kb"], "refund")] == ["old"]  # FTS5; a build starts
        wait_for_copy(index)

        index.upsert([Chunk(id="new", kb_id="kb", document_id="d", text="refund refund")])
        other = SqliteKnowledgeIndex(tmp_path / "index.sqlite3", resident_min_chunks=None)
        other.delete_chunks(["old"])  # another process writes too
        other.close()

        assert [hit.chunk_id for hit in index.search_text(["kb"], "refund")] == ["new"]
        wait_for_copy(index)
        copy = next(iter(index._residents.values()))
        assert list(copy.rowids) and len(copy.rowids) == 1
        assert [hit.chunk_id for hit in index.search_text(["kb"], "refund")] == ["new"]


def test_copies_beyond_the_memory_budget_are_dropped_least_recent_first(tmp_path: Path) -> None:
    with SqliteKnowledgeIndex(tmp_path / "index.sqlite3", resident_min_chunks=0, resident_max_bytes=1) as index:
        for kb in ("a", "b"):
            index.create_space(kb, dimension=None)
            index.upsert([Chunk(id=f"{kb}1", kb_id=kb, document_id="d", text="some words")])
        index.warm(["a"])
        index.warm(["b"])

        assert len(index._residents) == 1  # only the one just built stays over budget
        assert [hit.chunk_id for hit in index.search_text(["a", "b"], "words")] == ["a1", "b1"]


def test_small_knowledge_bases_have_no_copy(tmp_path: Path) -> None:
    with SqliteKnowledgeIndex(tmp_path / "index.sqlite3", resident_min_chunks=3, resident_inline=True) as index:
        index.create_space("kb", dimension=None)
        index.upsert([Chunk(id=f"c{n}", kb_id="kb", document_id="d", text=f"word {n}") for n in range(3)])
        index.search_text(["kb"], "word")
        assert index._residents

        index.delete_chunks(["c0"])
        index.search_text(["kb"], "word")
        assert not index._residents  # below the threshold again: its memory is given back


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
        assert [hit.chunk_id for hit in index.search_text(["kb"], "upgrade")] == ["c1"]
        index.upsert([Chunk(id="c2", kb_id="kb", document_id="d", text="written after the upgrade")])
        assert sorted(hit.chunk_id for hit in index.search_text(["kb"], "upgrade")) == ["c1", "c2"]
