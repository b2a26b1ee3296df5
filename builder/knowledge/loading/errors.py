"""The one error a document can end with, and the English text the user sees for each code.

Codes are stable (the API and the document's "failed" reason store them). Each message is a
``%``-template marked with ``gettext_noop``, so the Django layer translates it with
``gettext(error.template) % error.params``; ``message`` is the English text, for logs and tests.
"""

from __future__ import annotations

from enum import StrEnum

from builder.engine.i18n import gettext_noop

ErrorParams = dict[str, str | int]


class ErrorCode(StrEnum):
    EMPTY_FILE = "empty_file"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    TYPE_MISMATCH = "type_mismatch"
    UNKNOWN_ENCODING = "unknown_encoding"
    ENCRYPTED_PDF = "encrypted_pdf"
    ENCRYPTED_OFFICE = "encrypted_office"
    CORRUPT_FILE = "corrupt_file"
    ZIP_BOMB = "zip_bomb"
    TOO_MANY_PAGES = "too_many_pages"
    TOO_MANY_ROWS = "too_many_rows"
    TOO_MANY_CELLS = "too_many_cells"
    TOO_MUCH_TEXT = "too_much_text"
    TOO_MANY_ELEMENTS = "too_many_elements"
    PARSE_TIMEOUT = "parse_timeout"
    PARSE_MEMORY = "parse_memory"
    PARSER_FAILED = "parser_failed"
    NO_TEXT = "no_text"
    INVALID_URL = "invalid_url"
    URL_BLOCKED = "url_blocked"
    FETCH_FAILED = "fetch_failed"


MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.EMPTY_FILE: gettext_noop("The file is empty."),
    ErrorCode.TOO_LARGE: gettext_noop("The file is larger than the limit of %(limit)s."),
    ErrorCode.UNSUPPORTED_TYPE: gettext_noop(
        "Files of this type (%(kind)s) cannot be added. Use txt, md, html, pdf, docx, csv or xlsx."
    ),
    ErrorCode.TYPE_MISMATCH: gettext_noop(
        "The file is named or labelled as %(declared)s, but its content looks like %(actual)s. "
        "Check that it is the right file, or save it in the right format."
    ),
    ErrorCode.UNKNOWN_ENCODING: gettext_noop("The text could not be read: save it as UTF-8 and upload it again."),
    ErrorCode.ENCRYPTED_PDF: gettext_noop(
        "The PDF is protected by a password. Remove the password and upload it again."
    ),
    ErrorCode.ENCRYPTED_OFFICE: gettext_noop(
        "The document is protected by a password. Remove the password and upload it again."
    ),
    ErrorCode.CORRUPT_FILE: gettext_noop("The %(kind)s file is damaged or not valid and could not be read."),
    ErrorCode.ZIP_BOMB: gettext_noop(
        "The %(kind)s file unpacks to far more data than its size suggests, so it was not opened."
    ),
    ErrorCode.TOO_MANY_PAGES: gettext_noop("The PDF has %(count)s pages; at most %(limit)s can be added."),
    ErrorCode.TOO_MANY_ROWS: gettext_noop("The table has more than %(limit)s rows. Split it into smaller files."),
    ErrorCode.TOO_MANY_CELLS: gettext_noop("The table has more than %(limit)s cells. Split it into smaller files."),
    ErrorCode.TOO_MUCH_TEXT: gettext_noop(
        "The document holds more than %(limit)s characters of text. Split it into smaller files."
    ),
    ErrorCode.TOO_MANY_ELEMENTS: gettext_noop(
        "The %(kind)s file is too complex to read: it holds more than %(limit)s elements (paragraphs, "
        "runs, cells, tags). Split it into smaller files."
    ),
    ErrorCode.PARSE_TIMEOUT: gettext_noop(
        "Reading the document took longer than its time limit (%(limit)s s). Split it into smaller files."
    ),
    ErrorCode.PARSE_MEMORY: gettext_noop(
        "Reading the document needed more memory than its limit (%(limit)s). Split it into smaller files."
    ),
    ErrorCode.PARSER_FAILED: gettext_noop("The document could not be read: its reader stopped unexpectedly."),
    ErrorCode.NO_TEXT: gettext_noop(
        "No text was found in the %(kind)s file. A scanned document needs text recognition (OCR) first."
    ),
    ErrorCode.INVALID_URL: gettext_noop("The address is not a valid http or https URL."),
    ErrorCode.URL_BLOCKED: gettext_noop("The address points to a private or local network and cannot be fetched."),
    ErrorCode.FETCH_FAILED: gettext_noop("The page could not be fetched: %(reason)s"),
}


class DocumentError(Exception):
    """A document that cannot be turned into text; ``code`` says why, ``message`` says it in English."""

    def __init__(self, code: ErrorCode, **params: str | int) -> None:
        self.code = code
        self.template = MESSAGES[code]
        self.params: ErrorParams = params
        self.message = self.template % params
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"DocumentError({self.code.value!r}, {self.message!r})"


def human_size(size: int) -> str:
    """``52428800`` -> ``"50 MB"``: sizes in messages are read by people, not programs."""
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f}".removesuffix(".0") + f" {unit}"
        value /= 1024
    return f"{value:.1f}".removesuffix(".0") + " GB"
