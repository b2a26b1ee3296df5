"""PDF -> one section per page (pypdf, pure Python: nothing to install on the host).

pypdf bounds what a compressed stream may inflate to (``pypdf.filters.ZLIB_MAX_OUTPUT_LENGTH``),
so a small PDF cannot expand into gigabytes; the page count is checked before any text is read.
A PDF locked with an owner password only (printing or copying restricted) opens with the empty
user password and is read; one that needs a password to open is refused.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from builder.knowledge.loading.errors import DocumentError, ErrorCode
from builder.knowledge.loading.limits import LoadLimits
from builder.knowledge.loading.sections import SectionCollector

if TYPE_CHECKING:
    from pypdf import PasswordType, PdfReader


def add_pdf(data: bytes, collector: SectionCollector, limits: LoadLimits) -> str | None:
    """Add each page's text; returns the title from the PDF's metadata, if any."""
    # Imported here, not at the top: a parser process imports only what its format needs.
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and _open_without_password(reader) is PasswordType.NOT_DECRYPTED:
            raise DocumentError(ErrorCode.ENCRYPTED_PDF)
        count = len(reader.pages)
        if count > limits.max_pdf_pages:
            raise DocumentError(ErrorCode.TOO_MANY_PAGES, count=count, limit=limits.max_pdf_pages)
        for number, page in enumerate(reader.pages, start=1):
            collector.add(page.extract_text(), page=number)
        metadata = reader.metadata
        return metadata.title if metadata is not None else None
    except (DocumentError, MemoryError):
        raise
    except Exception as error:  # pypdf raises far more than PdfReadError on a damaged file
        raise DocumentError(ErrorCode.CORRUPT_FILE, kind="pdf") from error


def _open_without_password(reader: PdfReader) -> PasswordType:
    try:
        return reader.decrypt("")
    except Exception as error:  # an encryption pypdf cannot handle is as closed as a password
        raise DocumentError(ErrorCode.ENCRYPTED_PDF) from error
