"""Text analysis for full-text search: the same tokens for SQLite FTS5 and PostgreSQL.

Neither FTS5 nor PostgreSQL segments Chinese (no spaces between words), so the index never lets
the database tokenise: :func:`analyze` turns text into tokens in Python and the backends store
and query exactly those tokens. One analyzer for documents and queries is what makes a match.

- Latin, Cyrillic, digits…: NFKC-normalised (full-width ``ＡＢＣ`` → ``abc``), case-folded runs
  of letters, and runs of digits (``iPhone15`` → ``iphone``, ``15``: SciFact nDCG@10 0.678
  against 0.670 unsplit). No stemming and no stop words: BM25's IDF already discounts frequent
  words, and a stemmer is language-specific where a knowledge base is often mixed.
- Chinese (and Japanese kana) runs: by :class:`Analyzer` — jieba's search mode (words plus the
  shorter dictionary words inside long ones), or overlapping character bigrams, optionally with
  single characters as well. ``benchmarks/knowledge_index.py`` measures them on CMRC 2018.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba  # type: ignore[import-untyped]

# Han (CJK unified ideographs, extensions A-F, compatibility) plus hiragana/katakana: scripts
# written without spaces, so a run of them is segmented rather than taken as one token.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# Letters and digits only: underscores and marks separate tokens, as in FTS5's unicode61
# tokenizer, so the database would split a stored token exactly where we did (i.e. not at all).
_WORD_RUN = re.compile(r"[^\W_]+")
_SCRIPT_RUN = re.compile(f"([{_CJK}]+)|([^{_CJK}]+)")
# Digits apart from letters, so "iPhone15", "iPhone 15" and "iPhone-15" all give "iphone", "15".
_DIGITS_OR_LETTERS = re.compile(r"\d+|\D+")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_LETTER = re.compile(r"[^\W\d_]")

# Longer "words" are base64, hashes or minified code: noise for BM25, and PostgreSQL refuses
# lexemes over 2 KB.
MAX_TOKEN_CHARS = 64


class Analyzer(enum.StrEnum):
    """How Chinese runs become tokens (everything else is analysed the same way)."""

    JIEBA = "jieba"
    """jieba's search mode without HMM: dictionary words, plus the shorter ones inside long ones."""
    BIGRAM = "bigram"
    """Overlapping character bigrams; a one-character run is kept as a unigram."""
    BIGRAM_UNIGRAM = "bigram+unigram"
    """Bigrams plus every single character (recall for one-character queries, more index)."""


def analyze(text: str, analyzer: Analyzer = Analyzer.JIEBA) -> list[str]:
    """The search tokens of ``text``, in order, duplicates kept (BM25 counts them)."""
    return [token for token in _tokens(text, analyzer) if len(token) <= MAX_TOKEN_CHARS]


def cjk_ratio(text: str) -> float:
    """The share of letters in ``text`` that are Chinese or Japanese characters (0 without letters).

    The crude language signal for fusion when the embedder gives no coverage of its own: an
    English-only model sees little of a query whose letters are mostly Han characters.
    """
    letters = _LETTER.findall(text)
    if not letters:
        return 0.0
    return sum(1 for letter in letters if _CJK_CHAR.match(letter)) / len(letters)


def _tokens(text: str, analyzer: Analyzer) -> Iterator[str]:
    normalized = unicodedata.normalize("NFKC", text).casefold()
    for word in _WORD_RUN.finditer(normalized):
        for cjk, other in _SCRIPT_RUN.findall(word.group()):
            if other:
                yield from _DIGITS_OR_LETTERS.findall(other)
            elif analyzer is Analyzer.JIEBA:
                yield from _jieba_tokens(cjk)
            else:
                yield from _ngrams(cjk, with_unigrams=analyzer is Analyzer.BIGRAM_UNIGRAM)


def _ngrams(run: str, *, with_unigrams: bool) -> Iterator[str]:
    if len(run) == 1:
        yield run
        return
    for index in range(len(run)):
        if with_unigrams:
            yield run[index]
        if index + 1 < len(run):
            yield run[index : index + 2]


def _jieba_tokens(run: str) -> Iterator[str]:
    # HMM off: its guesses at unknown words segment a name differently in a question and in the
    # passage that answers it; off, an unknown word falls apart into single characters the same
    # way everywhere. On CMRC 2018 dev, Recall@1 0.956 with HMM, 0.968 without.
    for token in _jieba().cut_for_search(run, HMM=False):
        token = token.strip()
        if token:
            yield token


_jieba_lock = threading.Lock()
_jieba_tokenizer: jieba.Tokenizer | None = None


def _jieba() -> jieba.Tokenizer:
    """jieba's tokenizer, its dictionary loaded once per process (~0.4 s), on first use."""
    global _jieba_tokenizer
    with _jieba_lock:
        if _jieba_tokenizer is None:
            import jieba

            # Its default logger prints "Building prefix dict…" to stderr at DEBUG level.
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _jieba_tokenizer = tokenizer
        return _jieba_tokenizer
