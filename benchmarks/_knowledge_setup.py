"""What the knowledge benchmarks share: a throwaway deployment driven through the product's services.

:class:`Deployment` is Agentloom as a user runs it, in a temp dir: the Django settings module,
an application database (SQLite under ``AGENTLOOM_VAR_DIR``, migrated), a user and a workspace.
Knowledge bases are made with ``knowledge_base_create``, documents uploaded with
``document_upload`` (one generated ``.txt`` file per document) and indexed by the ingestion the
upload dispatches (a background thread, as in the embedded default), and every search goes
through ``WorkspaceKnowledge.retrieve``, what the knowledge_retrieval node calls. Its knowledge
index is the embedded default (SQLite, FTS5 + sqlite-vec) or, with ``backend="postgres"``, the
production one (PostgreSQL + pgvector, from ``pgserver``, via ``AGENTLOOM_KNOWLEDGE_INDEX_URL``;
the application database stays SQLite: the index is what is measured).

Embeddings: the local MiniLM, with two benchmark-only substitutions that leave every other step
in place — :func:`cached_document_vectors` (MiniLM's own document vectors, kept on disk by text so
a second run skips the model) and :func:`stand_in_document_vectors` (pseudo-random unit vectors
for the latency corpus, where only the cost of searching counts). Queries are always embedded by
MiniLM, live.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import json
import math
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
VECTOR_CACHE = Path(tempfile.gettempdir()) / "agentloom-bench-vectors" / "minilm-documents.sqlite3"
CHUNK_SEPARATOR = "\n\n"


# -- the deployment --------------------------------------------------------------------------


@dataclass
class Deployment:
    backend: str
    workdir: Path
    postgres_uri: str | None
    user: Any = None
    workspace: Any = None
    _indexes: int = 0
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def use_index(self, analyzer: str, *, memory_copies: bool = True) -> Any:
        """Point the deployment at a new, empty knowledge index that tokenises Chinese with ``analyzer``.

        (The analyzer is fixed per index, so each one gets its own SQLite file or PostgreSQL database.)
        ``memory_copies=False``: the SQLite index never searches in memory (for comparison).
        """
        from django.conf import settings

        from builder.knowledge import index_store
        from builder.knowledge.index import Analyzer, SqliteKnowledgeIndex

        self._indexes += 1
        settings.KNOWLEDGE_ANALYZER = analyzer
        if self.postgres_uri is not None:
            database = f"knowledge_{self._indexes}"
            import psycopg

            with psycopg.connect(self.postgres_uri, autocommit=True) as connection:
                connection.execute(f"CREATE DATABASE {database}")
            settings.KNOWLEDGE_INDEX_URL = urlunsplit(urlsplit(self.postgres_uri)._replace(path=f"/{database}"))
        else:
            settings.KNOWLEDGE_INDEX_PATH = self.workdir / "var" / f"knowledge-{self._indexes}.sqlite3"
        index_store.reset_knowledge_index()
        index = index_store.knowledge_index()
        if not memory_copies and isinstance(index, SqliteKnowledgeIndex):
            index.close()
            # Benchmark-only: the same file, opened with the in-memory copies turned off.
            index_store._index = SqliteKnowledgeIndex(
                settings.KNOWLEDGE_INDEX_PATH, analyzer=Analyzer(analyzer), resident_min_chunks=None
            )
        return index_store.knowledge_index()

    def knowledge_base(self, name: str, *, high_quality: bool, chunk_size: int = 8000) -> Any:
        """A knowledge base whose chunks are the uploaded texts' paragraphs (``\\n\\n``) up to ``chunk_size``."""
        from builder.knowledge.models import KnowledgeBase
        from builder.knowledge.services import knowledge_base_create

        mode = KnowledgeBase.IndexMode.HIGH_QUALITY if high_quality else KnowledgeBase.IndexMode.ECONOMICAL
        return knowledge_base_create(
            actor=self.user,
            workspace=self.workspace,
            name=f"{name} {uuid.uuid4().hex[:6]}",
            index_mode=mode,
            chunking={"mode": "general", "chunk_size": chunk_size, "chunk_overlap": 0, "separators": ["\n\n", "\n"]},
        )

    def upload(self, kb: Any, documents: Iterable[tuple[str, str]], *, timeout_s: float = 7200) -> Ingested:
        """Upload each ``(name, text)`` as a ``.txt`` document and wait until all are indexed."""
        from builder.knowledge.models import Document
        from builder.knowledge.services import document_upload

        started = time.perf_counter()
        names = {}
        for name, text in documents:
            document = document_upload(
                actor=self.user, knowledge_base=kb, name=f"{name}.txt", content=text.encode(), content_type="text/plain"
            )
            names[str(document.pk)] = name
        deadline = time.monotonic() + timeout_s
        pending = Document.objects.filter(knowledge_base=kb, status__in=Document.IN_PROGRESS)
        while pending.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pending.count()} documents of {kb.name} still indexing")
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        failed = list(Document.objects.filter(knowledge_base=kb, status=Document.Status.FAILED)[:3])
        if failed:
            raise RuntimeError(f"documents failed to index: {[(d.name, d.error) for d in failed]}")
        chunks = sum(Document.objects.filter(knowledge_base=kb).values_list("chunk_count", flat=True))
        return Ingested(names=names, chunks=chunks, seconds=elapsed)

    def search(self, kb: Any, query: str, *, mode: str, top_k: int) -> list[dict[str, Any]]:
        """What the knowledge_retrieval node gets for ``query``."""
        from builder.knowledge.retriever import WorkspaceKnowledge

        knowledge = WorkspaceKnowledge(self.workspace.pk)
        return self._loop.run_until_complete(
            knowledge.retrieve(query, [str(kb.pk)], top_k=top_k, score_threshold=0.0, mode=mode)
        )


