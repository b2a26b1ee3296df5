"""Knowledge search at scale, through the product: latency at 10k and 100k chunks, ingestion speed.

    .venv/bin/python benchmarks/knowledge_index.py [--backend sqlite|postgres] [--sizes 10000 100000]
                                                  [--queries 200] [--quick] [--no-memory-copies]

For each size, on a fresh knowledge index of the chosen backend (see ``_knowledge_setup.py``: the
embedded default SQLite, or PostgreSQL + pgvector from ``pgserver``):

(a) ingestion, chunks/s: the same generated documents uploaded (``document_upload``) into an
    economical and a high-quality knowledge base, timed from the first upload until the last
    document is ready (parse, chunk, store the chunks, embed, index). High quality gets stand-in
    document vectors (pseudo-random, 384 dimensions: MiniLM itself would take ~17 min for 100k
    chunks), so the figure is the pipeline's and the index's; MiniLM's own document rate is
    printed apart.
(b) latency p50/p95 of ``WorkspaceKnowledge.retrieve`` (what the knowledge_retrieval node calls;
    top_k 10, the allow-list of ready documents as always) in full_text, semantic and hybrid mode
    over the high-quality knowledge base, for the 300 SciFact test queries (cycled). Semantic and
    hybrid include embedding the query with MiniLM (live; its own p50/p95 printed apart).

The corpus is synthetic: chunks of 120 English words drawn from SciFact's word frequencies, 50
chunks (paragraphs) per document, so 100k chunks are 2,000 uploaded documents. Random text is the
hard case for BM25: a question's mid-frequency words each occur in 5-40% of the chunks. On SQLite a
knowledge base of 20k chunks or more is searched in memory once its copy is built, on PostgreSQL
one of 5k chunks or more is ranked by BM25 in memory (its vectors stay in pgvector); the copy is
built in the background after the first search (``--no-memory-copies``: SQLite only, FTS5 and
sqlite-vec), and here explicitly (``warm``) before timing, its build time printed. ``--quick``:
2,000 and 10,000 chunks, 50 queries. Nothing is asserted.

Measured on 2 shared cores (other engineers' jobs running), 2026-11-25, with the defaults:
SQLite (``--backend sqlite``, ~3 min, load average 1-2; MiniLM: a query 8-9 ms p50, 11-13 ms p95,
documents ~38 chunks/s) and PostgreSQL (``--backend postgres``, ~17 min, load average 2-3); the
"no copies" columns are SQLite with ``--no-memory-copies`` and PostgreSQL before it had copies
(BM25 in SQL):

    ms p50 / p95     sqlite 10k    sqlite 100k   (no copies)    postgres 10k  postgres 100k  (no copies)
    full_text        7.0 / 10.9    9.0 / 10.9    66.6 / 104.3   2.9 /  3.3    10.8 / 13.5    303.8 / 511.9
    semantic        20.7 / 23.6   31.1 / 36.9    75.4 /  78.5   20.1 / 25.8    32.1 / 40.7     31.8 /  40.8
    hybrid          28.9 / 34.8   35.8 / 43.5    96.2 / 123.9   27.3 / 36.1    42.4 / 57.3    335.9 / 574.2

    ingestion, chunks/s  sqlite 10k    sqlite 100k    postgres 10k   postgres 100k
    economical            2,206         1,798          955            862
    high quality          1,626         1,430          260            377

In-memory copies at 100k: SQLite's (BM25 and vectors) took 6.2 s to build and 240 MB,
PostgreSQL's (BM25 only) 7.0 s and 94 MB (10k: 0.7 s, 12 MB); a build needs about three times
its size while it runs. Every figure includes what the node pays besides the search: reading the
allow-list of ready documents (2,000 here, ~6 ms) and, for semantic and hybrid, embedding the
query. PostgreSQL high quality is bound by pgvector's HNSW inserts (~1 ms a vector for
embedding-like vectors, ~4 ms for uniform random ones); without a copy its BM25 is bound by
scoring each matching chunk's tsvector in SQL.
"""

from __future__ import annotations

import argparse
import itertools
import time

from _knowledge_setup import (
    Deployment,
    deployment,
    percentiles,
    scifact,
    stand_in_document_vectors,
    synthetic_documents,
)

MODES = ["full_text", "semantic", "hybrid"]


def run_size(bench: Deployment, size: int, queries: list[str], repetitions: int, memory_copies: bool) -> None:
    from builder.knowledge.index import PgKnowledgeIndex, SqliteKnowledgeIndex

    index = bench.use_index("jieba", memory_copies=memory_copies)
    documents = list(synthetic_documents(size))
    rates = {}
    kbs = {}
    for mode in ("economical", "high_quality"):
        kbs[mode] = bench.knowledge_base(f"scale {mode}", high_quality=mode == "high_quality", chunk_size=1000)
        ingested = bench.upload(kbs[mode], documents)
        assert ingested.chunks == size, ingested.chunks
        rates[mode] = ingested.chunks_per_s
    print(
        f"  {bench.backend} {size:,} chunks: ingestion economical {rates['economical']:,.0f}/s, "
        f"high quality {rates['high_quality']:,.0f}/s",
        flush=True,
    )
    kb = kbs["high_quality"]
    if isinstance(index, SqliteKnowledgeIndex | PgKnowledgeIndex) and memory_copies:
        started = time.perf_counter()
        index.warm([str(kb.pk)])
        copies = index._copies.copies.values()
        size_mb = sum(copy.nbytes for copy in copies) / 1e6
        if copies:
            print(f"    in-memory copy built in {time.perf_counter() - started:.1f} s, {size_mb:.0f} MB", flush=True)
    cycle = itertools.cycle(queries)
    for mode in MODES:
        bench.search(kb, next(cycle), mode=mode, top_k=10)  # warm the caches once
        samples = []
        for _ in range(repetitions):
            query = next(cycle)
            started = time.perf_counter()
            bench.search(kb, query, mode=mode, top_k=10)
            samples.append(time.perf_counter() - started)
        p50, p95 = percentiles(samples)
        print(f"    {mode:10} {p50:7.1f} / {p95:7.1f} ms", flush=True)


def minilm_rates(queries: list[str], texts: list[str]) -> None:
    from builder.knowledge.embeddings import LocalMiniLM

    model = LocalMiniLM()
    model.embed_query("warm up")
    samples = []
    for query in queries[:100]:
        started = time.perf_counter()
        model.embed_query(query)
        samples.append(time.perf_counter() - started)
    p50, p95 = percentiles(samples)
    started = time.perf_counter()
    model.embed_documents(texts)
    rate = len(texts) / (time.perf_counter() - started)
    print(f"  MiniLM: a query {p50:.1f} / {p95:.1f} ms (p50 / p95); documents {rate:.0f} chunks/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="searches per latency figure")
    parser.add_argument("--quick", action="store_true", help="2,000 and 10,000 chunks, 50 queries")
    parser.add_argument("--no-memory-copies", action="store_true", help="SQLite: FTS5 and sqlite-vec only")
    args = parser.parse_args()
    sizes, repetitions = ([2_000, 10_000], 50) if args.quick else (args.sizes, args.queries)
    queries = list(scifact().queries.values())
    with deployment(args.backend) as bench:
        print(f"knowledge index: {args.backend}; latency ms p50 / p95 of {repetitions} searches, top_k 10", flush=True)
        _, sample = next(synthetic_documents(256, chunks_per_document=256))
        minilm_rates(queries, sample.split("\n\n"))
        with stand_in_document_vectors():
            for size in sizes:
                run_size(bench, size, queries, repetitions, not args.no_memory_copies)


if __name__ == "__main__":
    main()
