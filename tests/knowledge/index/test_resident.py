"""The in-memory copies of both backends: the same answers as the database, never stale.

(The whole shared suite also runs on them: the ``*-resident`` backends of conftest.)
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter

import pytest

from builder.knowledge.index import (
    Chunk,
    KnowledgeIndex,
    PgKnowledgeIndex,
    SearchFilter,
    SqliteKnowledgeIndex,
)
from builder.knowledge.index.resident import ResidentSpace
from tests.knowledge.index.conftest import OpenIndex
from tests.knowledge.index.races import race

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"])

WORDS = [f"word{n}" for n in range(17)]
CHINESE = ["北京", "上海", "熊猫", "竹子", "长江", "茶叶", "电池", "手机"]
# The database alone; copies built in every search that finds none fresh.
DATABASE = {"resident_min_chunks": None}
INLINE = {"resident_min_chunks": 0, "resident_inline": True}
# Copies built in the background, for every knowledge base.
BACKGROUND = {"resident_min_chunks": 0}


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


def fill(index: KnowledgeIndex) -> None:
    """Knowledge bases a and b (~240 chunks each) and c (60), after replacements and deletes."""
    rng = random.Random(42)
    for kb, count in (("a", 240), ("b", 240), ("c", 60)):
        index.create_space(kb, dimension=8)
        chunks = corpus(rng, kb, count)
        index.upsert(chunks[: count // 2])
        index.upsert(chunks[count // 2 :])
    index.delete_document("a", "a-doc4")
    index.delete_chunks(["b-3", "b-77"])
    index.upsert([Chunk(id="a-5", kb_id="a", document_id="a-doc5", text="alpha alpha 北京", vector=[1.0] * 8)])


def copies(index: KnowledgeIndex) -> dict[str, ResidentSpace]:
    assert isinstance(index, SqliteKnowledgeIndex | PgKnowledgeIndex)
    return index._copies.copies


def wait_for_copy(index: KnowledgeIndex, timeout_s: float = 20.0) -> None:
    assert isinstance(index, SqliteKnowledgeIndex | PgKnowledgeIndex)
    deadline = time.monotonic() + timeout_s
    while not index._copies.copies or index._copies.building:
        assert time.monotonic() < deadline, "the in-memory copy was not built in the background"
        time.sleep(0.05)


def ids(index: KnowledgeIndex, query: str, kb_ids: tuple[str, ...] = ("kb",)) -> list[str]:
    return [hit.chunk_id for hit in index.search_text(kb_ids, query, k=100)]


def test_the_copy_ranks_exactly_like_the_database(open_index: OpenIndex, backend: str) -> None:
    fill(open_index(**DATABASE))
    database, in_memory = open_index(**DATABASE), open_index(**INLINE)
    # a and b in memory, c in the database, in one search.
    mixed = open_index(resident_min_chunks=100, resident_inline=True)
    rng = random.Random(7)
    filters = [
        None,
        SearchFilter(document_ids=["a-doc1", "a-doc5", "b-doc2", "b-doc8", "c-doc3"]),
        SearchFilter(metadata={"part": 1}),
        SearchFilter(document_ids=["a-doc3", "b-doc3", "c-doc0"], metadata={"part": 2}),
        SearchFilter(document_ids=["nobody"]),
        SearchFilter(metadata={"part": "1"}),
    ]
    for _ in range(30):
        query = " ".join(rng.sample(WORDS + CHINESE, 3))
        vector = random_vector(rng)
        for search_filter in filters:
            for kb_ids, k in ((["a"], 5), (["a", "c"], 20), (["b"], 1000), (["a", "b", "c"], 7)):
                expected = database.search_text(kb_ids, query, k=k, filter=search_filter)
                for found in (
                    in_memory.search_text(kb_ids, query, k=k, filter=search_filter),
                    mixed.search_text(kb_ids, query, k=k, filter=search_filter),
                ):
                    assert [hit.chunk_id for hit in found] == [hit.chunk_id for hit in expected]
                    assert found == expected  # scores too, to the last bit: the same operations in the same order

                expected = database.search_vector(kb_ids, vector, k=k, filter=search_filter)
                found = in_memory.search_vector(kb_ids, vector, k=k, filter=search_filter)
                assert [hit.chunk_id for hit in found] == [hit.chunk_id for hit in expected]
                assert [hit.score for hit in found] == pytest.approx([hit.score for hit in expected], abs=1e-6)
    assert len(copies(in_memory)) == 3  # the copies did answer
    assert len(copies(mixed)) == 2


def test_a_stale_copy_never_answers_and_is_rebuilt_in_the_background(open_index: OpenIndex) -> None:
    index = open_index(**BACKGROUND)
    index.create_space("kb", dimension=None)
    index.upsert([Chunk(id="old", kb_id="kb", document_id="d", text="parcel refund")])
    assert ids(index, "refund") == ["old"]  # the database; a build starts
    wait_for_copy(index)

    index.upsert([Chunk(id="new", kb_id="kb", document_id="d", text="refund refund")])
    open_index(**DATABASE).delete_chunks(["old"])  # another process writes too

    assert ids(index, "refund") == ["new"]
    wait_for_copy(index)
    (copy,) = copies(index).values()
    assert len(copy.keys) == 1
    assert ids(index, "refund") == ["new"]


def test_deleted_documents_and_dropped_spaces_are_gone_from_the_answers_at_once(open_index: OpenIndex) -> None:
    index, other_process = open_index(**BACKGROUND), open_index(**DATABASE)
    index.create_space("kb", dimension=None)
    index.upsert([Chunk(id=f"{doc}-{n}", kb_id="kb", document_id=doc, text="owls") for doc in "xy" for n in range(3)])
    ids(index, "owls")
    wait_for_copy(index)
    assert len(ids(index, "owls")) == 6

    other_process.delete_document("kb", "x")
    assert sorted(ids(index, "owls")) == ["y-0", "y-1", "y-2"]

    wait_for_copy(index)
    other_process.drop_space("kb")
    other_process.create_space("kb", dimension=None)  # the same id, another space
    other_process.upsert([Chunk(id="z", kb_id="kb", document_id="z", text="owls and larks")])
    assert ids(index, "owls") == ["z"]
    wait_for_copy(index)
    assert ids(index, "owls larks") == ["z"]

    index.drop_space("kb")
    assert not copies(index)


def test_copies_beyond_the_memory_budget_are_dropped_least_recent_first(open_index: OpenIndex) -> None:
    index = open_index(resident_min_chunks=0, resident_max_bytes=1)
    assert isinstance(index, SqliteKnowledgeIndex | PgKnowledgeIndex)
    for kb in ("a", "b"):
        index.create_space(kb, dimension=None)
        index.upsert([Chunk(id=f"{kb}1", kb_id=kb, document_id="d", text="some words")])
    index.warm(["a"])
    index.warm(["b"])

    assert len(copies(index)) == 1  # only the one just built stays over budget
    assert ids(index, "words", ("a", "b")) == ["a1", "b1"]


def test_small_knowledge_bases_have_no_copy(open_index: OpenIndex) -> None:
    index = open_index(resident_min_chunks=3, resident_inline=True)
    index.create_space("kb", dimension=None)
    index.upsert([Chunk(id=f"c{n}", kb_id="kb", document_id="d", text=f"word {n}") for n in range(3)])
    index.search_text(["kb"], "word")
    assert copies(index)

    index.delete_chunks(["c0"])
    index.search_text(["kb"], "word")
    assert not copies(index)  # below the threshold again: its memory is given back


def test_searches_never_see_half_a_batch_while_copies_are_rebuilt(open_index: OpenIndex) -> None:
    reader, writer = open_index(**BACKGROUND), open_index(**DATABASE)
    assert isinstance(reader, SqliteKnowledgeIndex | PgKnowledgeIndex)
    reader._copies._quiet_s = 0.0  # rebuild between batches, so copies and writes interleave
    writer.create_space("kb", dimension=None)
    batches, batch_size = 12, 25

    def write() -> None:
        for batch in range(batches):
            writer.upsert(
                [
                    Chunk(id=f"b{batch}-{n}", kb_id="kb", document_id=f"batch{batch}", text=f"marker w{n}")
                    for n in range(batch_size)
                ]
            )
            if batch % 3 == 2:  # and a delete now and then
                writer.delete_document("kb", f"batch{batch - 1}")

    seen = race(write, lambda: [reader.search_text(["kb"], "marker", k=1000)], readers=2, timeout_s=120)
    assert all(count == batch_size for counts in seen for count in counts.values())
    expected = {f"batch{batch}": batch_size for batch in range(batches) if batch % 3 != 1}  # 1, 4… deleted
    assert Counter(hit.document_id for hit in reader.search_text(["kb"], "marker", k=1000)) == expected
    wait_for_copy(reader)  # the copy of the final state
    assert Counter(hit.document_id for hit in reader.search_text(["kb"], "marker", k=1000)) == expected
