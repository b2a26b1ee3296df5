"""What loaders return: a document as an ordered list of sections of clean text, each with where it
came from (page, sheet and rows, headings), plus the small helpers every loader shares."""

from __future__ import annotations

import math
import re
import time
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from builder.knowledge.loading.errors import DocumentError, ErrorCode
from builder.knowledge.loading.limits import LoadLimits


class DocumentKind(StrEnum):
    TXT = "txt"
    MD = "md"
    HTML = "html"
    PDF = "pdf"
    DOCX = "docx"
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True)
class LoadedSection:
    """A piece of a document in reading order. Row numbers are the ones the user sees in the
    spreadsheet (1-based, header row included); pages are 1-based."""

    text: str
    source: str | None = None
    page: int | None = None
    sheet: str | None = None
    row_start: int | None = None
    row_end: int | None = None
    headings: tuple[str, ...] = ()

    @property
    def metadata(self) -> dict[str, Any]:
        """The location as a JSON-ready dict, without the fields this kind of document has not got."""
        values: dict[str, Any] = {
            "source": self.source,
            "page": self.page,
            "sheet": self.sheet,
            "row_start": self.row_start,
            "row_end": self.row_end,
            "headings": list(self.headings),
        }
        return {key: value for key, value in values.items() if value not in (None, [])}


@dataclass(frozen=True)
class LoadedDocument:
    kind: DocumentKind
    sections: list[LoadedSection]
    title: str | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(section.text for section in self.sections)


_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
# C0/C1 controls other than tab and newline, and the BOM / zero-width no-break space inside text.
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ufeff]")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Normalise what every format leaves behind: line endings, control characters, trailing
    spaces, runs of blank lines. Full-width punctuation is kept (NFC, not NFKC): Chinese chunking
    splits on it."""
    text = unicodedata.normalize("NFC", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text).replace("\u00a0", " ")
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


@dataclass
class SectionCollector:
    """Collects sections in order, drops empty ones, and keeps the document's budget: text
    (``max_text_chars``), elements (``max_elements``) and time (``max_parse_seconds``)."""

    kind: DocumentKind
    limits: LoadLimits
    source: str | None = None
    sections: list[LoadedSection] = field(default_factory=list)
    chars: int = 0
    elements: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, text: str, **location: Any) -> None:
        self.check_time()
        text = clean_text(text)
        if not text:
            return
        self.chars += len(text)
        self.check_text()
        self.sections.append(LoadedSection(text=text, source=self.source, **location))

    def check_text(self, pending: int = 0) -> None:
        """Refuse the document once its text, with ``pending`` characters not yet added, is over budget."""
        if self.chars + pending > self.limits.max_text_chars:
            raise DocumentError(ErrorCode.TOO_MUCH_TEXT, limit=self.limits.max_text_chars)

    def count_elements(self, count: int) -> None:
        """Count ``count`` more elements; call it before they are parsed, so a flood is refused unread."""
        self.elements += count
        if self.elements > self.limits.max_elements:
            raise DocumentError(ErrorCode.TOO_MANY_ELEMENTS, kind=self.kind.value, limit=self.limits.max_elements)
        self.check_time()

    def check_time(self) -> None:
        if time.monotonic() - self.started > self.limits.max_parse_seconds:
            raise DocumentError(ErrorCode.PARSE_TIMEOUT, limit=math.ceil(self.limits.max_parse_seconds))

    def document(self, title: str | None = None) -> LoadedDocument:
        if not self.sections:
            raise DocumentError(ErrorCode.NO_TEXT, kind=self.kind.value)
        return LoadedDocument(kind=self.kind, sections=self.sections, title=clean_text(title or "") or None)


@dataclass
class HeadingSections:
    """Turns a stream of headings and text blocks (markdown, html, docx) into one section per
    heading, each knowing the path of headings above it.

    A heading with no text of its own before a deeper heading ("# Handbook" then "## Leave") is
    not a section by itself, which would be a useless one-word chunk: its line opens the next one.
    """

    collector: SectionCollector
    _path: list[tuple[int, str]] = field(default_factory=list)
    _lines: list[str] = field(default_factory=list)
    _has_body: bool = False
    _pending: int = 0

    def heading(self, level: int, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        if self._has_body or (self._path and level <= self._path[-1][0]):
            self._flush()
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, text))
        self._lines.append(text)
        self._pending += len(text)

    def text(self, block: str) -> None:
        if block.strip():
            self._lines.append(block)
            self._has_body = True
            # A document without headings is one section: its text is checked while it gathers.
            self._pending += len(block)
            self.collector.check_text(self._pending)

    def finish(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if self._lines:
            headings = tuple(text for _, text in self._path)
            self.collector.add("\n\n".join(self._lines), headings=headings)
        self._lines, self._has_body, self._pending = [], False, 0