@dataclass
class Ingested:
    names: dict[str, str]
    """Document id → the name it was uploaded under (without ``.txt``)."""
    chunks: int
    seconds: float

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds


@contextlib.contextmanager
def deployment(backend: str) -> Iterator[Deployment]:
    """A migrated throwaway deployment in a temp dir, with a user and a workspace."""
    with tempfile.TemporaryDirectory(prefix="agentloom-knowledge-bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        # The embedded default for everything but the knowledge index.
        for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AGENTLOOM_KNOWLEDGE_INDEX_URL"):
            os.environ.pop(name, None)
        os.environ["AGENTLOOM_VAR_DIR"] = str(workdir / "var")
        os.environ["DJANGO_SETTINGS_MODULE"] = "builder.config.settings"
        os.environ.setdefault("AGENTLOOM_LOG_LEVEL", "WARNING")
        postgres_uri = stack.enter_context(pgserver_uri(workdir)) if backend == "postgres" else None

        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)

        from builder.accounts.services import user_create, workspace_create

        bench = Deployment(backend=backend, workdir=workdir, postgres_uri=postgres_uri)
        bench.user = user_create(username="bench", email="bench@example.com", password=None)
        bench.workspace = workspace_create(actor=bench.user, name="Benchmarks")
        try:
            yield bench
        finally:
            from builder.knowledge.index_store import reset_knowledge_index

            reset_knowledge_index()
            bench._loop.close()


