"""The knowledge index backends: Chinese retrieval quality, search latency and ingestion speed.

    .venv/bin/python benchmarks/knowledge_index.py [--sizes 10000 100000] [--pg-sizes 10000] [--no-pg]

Prints, through ``builder.knowledge.index`` (the product's own index code, not a copy):

(a) CMRC 2018 dev (848 paragraphs, 3,219 questions; each question's paragraph is its gold):
    paragraph Recall@1/@5 of full-text search (BM25) per analyzer, on SQLite and PostgreSQL;
(b) search latency p50/p95 at each size: full text, vector (random unit vectors, 384 dimensions)
    and hybrid (both + RRF), without a filter and with a 1,000-document allow-list;
(c) ingestion chunks/s, economical (text) and high quality (text + 384-dimension vectors), in
    batches of 256.

Synthetic chunks for (b) and (c): 120 words each, drawn from the word frequencies of the SciFact
corpus; queries are SciFact's 300 test queries. PostgreSQL runs in ``pgserver`` (PostgreSQL 16,
pgvector 0.6.2, in a temp dir). Nothing is asserted.

Measured on this machine (2 cores, another engineer's jobs sharing it), 2026-11-25, with the
defaults (``--sizes 10000 100000 --pg-sizes 10000 --queries 200``), in ~20 minutes:

    (a) CMRC 2018 dev, full text     R@1    R@5   index chunks/s
        sqlite    jieba            0.968  0.998   617
        sqlite    bigram           0.958  0.995   1176
        sqlite    bigram+unigram   0.960  0.997   947
        postgres  jieba            0.968  0.998   448
        postgres  bigram           0.958  0.995   410
        postgres  bigram+unigram   0.960  0.997   237
        (PostgreSQL's ts_rank instead of BM25, same tokens: jieba 0.907 / 0.971, bigram
        0.924 / 0.980, bigram+unigram 0.906 / 0.977; rank-bm25 on bigrams, the issue's
        baseline: 0.963 / 0.997)

    (b) ms p50 / p95        sqlite 10k     sqlite 100k     postgres 10k
        text                 7.3 / 13.4    55.1 /  95.9    29.2 / 53.1
        vector               8.0 /  8.7    72.3 / 110.5     2.3 /  2.8
        hybrid (sequential) 14.0 / 18.4   129.8 / 171.1    31.2 / 59.0
        text +filter         6.7 / 11.5    48.1 /  80.2    35.7 / 64.4
        vector +filter       9.0 / 10.1    79.1 /  87.9     3.2 /  3.5
        hybrid +filter      16.6 / 22.8   124.5 / 155.7    39.9 / 70.4

    (c) chunks/s            sqlite 10k    sqlite 100k     postgres 10k
        economical           3,977         3,610           1,594
        high quality         2,746         2,418             324

Three changes took SQLite text search at 100k from ~150-200 ms p50 to the figure above: leaving
out terms in half the chunks or more (``bm25.scoring_terms``), a narrow ``chunks`` table (text
apart) and a 64 MB page cache. sqlite-vec 0.1.9 searches by brute force: ~75 ms for 100k float
vectors (int8 vectors were no faster; bit vectors took ~22 ms, at the cost of a rescoring pass
and of recall). Running the two halves of a hybrid search in parallel threads (SQLite releases
the GIL) would bring it near the slower half.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.knowledge.index import (
    Analyzer,
    Chunk,
    KnowledgeIndex,
    PgKnowledgeIndex,
    SearchFilter,
    SqliteKnowledgeIndex,
    analyze,
    fuse,
)

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
DIMENSION = 384
BATCH = 256
WORDS_PER_CHUNK = 120
CHUNKS_PER_DOCUMENT = 50
ALLOWED_DOCUMENTS = 1000

OpenIndex = Callable[[Analyzer], KnowledgeIndex]


# -- backends ------------------------------------------------------------------------------


@contextmanager
def sqlite_backend(workdir: Path) -> Iterator[OpenIndex]:
    opened: list[KnowledgeIndex] = []

    def open_index(analyzer: Analyzer) -> KnowledgeIndex:
        opened.append(SqliteKnowledgeIndex(workdir / f"{uuid.uuid4().hex}.sqlite3", analyzer=analyzer))
        return opened[-1]

    try:
        yield open_index
    finally:
        for index in opened:
            index.close()


@contextmanager
def postgres_backend(workdir: Path) -> Iterator[tuple[OpenIndex, str] | None]:
    """``(open_index, dsn)`` of a pgserver PostgreSQL in ``workdir``, or ``None`` if it cannot start."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import pgserver

            server = pgserver.get_server(workdir / "pgdata", cleanup_mode="delete")
        dsn = server.get_uri()
    except Exception as exc:
        print(f"PostgreSQL (pgserver) did not start, skipping it: {type(exc).__name__}: {exc}")
        yield None
        return
    opened: list[KnowledgeIndex] = []

    def open_index(analyzer: Analyzer) -> KnowledgeIndex:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        opened.append(PgKnowledgeIndex(dsn, schema=schema, analyzer=analyzer, pool_size=2))
        return opened[-1]

    try:
        yield open_index, dsn
    finally:
        for index in opened:
            index.close()
        server.cleanup()


