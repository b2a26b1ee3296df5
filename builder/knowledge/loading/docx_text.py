"""DOCX -> one section per heading, body paragraphs and tables in reading order, read as a stream.

The body (``word/document.xml``) is parsed one top-level block at a time and each block is freed
once its text is taken, so memory does not grow with the document and the element, text and time
budgets apply while it is read (python-docx, used before, built the whole tree first: 250 MB of
paragraph XML took 5 GB and 18 minutes before the first check could run). The text rules are
python-docx's: a paragraph is its runs and hyperlinks (tabs, line breaks, no-break hyphens
included); a table cell is its paragraphs; a vertically merged cell repeats the text above it.

Headings are paragraphs styled "Title" or "Heading N" (or a style based on one). Word stores the
built-in names in English whatever the interface language; "标题 N" covers WPS's own styles.
Page headers and footers, text boxes and comments are not read: they are rarely the content.
Parts are found by their usual names (Word, LibreOffice, WPS, Google Docs and python-docx all use
them); the content-type detection already requires ``word/document.xml``.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from lxml import etree

from builder.knowledge.loading.errors import DocumentError, ErrorCode
from builder.knowledge.loading.limits import LoadLimits
from builder.knowledge.loading.sections import HeadingSections, SectionCollector
from builder.knowledge.loading.tables import table_lines
from builder.knowledge.loading.xml_stream import forget, iter_parsed
from builder.knowledge.loading.zip_guard import check_zip_container

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_BODY, _P, _TBL, _TR, _TC, _R, _HYPERLINK = (f"{_W}{tag}" for tag in ("body", "p", "tbl", "tr", "tc", "r", "hyperlink"))
_T, _BR, _STYLE, _VAL, _TYPE = (f"{_W}{tag}" for tag in ("t", "br", "style", "val", "type"))
_PPR, _PSTYLE = f"{_W}pPr", f"{_W}pStyle"
# Run content that stands for a character (python-docx's Run.text).
_RUN_CHARACTERS = {f"{_W}tab": "\t", f"{_W}ptab": "\t", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_DOCUMENT_PART, _STYLES_PART, _CORE_PART = "word/document.xml", "word/styles.xml", "docProps/core.xml"
_TRUE = ("1", "true", "on")

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.I)
_TITLE_LEVEL = 0  # above Heading 1
_STYLE_DEPTH = 4  # how far "based on" is followed


def add_docx(data: bytes, sections: HeadingSections, limits: LoadLimits) -> str | None:
    """Add the document's text to ``sections``; returns the title from its properties, if any."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_zip_container(archive, kind="docx", limits=limits)
            styles = _read_styles(archive, sections.collector)
            _read_body(archive, sections, styles)
            sections.finish()
            return _read_title(archive, sections.collector)
    except (DocumentError, MemoryError):
        raise
    except Exception as error:  # zipfile and lxml raise whatever a damaged file makes them raise
        raise DocumentError(ErrorCode.CORRUPT_FILE, kind="docx") from error


def _read_body(archive: zipfile.ZipFile, sections: HeadingSections, styles: _Styles) -> None:
    for block in iter_parsed(archive, _DOCUMENT_PART, sections.collector, (_P, _TBL)):
        parent = block.getparent()
        if parent is None or parent.tag != _BODY:
            continue  # a paragraph in a table cell or a text box: read with its block, or not at all
        if block.tag == _P:
            level = styles.heading_level(_style_id(block))
            if level is None:
                sections.text(_paragraph_text(block))
            else:
                sections.heading(level, _paragraph_text(block))
        else:
            sections.text("\n".join(table_lines(_table_rows(block), has_header=True)))
        forget(block)


def _paragraph_text(paragraph: etree._Element) -> str:
    parts: list[str] = []
    for child in paragraph:
        if child.tag == _R:
            _add_run_text(child, parts)
        elif child.tag == _HYPERLINK:
            for run in child.iterchildren(_R):
                _add_run_text(run, parts)
    return "".join(parts)


