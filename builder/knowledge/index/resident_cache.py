"""Which in-memory copies (:mod:`~builder.knowledge.index.resident`) an index keeps, and when it
builds them: the same for both backends, which only say how to read a space.

Knowledge bases of ``min_chunks`` chunks or more get a copy. A search takes the copy only when its
version is the one the search's snapshot sees; a missing or stale copy is built in one background
thread once the knowledge base has had no write for ``quiet_s`` (an ingestion in progress would
make every rebuild stale at once), and meanwhile the database answers: the copy changes how fast,
never what. Copies beyond ``max_bytes`` are dropped, least recently searched first.

Copies are kept by knowledge base id: versions come from one counter per index and are never
reused, so a copy's version names the space it was built from, and the copy of a dropped and
re-created knowledge base (by another process, say) is stale and soon replaced, not kept beside.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from builder.knowledge.index.base import UnknownKnowledgeBase
from builder.knowledge.index.resident import BuildCancelled, ResidentSpace

# At most this much memory for in-memory copies, per index. 100k chunks of 120 words take ~90 MB
# for BM25, ~250 MB with 384-dimension vectors.
RESIDENT_MAX_BYTES = 1 << 30
# A copy is rebuilt once its knowledge base has had no write for this long.
RESIDENT_QUIET_S = 1.0

logger = logging.getLogger(__name__)


class Space(Protocol):
    """What the cache needs to know of a space, as one read transaction sees it."""

    @property
    def kb_id(self) -> str: ...
    @property
    def chunk_count(self) -> int: ...
    @property
    def version(self) -> int: ...


class ResidentCache:
    """The in-memory copies of one index's spaces, by knowledge base id.

    The backend gives two callbacks for background builds: ``version_of(kb_id)``, the space's
    version now (``None``: it is gone), and ``build_latest(kb_id)``, a copy of the space as one
    new read transaction sees it (``None``: it is gone or no longer large enough). ``inline``:
    build a missing or stale copy inside the search that needs it instead (tests). Thread-safe.
    """

    def __init__(
        self,
        *,
        min_chunks: int | None,
        max_bytes: int,
        inline: bool,
        version_of: Callable[[str], int | None],
        build_latest: Callable[[str], ResidentSpace | None],
        quiet_s: float = RESIDENT_QUIET_S,
    ) -> None:
        self.min_chunks = min_chunks
        self.max_bytes = max_bytes
        self.inline = inline
        self._version_of = version_of
        self._build_latest = build_latest
        self._quiet_s = quiet_s
        # knowledge base id -> copy, least recently searched first.
        self._copies: OrderedDict[str, ResidentSpace] = OrderedDict()
        self._lock = threading.Lock()
        self._builder: ThreadPoolExecutor | None = None
        self._building: set[str] = set()
        self._stop = threading.Event()

    @property
    def copies(self) -> dict[str, ResidentSpace]:
        with self._lock:
            return dict(self._copies)

    @property
    def building(self) -> bool:
        with self._lock:
            return bool(self._building)

    def cancelled(self) -> bool:
        """Whether the index is closing: a build in progress stops at its next check."""
        return self._stop.is_set()

    def wants(self, space: Space) -> bool:
        return self.min_chunks is not None and space.chunk_count >= self.min_chunks

    def fresh(self, space: Space) -> ResidentSpace | None:
        with self._lock:
            copy = self._copies.get(space.kb_id)
        return copy if copy is not None and copy.version == space.version else None

    def lookup(self, space: Space, build_here: Callable[[], ResidentSpace]) -> ResidentSpace | None:
        """The copy that can answer for ``space`` as the caller's transaction sees it, if any.

        ``build_here`` builds one in that transaction (inline mode); otherwise a missing or stale
        copy is scheduled for a background build and the caller searches the database.
        """
        if not self.wants(space):
            self.forget(space.kb_id)
            return None
        with self._lock:
            current = self._copies.get(space.kb_id)
            if current is not None:
                self._copies.move_to_end(space.kb_id)
        if current is not None and current.version == space.version:
            return current
        if self.inline:
            copy = build_here()
            self.store(space.kb_id, copy)
            return copy
        if current is None or current.version < space.version:  # not when this snapshot is the older
            self._schedule(space.kb_id)
        return None

    def store(self, kb_id: str, copy: ResidentSpace) -> None:
        with self._lock:
            current = self._copies.get(kb_id)
            if current is not None and current.version > copy.version:
                return  # another thread already stored a newer one
            self._copies[kb_id] = copy
            self._copies.move_to_end(kb_id)
            # Least recently searched copies go until the budget is met (never the one just built).
            while len(self._copies) > 1 and sum(item.nbytes for item in self._copies.values()) > self.max_bytes:
                evicted, _ = self._copies.popitem(last=False)
                logger.info("knowledge index: in-memory copy of %s evicted (memory budget)", evicted)

    def forget(self, kb_id: str) -> None:
        with self._lock:
            self._copies.pop(kb_id, None)

    def close(self) -> None:
        """Stop building (a build in progress stops at its next check) and drop every copy."""
        with self._lock:
            self._stop.set()
            builder = self._builder
        if builder is not None:
            builder.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._copies.clear()

    def _schedule(self, kb_id: str) -> None:
        with self._lock:  # close() stops under this lock: no submit after its shutdown
            if kb_id in self._building or self._stop.is_set():
                return
            self._building.add(kb_id)
            if self._builder is None:
                self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="knowledge-index-copy")
            self._builder.submit(self._rebuild_when_quiet, kb_id)

    def _rebuild_when_quiet(self, kb_id: str) -> None:
        """Background: wait until the knowledge base has had no write for ``quiet_s``, then build
        its copy from one snapshot."""
        try:
            while not self._stop.is_set():
                before = self._version_of(kb_id)
                if before is None or self._stop.wait(self._quiet_s):
                    return
                if self._version_of(kb_id) != before:
                    continue  # still being written: building now would be stale at once
                started = time.perf_counter()
                copy = self._build_latest(kb_id)
                if copy is None:
                    return
                self.store(kb_id, copy)
                logger.info(
                    "knowledge index: in-memory copy of %s (%d chunks, %.0f MB) built in %.1f s",
                    kb_id,
                    len(copy.keys),
                    copy.nbytes / 1e6,
                    time.perf_counter() - started,
                )
                return
        except (BuildCancelled, UnknownKnowledgeBase):
            return
        except Exception:
            if not self._stop.is_set():
                logger.exception("knowledge index: building the in-memory copy of %s failed", kb_id)
        finally:
            with self._lock:
                self._building.discard(kb_id)
