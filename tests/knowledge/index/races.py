"""A writer and readers at once: what each reader saw, and any exception either side raised."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable

from builder.knowledge.index import Hit


def race(
    write: Callable[[], None], searches: Callable[[], Iterable[list[Hit]]], *, readers: int, timeout_s: float
) -> list[Counter[str]]:
    """Run ``write`` once while ``readers`` threads repeat ``searches`` until it is done; each search's
    hits counted per document. Raises the first error of any thread."""
    seen: list[Counter[str]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        try:
            write()
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def reader() -> None:
        try:
            while not done.is_set():
                seen.extend(Counter(hit.document_id for hit in hits) for hits in searches())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), *(threading.Thread(target=reader) for _ in range(readers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout_s)
    if errors:
        raise errors[0]
    assert seen, "no search ran while the writer wrote"
    return seen