def _add_run_text(run: etree._Element, parts: list[str]) -> None:
    for item in run:
        tag = item.tag
        if tag == _T:
            parts.append(item.text or "")
        elif tag == _BR:
            if item.get(_TYPE, "textWrapping") == "textWrapping":  # page and column breaks are not text
                parts.append("\n")
        elif isinstance(tag, str) and tag in _RUN_CHARACTERS:
            parts.append(_RUN_CHARACTERS[tag])


def _table_rows(table: etree._Element) -> list[list[str]]:
    """One list per row of each cell's text, once per cell however many grid columns it spans."""
    rows = []
    above: dict[int, str] = {}  # grid column -> the text of the cell covering it in the row above
    for row in table.iterchildren(_TR):
        cells: list[str] = []
        covering: dict[int, str] = {}
        column = _int_property(row, "trPr", "gridBefore", default=0)
        for cell in row.iterchildren(_TC):
            text = " ".join("\n".join(_paragraph_text(p) for p in cell.iterchildren(_P)).split())
            merge = cell.find(f"{_W}tcPr/{_W}vMerge")
            if merge is not None and merge.get(_VAL, "continue") == "continue":
                text = above.get(column, text)  # the rest of a vertical merge shows the first cell's text
            span = _int_property(cell, "tcPr", "gridSpan", default=1)
            covering.update(dict.fromkeys(range(column, column + span), text))
            cells.append(text)
            column += span
        above = covering
        rows.append(cells)
    return rows


def _int_property(element: etree._Element, properties: str, name: str, *, default: int) -> int:
    found = element.find(f"{_W}{properties}/{_W}{name}")
    value = found.get(_VAL) if found is not None else None
    return int(value) if value is not None and value.isdigit() else default


def _style_id(paragraph: etree._Element) -> str | None:
    properties = paragraph.find(_PPR)  # two child lookups: a path costs several times more
    style = properties.find(_PSTYLE) if properties is not None else None
    return style.get(_VAL) if style is not None else None


@dataclass(frozen=True)
class _Style:
    type: str
    name: str
    based_on: str | None


@dataclass
class _Styles:
    """The document's styles by id, resolved the way python-docx (and Word) resolve them: an
    unknown or non-paragraph style id means the default paragraph style."""

    by_id: dict[str, _Style] = field(default_factory=dict)
    default_paragraph: _Style | None = None

    def heading_level(self, style_id: str | None) -> int | None:
        style = self.by_id.get(style_id) if style_id is not None else None
        if style is None or style.type != "paragraph":
            style = self.default_paragraph
        for _ in range(_STYLE_DEPTH):
            if style is None:
                return None
            name = style.name.strip()
            if name.lower() == "title":
                return _TITLE_LEVEL
            match = _HEADING_STYLE.match(name)
            if match:
                return int(match.group(1))
            style = self.by_id.get(style.based_on) if style.based_on is not None else None
        return None


def _read_styles(archive: zipfile.ZipFile, collector: SectionCollector) -> _Styles:
    styles = _Styles()
    for element in iter_parsed(archive, _STYLES_PART, collector, (_STYLE,)):
        style = _Style(
            type=element.get(_TYPE, "paragraph"),
            name=_child_value(element, "name") or "",
            based_on=_child_value(element, "basedOn"),
        )
        style_id = element.get(f"{_W}styleId")
        if style_id is not None:
            styles.by_id.setdefault(style_id, style)  # the first of a repeated id wins
        if style.type == "paragraph" and element.get(f"{_W}default") in _TRUE:
            styles.default_paragraph = style  # the last default wins
        forget(element)
    return styles


def _child_value(element: etree._Element, name: str) -> str | None:
    child = element.find(f"{_W}{name}")
    return child.get(_VAL) if child is not None else None


def _read_title(archive: zipfile.ZipFile, collector: SectionCollector) -> str | None:
    for element in iter_parsed(archive, _CORE_PART, collector, (_DC_TITLE,)):
        return element.text or None
    return None