# -- (a) CMRC 2018 -------------------------------------------------------------------------


@dataclass
class Recall:
    at_1: float
    at_5: float
    chunks_per_s: float


def cmrc_corpus(data_dir: Path) -> tuple[list[Chunk], list[tuple[str, str]]]:
    data = json.loads((data_dir / "cmrc2018" / "cmrc2018_dev.squad.json").read_text(encoding="utf-8"))
    chunks, questions = [], []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            chunks.append(
                Chunk(id=paragraph["id"], kb_id="cmrc", document_id=paragraph["id"], text=paragraph["context"])
            )
            questions += [(qa["question"], paragraph["id"]) for qa in paragraph["qas"]]
    return chunks, questions


def cmrc_recall(index: KnowledgeIndex, chunks: list[Chunk], questions: list[tuple[str, str]]) -> Recall:
    index.create_space("cmrc", dimension=None)
    started = time.perf_counter()
    for start in range(0, len(chunks), BATCH):
        index.upsert(chunks[start : start + BATCH])
    rate = len(chunks) / (time.perf_counter() - started)
    at_1 = at_5 = 0
    for question, gold in questions:
        found = [hit.chunk_id for hit in index.search_text(["cmrc"], question, k=5)]
        at_1 += found[:1] == [gold]
        at_5 += gold in found
    return Recall(at_1 / len(questions), at_5 / len(questions), rate)


def cmrc_ts_rank_recall(dsn: str, index: PgKnowledgeIndex, questions: list[tuple[str, str]]) -> Recall:
    """The same chunks ranked by PostgreSQL's own ``ts_rank`` instead of BM25: what BM25 buys.

    Reads the index's tables directly (a comparison, not a product path): the chunks matching any
    query token, ordered by ``ts_rank`` over the same tsvector.
    """
    query = sql.SQL(
        "SELECT chunk_id FROM {}.chunks WHERE kb_id = 'cmrc' AND lexemes @@ %(q)s::tsquery "
        "ORDER BY ts_rank(lexemes, %(q)s::tsquery) DESC, chunk_id LIMIT 5"
    ).format(sql.Identifier(index.schema))
    at_1 = at_5 = 0
    with psycopg.connect(dsn) as connection:
        for question, gold in questions:
            terms = dict.fromkeys(analyze(question, index.analyzer))
            if not terms:
                continue
            tsquery = " | ".join("'" + term.replace("'", "''") + "'" for term in terms)
            found = [row[0] for row in connection.execute(query, {"q": tsquery})]
            at_1 += found[:1] == [gold]
            at_5 += gold in found
    return Recall(at_1 / len(questions), at_5 / len(questions), math.nan)


# -- (b), (c) scale ------------------------------------------------------------------------


