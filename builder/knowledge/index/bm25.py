"""BM25 as both backends compute it: SQLite FTS5's ``bm25()``, which the PostgreSQL backend copies.

    score(chunk) = Σ over query terms t in the chunk of
                   idf(t) · tf · (k1 + 1) / (tf + k1 · (1 − b + b · length / average length))
    idf(t)       = ln((N − df + 0.5) / (df + 0.5)), floored at 1e-6

with N, df and the average length those of the chunk's knowledge base.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

K1 = 1.2
B = 0.75
MIN_IDF = 1e-6


def idf(chunk_count: int, document_frequency: int) -> float:
    return max(math.log((chunk_count - document_frequency + 0.5) / (document_frequency + 0.5)), MIN_IDF)


def scoring_terms(terms: Sequence[str], document_frequency: Mapping[str, int], chunk_count: int) -> list[str]:
    """The query terms worth matching in one knowledge base, in query order.

    A term in at least half of the chunks has its IDF floored at 1e-6: it adds next to nothing to
    any score, yet matching it makes the database score almost every chunk (at 100k chunks, "the"
    alone costs FTS5 ~100 ms). Such terms are left out unless nothing else is left, in which case
    the query is all common words and they are all there is to rank by. Terms the knowledge base
    does not contain are left out too. Both backends apply this rule, so they still agree.
    """
    present = [term for term in terms if document_frequency.get(term, 0) > 0]
    informative = [term for term in present if 2 * document_frequency[term] < chunk_count]
    return informative or present
