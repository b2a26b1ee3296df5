"""What a document really is. The name and content type say what the uploader claims; the first
bytes say what it is. A claim the content contradicts is refused, so a renamed file never reaches
the wrong parser (and an attacker cannot pick the parser)."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from enum import StrEnum

from builder.knowledge.loading.encoding import looks_like_text
from builder.knowledge.loading.errors import DocumentError, ErrorCode
from builder.knowledge.loading.sections import DocumentKind

_BY_EXTENSION = {
    ".txt": DocumentKind.TXT,
    ".text": DocumentKind.TXT,
    ".md": DocumentKind.MD,
    ".markdown": DocumentKind.MD,
    ".html": DocumentKind.HTML,
    ".htm": DocumentKind.HTML,
    ".xhtml": DocumentKind.HTML,
    ".pdf": DocumentKind.PDF,
    ".docx": DocumentKind.DOCX,
    ".csv": DocumentKind.CSV,
    ".xlsx": DocumentKind.XLSX,
}
_BY_CONTENT_TYPE = {
    "text/plain": DocumentKind.TXT,
    "text/markdown": DocumentKind.MD,
    "text/x-markdown": DocumentKind.MD,
    "text/html": DocumentKind.HTML,
    "application/xhtml+xml": DocumentKind.HTML,
    "application/pdf": DocumentKind.PDF,
    "application/x-pdf": DocumentKind.PDF,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": DocumentKind.DOCX,
    "text/csv": DocumentKind.CSV,
    "application/csv": DocumentKind.CSV,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": DocumentKind.XLSX,
}
# Labels that say nothing about the content: decide from the bytes.
_GENERIC_CONTENT_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}
_TEXT_KINDS = {DocumentKind.TXT, DocumentKind.MD, DocumentKind.HTML, DocumentKind.CSV}
_OFFICE_KINDS = (DocumentKind.DOCX, DocumentKind.XLSX)
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A password-protected docx/xlsx is an OLE2 file holding these two streams (MS-OFFCRYPTO).
_OLE2_ENCRYPTED_MARKERS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))
_EXTENSION = re.compile(r"^\.[a-z][a-z0-9]{0,9}$")
_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)


class Content(StrEnum):
    """What the bytes are, as far as the first bytes and the zip directory tell."""

    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    ZIP = "zip"
    DAMAGED_ZIP = "damaged zip"
    ENCRYPTED_OFFICE = "encrypted office"
    LEGACY_OFFICE = "doc/xls/ppt"
    TEXT = "text"
    BINARY = "binary"


def kind_from_filename(filename: str | None) -> DocumentKind | None:
    """The kind its extension names; None without an extension; ``unsupported_type`` for others."""
    extension = posixpath.splitext((filename or "").strip().lower())[1]
    if not _EXTENSION.match(extension):  # none, or not one ("notes v1.2 final")
        return None
    if extension not in _BY_EXTENSION:
        raise DocumentError(ErrorCode.UNSUPPORTED_TYPE, kind=extension)
    return _BY_EXTENSION[extension]


def kind_from_content_type(content_type: str | None) -> DocumentKind | None:
    """The kind a MIME type names; None for a generic one; ``unsupported_type`` for others."""
    mime = media_type(content_type)
    if mime in _GENERIC_CONTENT_TYPES:
        return None
    if mime not in _BY_CONTENT_TYPE:
        raise DocumentError(ErrorCode.UNSUPPORTED_TYPE, kind=mime)
    return _BY_CONTENT_TYPE[mime]


def declared_kind(filename: str | None, content_type: str | None) -> DocumentKind | None:
    """The kind a file claims to be: its name's extension, else its content type (None: neither
    says; the content decides). Raises ``unsupported_type`` for a kind no loader reads."""
    declared = kind_from_filename(filename)
    return declared if declared is not None else kind_from_content_type(content_type)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def sniff(data: bytes) -> Content:
    head = data[:1024]
    # Readers accept junk before the header; text that merely mentions "%PDF-" is still text.
    if head.startswith(b"%PDF-") or (b"%PDF-" in head and not looks_like_text(head)):
        return Content.PDF
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_content(data)
    if head.startswith(_OLE2_MAGIC):
        if all(marker in data for marker in _OLE2_ENCRYPTED_MARKERS):
            return Content.ENCRYPTED_OFFICE
        return Content.LEGACY_OFFICE
    return Content.TEXT if looks_like_text(data[:8192]) else Content.BINARY


def resolve_kind(data: bytes, declared: DocumentKind | None) -> DocumentKind:
    """The kind to parse ``data`` as: the declared one if the content agrees, else a typed error."""
    content = sniff(data)
    if content is Content.TEXT:
        if declared is None:
            return DocumentKind.HTML if _HTML_START.match(data[:4096]) else DocumentKind.TXT
        if declared in _TEXT_KINDS:  # txt/md/html/csv cannot be told apart reliably: trust the name
            return declared
    elif content in (Content.PDF, Content.DOCX, Content.XLSX):
        actual = DocumentKind(content.value)
        if declared in (None, actual):
            return actual
    elif content is Content.ENCRYPTED_OFFICE and declared in (None, *_OFFICE_KINDS):
        raise DocumentError(ErrorCode.ENCRYPTED_OFFICE)
    elif content is Content.DAMAGED_ZIP and declared in _OFFICE_KINDS:
        raise DocumentError(ErrorCode.CORRUPT_FILE, kind=declared.value)
    if declared is None:
        raise DocumentError(ErrorCode.UNSUPPORTED_TYPE, kind=content.value)
    raise DocumentError(ErrorCode.TYPE_MISMATCH, declared=declared.value, actual=content.value)


def _zip_content(data: bytes) -> Content:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return Content.DAMAGED_ZIP
    if "word/document.xml" in names:
        return Content.DOCX
    if "xl/workbook.xml" in names:
        return Content.XLSX
    return Content.ZIP