@contextlib.contextmanager
def pgserver_uri(workdir: Path) -> Iterator[str]:
    """A PostgreSQL 16 with pgvector from the ``pgserver`` package, deleted afterwards."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import pgserver

        server = pgserver.get_server(workdir / "pgdata", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


# -- embeddings ------------------------------------------------------------------------------


@contextlib.contextmanager
def cached_document_vectors() -> Iterator[None]:
    """MiniLM document vectors, kept on disk by text (first run: the model; then: the cache).
    Queries are embedded live."""
    from builder.knowledge.embeddings import LocalMiniLM

    live = LocalMiniLM.embed_documents
    with _vector_cache(live) as cached, _patched(LocalMiniLM, cached, live):
        yield


@contextlib.contextmanager
def stand_in_document_vectors() -> Iterator[None]:
    """Stand-in document vectors for the latency corpus (MiniLM would embed 100k chunks in ~17 min
    on 2 cores), shaped like real ones: each a mix of two MiniLM vectors of SciFact titles and a
    little noise, picked by the text's hash. (Uniform random vectors would misstate pgvector: its
    HNSW index takes ~4 ms to insert one and finds half of the true neighbours, against ~1 ms and
    most of them for embeddings, which cluster.) Queries: MiniLM, live."""
    import numpy as np

    from builder.knowledge.embeddings import LocalMiniLM

    live = LocalMiniLM.embed_documents
    with _vector_cache(live) as cached:
        titles = [text.split("\n", 1)[0] for text in list(scifact().corpus.values())[:1000]]
        bases = np.asarray(cached(LocalMiniLM(), titles), dtype=np.float64)

    def embed_documents(self: LocalMiniLM, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            rng = np.random.default_rng(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))
            first, second = rng.choice(len(bases), size=2, replace=False)
            mixed = bases[first] + 0.5 * bases[second] + rng.normal(scale=0.02, size=bases.shape[1])
            vectors.append((mixed / np.linalg.norm(mixed)).tolist())
        return vectors

    with _patched(LocalMiniLM, embed_documents, live):
        yield


@contextlib.contextmanager
def _vector_cache(live: Any) -> Iterator[Any]:
    """``embed_documents`` that looks each text up on disk first and embeds the rest with ``live``."""
    import numpy as np

    from builder.knowledge.embeddings import LocalMiniLM

    VECTOR_CACHE.parent.mkdir(parents=True, exist_ok=True)
    cache = sqlite3.connect(VECTOR_CACHE, check_same_thread=False, isolation_level=None, timeout=60)
    cache.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def embed_documents(self: LocalMiniLM, texts: Sequence[str]) -> list[list[float]]:
        keys = [hashlib.sha256(f"{LocalMiniLM.name}\x00{text}".encode()).hexdigest() for text in texts]
        found = dict(
            cache.execute(
                "SELECT key, vector FROM vectors WHERE key IN (SELECT value FROM json_each(?))", (json.dumps(keys),)
            ).fetchall()
        )
        missing = [n for n, key in enumerate(keys) if key not in found]
        for start in range(0, len(missing), 256):
            batch = missing[start : start + 256]
            vectors = live(self, [texts[n] for n in batch])
            rows = [(keys[n], np.asarray(v, dtype=np.float32).tobytes()) for n, v in zip(batch, vectors, strict=True)]
            cache.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            found.update(rows)
        return [np.frombuffer(found[key], dtype=np.float32).tolist() for key in keys]

    try:
        yield embed_documents
    finally:
        cache.close()


@contextlib.contextmanager
def _patched(cls: Any, embed_documents: Any, live: Any) -> Iterator[None]:
    saved = cls.embed_documents, cls.embed_query
    cls.embed_documents = embed_documents
    cls.embed_query = lambda self, text: live(self, [text])[0]
    try:
        yield
    finally:
        cls.embed_documents, cls.embed_query = saved


# -- data sets -------------------------------------------------------------------------------


@dataclass
class SciFact:
    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def scifact(data: Path = DATA) -> SciFact:
    """SciFact test: 5,183 abstracts (title + text), 300 queries with graded relevance."""
    root = data / "scifact" / "beir_format"
    corpus = {}
    with (root / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            doc = json.loads(line)
            corpus[doc["_id"]] = f"{doc['title']}\n{doc['text']}".strip()
    qrels: dict[str, dict[str, int]] = {}
    with (root / "qrels" / "test.tsv").open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {}
    with (root / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            query = json.loads(line)
            if query["_id"] in qrels:
                queries[query["_id"]] = query["text"]
    return SciFact(corpus=corpus, queries=queries, qrels=qrels)


@dataclass
class Cmrc:
    paragraphs: dict[str, str]
    questions: list[tuple[str, str]]
    """(question, id of the paragraph that answers it)."""


def cmrc(data: Path = DATA) -> Cmrc:
    """CMRC 2018 dev: 848 paragraphs, 3,219 questions."""
    raw = json.loads((data / "cmrc2018" / "cmrc2018_dev.squad.json").read_text(encoding="utf-8"))
    paragraphs, questions = {}, []
    for article in raw["data"]:
        for paragraph in article["paragraphs"]:
            paragraphs[paragraph["id"]] = paragraph["context"]
            questions += [(qa["question"], paragraph["id"]) for qa in paragraph["qas"]]
    return Cmrc(paragraphs=paragraphs, questions=questions)


def synthetic_documents(
    count: int, *, chunks_per_document: int = 50, words: int = 120, seed: int = 7
) -> Iterator[tuple[str, str]]:
    """``count`` chunks of ``words`` English words drawn from SciFact's word frequencies (Zipf-like),
    as documents of ``chunks_per_document`` paragraphs."""
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    for text in scifact().corpus.values():
        counts.update(re.findall(r"\w+", text))
    vocabulary = list(counts)
    cumulative = list(_accumulate([counts[word] for word in vocabulary]))
    for start in range(0, count, chunks_per_document):
        paragraphs = [
            " ".join(rng.choices(vocabulary, cum_weights=cumulative, k=words))
            for _ in range(min(chunks_per_document, count - start))
        ]
        yield f"doc{start // chunks_per_document:05d}", CHUNK_SEPARATOR.join(paragraphs)


def _accumulate(weights: Sequence[int]) -> Iterator[int]:
    total = 0
    for weight in weights:
        total += weight
        yield total


# -- figures ---------------------------------------------------------------------------------


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1000, cuts[94] * 1000


def ndcg_at_10(ranked: Sequence[str], gains: dict[str, int]) -> float:
    dcg = sum(gains.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:10]))
    ideal = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(sorted(gains.values(), reverse=True)[:10]))
    return dcg / ideal


def distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
