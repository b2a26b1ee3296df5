"""Retrieval quality of the product's ``retrieve()``: SciFact (English) and CMRC 2018 (Chinese).

    .venv/bin/python benchmarks/knowledge_retrieval.py [--only scifact|cmrc] [--sweep]

Through ``builder.knowledge.retrieval.retrieve`` over a ``SqliteKnowledgeIndex`` in a temp dir
(the code path of the knowledge services), with the local MiniLM embedder:

- SciFact test (5,183 abstracts, 300 queries): nDCG@10; a chunk is a whole abstract, title + text.
- CMRC 2018 dev (848 paragraphs, 3,219 questions; each question's paragraph is its gold):
  paragraph Recall@1 / @5.

for full_text, semantic (with and without the low-coverage fallback to full text) and hybrid
(the defaults, and with ``--sweep`` a grid of fusion methods, dense weights and RRF k). Document
vectors are cached in the temp dir's sibling ``$TMPDIR/agentloom-bench-vectors`` (never
committed). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from builder.knowledge.embeddings import LocalMiniLM
from builder.knowledge.index import Analyzer, Chunk, SqliteKnowledgeIndex
from builder.knowledge.retrieval import retrieve

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SCIFACT = DATA / "scifact" / "beir_format"
CMRC = DATA / "cmrc2018" / "cmrc2018_dev.squad.json"
CACHE = Path(tempfile.gettempdir()) / "agentloom-bench-vectors"


class CachedMiniLM(LocalMiniLM):
    """MiniLM whose document vectors are cached on disk and query vectors in memory (for sweeps)."""

    def __init__(self) -> None:
        super().__init__(batch_size=64)
        self._queries: dict[str, list[float]] = {}

    def embed_corpus(self, label: str, texts: Sequence[str]) -> list[list[float]]:
        digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
        path = CACHE / f"{label}-{digest}.npy"
        if path.exists():
            return np.load(path).tolist()  # type: ignore[no-any-return]
        started = time.monotonic()
        vectors = self.embed_documents(texts)
        print(f"  embedded {len(texts)} {label} texts in {time.monotonic() - started:.0f} s", flush=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, np.asarray(vectors, dtype=np.float32))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        if text not in self._queries:
            self._queries[text] = super().embed_query(text)
        return self._queries[text]


Config = dict[str, Any]


def configurations(sweep: bool) -> list[tuple[str, Config]]:
    configs: list[tuple[str, Config]] = [
        ("full_text", {"mode": "full_text"}),
        ("semantic", {"mode": "semantic"}),
        ("semantic, no fallback", {"mode": "semantic", "low_coverage_fallback": False}),
        ("hybrid (defaults)", {"mode": "hybrid"}),
    ]
    if sweep:
        for weight in (0.3, 0.4, 0.5, 0.6):
            for k in (10, 60):
                configs.append((f"hybrid rrf w={weight} k={k}", {"mode": "hybrid", "dense_weight": weight, "rrf_k": k}))
        for weight in (0.3, 0.4, 0.5, 0.6, 0.7):
            configs.append(
                (f"hybrid weighted w={weight}", {"mode": "hybrid", "fusion": "weighted", "dense_weight": weight})
            )
    return configs


def build_index(path: Path, kb_id: str, texts: dict[str, str], vectors: list[list[float]], analyzer: Analyzer) -> Any:
    index = SqliteKnowledgeIndex(path, analyzer=analyzer)
    index.create_space(kb_id, dimension=len(vectors[0]))
    items = list(texts.items())
    for start in range(0, len(items), 500):
        index.upsert(
            [
                Chunk(id=doc_id, kb_id=kb_id, document_id=doc_id, text=text, vector=vectors[start + offset])
                for offset, (doc_id, text) in enumerate(items[start : start + 500])
            ]
        )
    return index


def run(
    label: str,
    index: Any,
    kb_id: str,
    embedder: CachedMiniLM,
    queries: dict[str, str],
    score: Callable[[str, list[str]], tuple[float, ...]],
    columns: str,
    sweep: bool,
) -> None:
    print(f"{label}  ({columns})", flush=True)
    for name, config in configurations(sweep):
        started = time.monotonic()
        totals: list[float] = []
        for query_id, query in queries.items():
            hits = retrieve(index, query, kb_ids=[kb_id], embedder=embedder, top_k=10, **config)
            figures = score(query_id, [hit.document_id for hit in hits])
            totals = [a + b for a, b in zip(totals, figures, strict=True)] if totals else list(figures)
        shown = " / ".join(f"{total / len(queries):.3f}" for total in totals)
        print(f"  {name:32} {shown}   ({(time.monotonic() - started) / len(queries) * 1000:.1f} ms/query)", flush=True)


def scifact(embedder: CachedMiniLM, workdir: Path, analyzer: Analyzer, sweep: bool) -> None:
    corpus = {}
    with (SCIFACT / "corpus.jsonl").open() as lines:
        for line in lines:
            doc = json.loads(line)
            corpus[doc["_id"]] = f"{doc['title']}\n{doc['text']}".strip()
    qrels: dict[str, dict[str, int]] = {}
    with (SCIFACT / "qrels" / "test.tsv").open() as rows:
        for row in csv.DictReader(rows, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {}
    with (SCIFACT / "queries.jsonl").open() as lines:
        for line in lines:
            query = json.loads(line)
            if query["_id"] in qrels:
                queries[query["_id"]] = query["text"]
    vectors = embedder.embed_corpus("scifact", list(corpus.values()))
    index = build_index(workdir / "scifact.sqlite3", "scifact", corpus, vectors, analyzer)

    def ndcg(query_id: str, ranked: list[str]) -> tuple[float]:
        gains = qrels[query_id]
        dcg = sum(gains.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:10]))
        ideal = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(sorted(gains.values(), reverse=True)[:10]))
        return (dcg / ideal,)

    run(f"SciFact test, {len(queries)} queries", index, "scifact", embedder, queries, ndcg, "nDCG@10", sweep)
    index.close()


def cmrc(embedder: CachedMiniLM, workdir: Path, analyzer: Analyzer, sweep: bool) -> None:
    data = json.loads(CMRC.read_text())
    paragraphs: dict[str, str] = {}
    queries: dict[str, str] = {}
    gold: dict[str, str] = {}
    for article in data["data"]:
        for number, paragraph in enumerate(article["paragraphs"]):
            paragraph_id = f"{article.get('id') or article['title']}-{number}"
            paragraphs[paragraph_id] = paragraph["context"]
            for qa in paragraph["qas"]:
                queries[qa["id"]] = qa["question"]
                gold[qa["id"]] = paragraph_id
    vectors = embedder.embed_corpus("cmrc", list(paragraphs.values()))
    index = build_index(workdir / "cmrc.sqlite3", "cmrc", paragraphs, vectors, analyzer)

    def recall(query_id: str, ranked: list[str]) -> tuple[float, float]:
        return (float(gold[query_id] in ranked[:1]), float(gold[query_id] in ranked[:5]))

    run(f"CMRC 2018 dev, {len(queries)} questions", index, "cmrc", embedder, queries, recall, "Recall@1 / @5", sweep)
    index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["scifact", "cmrc"])
    parser.add_argument("--sweep", action="store_true", help="also try fusion methods, dense weights and RRF k")
    parser.add_argument("--analyzer", choices=[a.value for a in Analyzer], default=Analyzer.JIEBA.value)
    args = parser.parse_args()
    embedder = CachedMiniLM()
    with tempfile.TemporaryDirectory(prefix="agentloom-retrieval-") as tmp:
        if args.only in (None, "scifact"):
            scifact(embedder, Path(tmp), Analyzer(args.analyzer), args.sweep)
        if args.only in (None, "cmrc"):
            cmrc(embedder, Path(tmp), Analyzer(args.analyzer), args.sweep)


if __name__ == "__main__":
    main()
