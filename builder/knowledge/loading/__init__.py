"""Uploaded files and URLs -> clean text sections -> chunks. No Django here: the knowledge services
call it from background jobs, the benchmarks call it directly.

    document = load_document(data, filename="handbook.docx", limits=LoadLimits(max_bytes=...))
    document = load_document_isolated(data, filename="handbook.docx")  # the same, in a capped process
    document = await fetch_url("https://example.com/faq", client)      # an SsrfSafeHttpClient
    chunked = chunk_sections(document.sections, parse_chunking_settings({"mode": "parent_child"}))

Anything wrong with a document ends as ``DocumentError(code, …)``; see ``errors.py`` for the codes.
"""

from builder.knowledge.loading.chunking import (
    DEFAULT_SEPARATORS,
    Chunk,
    ChunkedDocument,
    ChunkingSettings,
    GeneralChunking,
    ParentChildChunking,
    Splitting,
    chunk_sections,
    parse_chunking_settings,
)
from builder.knowledge.loading.errors import MESSAGES, DocumentError, ErrorCode
from builder.knowledge.loading.isolation import load_document_isolated
from builder.knowledge.loading.limits import DEFAULT_LIMITS, LoadLimits, check_size
from builder.knowledge.loading.loaders import load_document
from builder.knowledge.loading.sections import DocumentKind, LoadedDocument, LoadedSection
from builder.knowledge.loading.url import fetch_url

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_SEPARATORS",
    "MESSAGES",
    "Chunk",
    "ChunkedDocument",
    "ChunkingSettings",
    "DocumentError",
    "DocumentKind",
    "ErrorCode",
    "GeneralChunking",
    "LoadLimits",
    "LoadedDocument",
    "LoadedSection",
    "ParentChildChunking",
    "Splitting",
    "check_size",
    "chunk_sections",
    "fetch_url",
    "load_document",
    "load_document_isolated",
    "parse_chunking_settings",
]
