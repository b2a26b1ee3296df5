"""CSV and XLSX -> one section per data row, written as ``Header: value; Header: value``.

A row keeps its column names so each chunk stands on its own ("Price: 3" means nothing without
"Name: Apple"), and one row per section lets an answer cite the exact row the user sees.
The first non-empty row of each table (sheet) is its header.
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from builder.knowledge.loading.errors import DocumentError, ErrorCode
from builder.knowledge.loading.limits import LoadLimits
from builder.knowledge.loading.sections import SectionCollector
from builder.knowledge.loading.xml_stream import member_chunks
from builder.knowledge.loading.zip_guard import check_zip_container

_CSV_DELIMITERS = ",\t;|"
_SNIFF_CHARS = 8192
_WORKSHEET = re.compile(r"^xl/worksheets/[^/]+\.xml$")
# The parts openpyxl parses (the rest is media, printer settings, VBA: never read).
_XML_PART = re.compile(r"\.(?:xml|rels)$", re.I)
# Row and cell elements of SpreadsheetML, with or without a namespace prefix (<x:row …>).
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return " ".join(str(value).split())


def render_row(header: Sequence[str], cells: Sequence[str]) -> str:
    """``Name: Apple; Price: 3``; a column without a name is called by its number."""
    parts = []
    for index, value in enumerate(cells):
        if value:
            name = header[index] if index < len(header) and header[index] else f"Column {index + 1}"
            parts.append(f"{name}: {value}")
    return "; ".join(parts)


def table_lines(rows: Sequence[Sequence[str]], *, has_header: bool) -> list[str]:
    """A table inside a document (html, docx): one line per row, ``Header: value`` under a header."""
    rows = [row for row in rows if any(row)]
    if not has_header or len(rows) < 2:
        return [" | ".join(cell for cell in row if cell) for row in rows]
    header, *body = rows
    return [render_row(header, row) for row in body]


@dataclass
class RowBudget:
    """Counts rows and cells over a whole document against the limits."""

    limits: LoadLimits
    rows: int = 0
    cells: int = 0

    def take(self, cell_count: int) -> None:
        self.rows += 1
        self.cells += cell_count
        if self.rows > self.limits.max_rows:
            raise DocumentError(ErrorCode.TOO_MANY_ROWS, limit=self.limits.max_rows)
        if self.cells > self.limits.max_cells:
            raise DocumentError(ErrorCode.TOO_MANY_CELLS, limit=self.limits.max_cells)


def add_table(
    rows: Iterable[Sequence[object]], collector: SectionCollector, budget: RowBudget, *, sheet: str | None = None
) -> None:
    """Add one section per data row of ``rows``, numbered from 1 (the first non-empty row is the header)."""
    header: list[str] | None = None
    header_number, added = 0, 0
    for number, row in enumerate(rows, start=1):
        collector.check_time()
        budget.take(len(row))
        cells = [cell_text(value) for value in row]
        if not any(cells):
            continue
        if header is None:
            header, header_number = cells, number
            continue
        collector.add(render_row(header, cells), sheet=sheet, row_start=number, row_end=number)
        added += 1
    if header is not None and not added:
        # A one-row table (a layout table in a docx, a CSV with no data): keep its text as it is.
        collector.add(
            " | ".join(cell for cell in header if cell), sheet=sheet, row_start=header_number, row_end=header_number
        )


def add_csv(text: str, collector: SectionCollector, limits: LoadLimits) -> None:
    # Rows are numbered by record, as a spreadsheet shows the file (a quoted value may span lines).
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text[:_SNIFF_CHARS]))
    try:
        add_table(reader, collector, RowBudget(limits))
    except csv.Error as error:  # includes a field longer than csv.field_size_limit() (128 KB)
        raise DocumentError(ErrorCode.CORRUPT_FILE, kind="csv") from error


def _delimiter(sample: str) -> str:
    """The delimiter that splits the first rows into the same number (> 1) of fields most often.
    (csv.Sniffer guesses wrong on quoted values that contain the delimiter or a line break.)"""
    best, best_score = ",", (0, 0)
    for delimiter in _CSV_DELIMITERS:
        try:
            rows = [row for row in itertools.islice(csv.reader(io.StringIO(sample), delimiter=delimiter), 50) if row]
        except csv.Error:
            continue
        if len(rows) > 1:
            rows.pop()  # the sample may cut the last row short
        width = len(rows[0]) if rows else 0
        score = (sum(len(row) == width for row in rows) if width > 1 else 0, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def add_xlsx(data: bytes, collector: SectionCollector, limits: LoadLimits) -> str | None:
    """Add every sheet's rows; returns the workbook title, if it has one."""
    # Imported here, not at the top: a parser process imports only what its format needs.
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_zip_container(archive, kind="xlsx", limits=limits)
            _scan_parts(archive, collector)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unsupported extensions, print areas…: not our concern
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (DocumentError, MemoryError):
        raise
    except Exception as error:  # openpyxl raises whatever its XML and zip layers raise
        raise DocumentError(ErrorCode.CORRUPT_FILE, kind="xlsx") from error
    budget = RowBudget(limits)
    try:
        for sheet in workbook.worksheets:
            # Cached formula results (data_only), read as streamed; the declared dimension is not
            # trusted, so a lying one cannot make openpyxl pad every row to 16384 columns.
            sheet.reset_dimensions()
            add_table(_trimmed_rows(sheet.iter_rows(values_only=True)), collector, budget, sheet=sheet.title)
        title = workbook.properties.title
        return title if isinstance(title, str) else None
    except (DocumentError, MemoryError):
        raise
    except Exception as error:
        raise DocumentError(ErrorCode.CORRUPT_FILE, kind="xlsx") from error
    finally:
        workbook.close()


def _scan_parts(archive: zipfile.ZipFile, collector: SectionCollector) -> None:
    """Count the elements of every XML part, and the row and cell tags of the sheets, before
    openpyxl sees them. openpyxl parses some parts whole (styles, shared strings) and a sheet that
    lacks a <dimension> element just to size it, before the first row is read, so a million-row
    sheet without one would cost its full parse; counting tags costs a fraction of that."""
    limits = collector.limits
    rows = cells = 0
    for member in archive.infolist():
        if not _XML_PART.search(member.filename):
            continue
        worksheet = bool(_WORKSHEET.match(member.filename))
        pending = b""
        for chunk in member_chunks(archive, member.filename, collector):
            if not worksheet:
                continue
            pending += chunk
            # Tags are counted up to the last "<"; the tag it may open goes on with the next chunk.
            cut = pending.rfind(b"<")
            rows += sum(1 for _ in _ROW_TAG.finditer(pending, 0, max(cut, 0)))
            cells += sum(1 for _ in _CELL_TAG.finditer(pending, 0, max(cut, 0)))
            pending = pending[cut:] if cut >= 0 else b""
            if rows > limits.max_rows:
                raise DocumentError(ErrorCode.TOO_MANY_ROWS, limit=limits.max_rows)
            if cells > limits.max_cells:
                raise DocumentError(ErrorCode.TOO_MANY_CELLS, limit=limits.max_cells)


def _trimmed_rows(rows: Iterable[Sequence[object]]) -> Iterator[Sequence[object]]:
    for row in rows:
        end = len(row)
        while end and row[end - 1] in (None, ""):
            end -= 1
        yield row[:end]
