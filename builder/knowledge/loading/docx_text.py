"""DOCX -> one section per heading (python-docx), body paragraphs and tables in reading order.

Headings are paragraphs styled "Title" or "Heading N" (or a style based on one). Word stores the
built-in names in English whatever the interface language; "标题 N" covers WPS's own styles.
Page headers and footers, text boxes and comments are not read: they are rarely the content.
"""

from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.styles.style import ParagraphStyle
from docx.table import Table
from docx.text.paragraph import Paragraph

from builder.knowledge.loading.errors import DocumentError, ErrorCode
from builder.knowledge.loading.limits import LoadLimits
from builder.knowledge.loading.sections import HeadingSections
from builder.knowledge.loading.tables import table_lines
from builder.knowledge.loading.zip_guard import check_zip_container

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.I)
_TITLE_LEVEL = 0  # above Heading 1
_STYLE_DEPTH = 4  # how far "based on" is followed


def add_docx(data: bytes, sections: HeadingSections, limits: LoadLimits) -> str | None:
    """Add the document's text to ``sections``; returns the title from its properties, if any."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_zip_container(archive, kind="docx", limits=limits)
        document = docx.Document(io.BytesIO(data))
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                level = _heading_level(block.style)
                if level is None:
                    sections.text(block.text)
                else:
                    sections.heading(level, block.text)
            else:
                sections.text("\n".join(table_lines(_table_rows(block), has_header=True)))
        sections.finish()
        title = document.core_properties.title
        return title if isinstance(title, str) else None
    except DocumentError:
        raise
    except Exception as error:  # python-docx raises whatever its zip and XML layers raise
        raise DocumentError(ErrorCode.CORRUPT_FILE, kind="docx") from error


def _heading_level(style: ParagraphStyle | None) -> int | None:
    for _ in range(_STYLE_DEPTH):
        if style is None:
            return None
        name = (style.name or "").strip()
        if name.lower() == "title":
            return _TITLE_LEVEL
        match = _HEADING_STYLE.match(name)
        if match:
            return int(match.group(1))
        style = style.base_style
    return None


def _table_rows(table: Table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell comes back once per grid column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        rows.append(cells)
    return rows