def scifact_words(data_dir: Path) -> tuple[list[str], list[int]]:
    counts: Counter[str] = Counter()
    with (data_dir / "scifact" / "beir_format" / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            counts.update(re.findall(r"\w+", f"{record['title']} {record['text']}"))
    words = list(counts)
    return words, [counts[word] for word in words]


def scifact_queries(data_dir: Path) -> list[str]:
    scifact = data_dir / "scifact" / "beir_format"
    test_ids = {line.split("\t")[0] for line in (scifact / "qrels" / "test.tsv").read_text().splitlines()[1:]}
    queries = []
    with (scifact / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["_id"] in test_ids:
                queries.append(record["text"])
    return queries


def unit_vector(rng: random.Random) -> list[float]:
    values = [rng.gauss(0.0, 1.0) for _ in range(DIMENSION)]
    norm = math.sqrt(sum(value * value for value in values))
    return [value / norm for value in values]


def synthetic_chunks(data_dir: Path, count: int, *, vectors: bool, seed: int = 7) -> Iterator[list[Chunk]]:
    """Batches of chunks: Zipf-like English text from SciFact's word frequencies."""
    rng = random.Random(seed)
    words, weights = scifact_words(data_dir)
    cumulative = list(_accumulate(weights))
    for start in range(0, count, BATCH):
        batch = []
        for number in range(start, min(start + BATCH, count)):
            text = " ".join(rng.choices(words, cum_weights=cumulative, k=WORDS_PER_CHUNK))
            batch.append(
                Chunk(
                    id=f"c{number}",
                    kb_id="scale",
                    document_id=f"d{number // CHUNKS_PER_DOCUMENT}",
                    text=text,
                    metadata={"section": number % 7},
                    vector=unit_vector(rng) if vectors else None,
                )
            )
        yield batch


def _accumulate(weights: Sequence[int]) -> Iterator[int]:
    total = 0
    for weight in weights:
        total += weight
        yield total


def ingest(data_dir: Path, index: KnowledgeIndex, count: int, *, vectors: bool) -> float:
    """Chunks per second of ``upsert`` alone (generating the synthetic chunks is not timed)."""
    index.create_space("scale", dimension=DIMENSION if vectors else None)
    elapsed = 0.0
    for batch in synthetic_chunks(data_dir, count, vectors=vectors):
        started = time.perf_counter()
        index.upsert(batch)
        elapsed += time.perf_counter() - started
    return count / elapsed


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1000, cuts[94] * 1000


def timed(run: Callable[[int], Any], repetitions: int) -> tuple[float, float]:
    samples = []
    for repetition in range(repetitions):
        started = time.perf_counter()
        run(repetition)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def latencies(
    index: KnowledgeIndex, count: int, queries: list[str], repetitions: int
) -> dict[str, tuple[float, float]]:
    rng = random.Random(11)
    vectors = [unit_vector(rng) for _ in range(repetitions)]
    documents = count // CHUNKS_PER_DOCUMENT
    allowed = SearchFilter(
        document_ids=[f"d{n}" for n in rng.sample(range(documents), min(ALLOWED_DOCUMENTS, documents))]
    )
    results: dict[str, tuple[float, float]] = {}
    for label, search_filter in (("", None), (" +filter", allowed)):

        def text(n: int, search_filter: SearchFilter | None = search_filter) -> Any:
            return index.search_text(["scale"], queries[n % len(queries)], k=10, filter=search_filter)

        def vector(n: int, search_filter: SearchFilter | None = search_filter) -> Any:
            return index.search_vector(["scale"], vectors[n], k=10, filter=search_filter)

        def hybrid(n: int, search_filter: SearchFilter | None = search_filter) -> Any:
            return fuse(text(n, search_filter), vector(n, search_filter), dense_weight=0.5, limit=10)

        for name, run in (("text", text), ("vector", vector), ("hybrid", hybrid)):
            run(0)  # warm the caches once
            results[name + label] = timed(run, repetitions)
    return results


# -- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000], help="SQLite scale runs")
    parser.add_argument("--pg-sizes", type=int, nargs="*", default=[10_000], help="PostgreSQL scale runs")
    parser.add_argument("--queries", type=int, default=200, help="searches per latency figure")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (cmrc2018/, scifact/)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="knowledge-index-bench-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        backends: list[tuple[str, OpenIndex, list[int]]] = [
            ("sqlite", stack.enter_context(sqlite_backend(workdir)), args.sizes)
        ]
        postgres = None if args.no_pg else stack.enter_context(postgres_backend(workdir))
        if postgres is not None:
            backends.append(("postgres", postgres[0], args.pg_sizes))

        analyze("预热", Analyzer.JIEBA)  # load jieba's dictionary (~1 s) before anything is timed
        chunks, questions = cmrc_corpus(args.data)
        print(f"(a) CMRC 2018 dev: {len(chunks)} paragraphs, {len(questions)} questions, full-text search")
        print(f"    {'backend':9} {'analyzer':15} {'R@1':>6} {'R@5':>6} {'index chunks/s':>15}")
        for name, open_index, _ in backends:
            for analyzer in Analyzer:
                index = open_index(analyzer)
                recall = cmrc_recall(index, chunks, questions)
                print(
                    f"    {name:9} {analyzer.value:15} {recall.at_1:6.3f} {recall.at_5:6.3f} "
                    f"{recall.chunks_per_s:15.0f}",
                    flush=True,
                )
                if postgres is not None and isinstance(index, PgKnowledgeIndex):
                    baseline = cmrc_ts_rank_recall(postgres[1], index, questions)
                    print(
                        f"    {'  ts_rank':9} {analyzer.value:15} {baseline.at_1:6.3f} {baseline.at_5:6.3f}", flush=True
                    )

        queries = scifact_queries(args.data)
        print(
            f"\n(b) latency, ms p50 / p95 of {args.queries} searches, k=10, "
            f"+filter: {ALLOWED_DOCUMENTS} documents allowed"
        )
        print("(c) ingestion, chunks/s (batches of 256)")
        for name, open_index, sizes in backends:
            for size in sizes:
                economical = ingest(args.data, open_index(Analyzer.JIEBA), size, vectors=False)
                index = open_index(Analyzer.JIEBA)
                high_quality = ingest(args.data, index, size, vectors=True)
                print(
                    f"  {name} {size:,} chunks: ingestion economical {economical:,.0f}/s, "
                    f"high quality {high_quality:,.0f}/s",
                    flush=True,
                )
                for label, (p50, p95) in latencies(index, size, queries, args.queries).items():
                    print(f"    {label:16} {p50:7.1f} / {p95:7.1f}", flush=True)


if __name__ == "__main__":
    main()
