"""How much one document may cost to read. Every loader checks these before or while it parses, so
a hostile or broken file ends with a ``DocumentError`` instead of a hang or an exhausted worker.

The parse itself runs in a child process (``isolation.py``) whose address space and CPU time the
kernel caps at ``max_parse_memory_bytes`` and about ``max_parse_seconds``: the budgets the loaders
check give a precise reason, the rlimits hold even where a parser has no loop to check them in."""

from __future__ import annotations

from dataclasses import dataclass

from builder.knowledge.loading.errors import DocumentError, ErrorCode, human_size

MB = 1024 * 1024


@dataclass(frozen=True)
class LoadLimits:
    # The upload itself; checked before anything is parsed (see ``check_size``).
    max_bytes: int = 50 * MB
    max_pdf_pages: int = 2_000
    # Spreadsheet and CSV rows, over all sheets; empty rows count too, since reading them costs time.
    max_rows: int = 100_000
    max_cells: int = 2_000_000
    # Text extracted from one document (a small PDF or docx can expand to much more text).
    max_text_chars: int = 20_000_000
    # docx / xlsx are zip files: what their members declare they unpack to, checked before unpacking.
    max_unzipped_bytes: int = 300 * MB
    max_zip_members: int = 10_000
    # Apache POI's default (ZipSecureFile.MIN_INFLATE_RATIO = 0.01): a member may unpack to at most
    # 100 times its packed size, once it is larger than the grace size below.
    max_zip_ratio: int = 100
    zip_ratio_grace_bytes: int = 1 * MB
    # XML and HTML elements read from one document (tags, counted as the bytes stream in, before
    # the parser sees them). Streamed formats (docx, xlsx) cost time per element, HTML memory too:
    # a 1,000-page docx holds ~1 million.
    max_elements: int = 2_000_000
    # Wall-clock time to read one document, and the memory its parser process may map.
    max_parse_seconds: float = 120.0
    max_parse_memory_bytes: int = 1024 * MB

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value <= 0:
                raise ValueError(f"LoadLimits.{name} must be positive, not {value}")


DEFAULT_LIMITS = LoadLimits()


def check_size(size: int, limits: LoadLimits = DEFAULT_LIMITS) -> None:
    """Refuse a document by its size alone. Call it with the declared size of an upload before
    reading the body, so a 200 MB file is refused without being held in memory."""
    if size > limits.max_bytes:
        raise DocumentError(ErrorCode.TOO_LARGE, size=human_size(size), limit=human_size(limits.max_bytes))
    if size == 0:
        raise DocumentError(ErrorCode.EMPTY_FILE)
