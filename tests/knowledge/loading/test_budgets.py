"""What reading a document may cost: elements, text and time are budgeted while a file is read, so a
file within every size limit but expensive to parse (issue 11: a 24.5 MB docx holding 250 MB of
paragraph XML) is refused early with the budget it went over. ``load_document_isolated`` reads in a
capped process of its own and answers exactly as ``load_document`` does."""

from __future__ import annotations

import io
from collections.abc import Callable

import docx
import pytest

from builder.knowledge.loading import (
    DocumentError,
    ErrorCode,
    LoadedDocument,
    LoadLimits,
    load_document,
    load_document_isolated,
)
from tests.knowledge.loading import files


def error_of(
    data: bytes, filename: str, limits: LoadLimits, load: Callable[..., LoadedDocument] = load_document
) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        load(data, filename=filename, limits=limits)
    return caught.value


def test_a_docx_flooded_with_paragraphs_is_refused_at_the_element_budget() -> None:
    flood = files.flooded_docx(3_000)  # 57,000 elements, 2 MB of XML in a 200 KB file
    error = error_of(flood, "report.docx", LoadLimits(max_elements=20_000))
    assert error.code == ErrorCode.TOO_MANY_ELEMENTS
    assert error.message == (
        "The docx file is too complex to read: it holds more than 20000 elements (paragraphs, runs, cells, tags). "
        "Split it into smaller files."
    )
    assert len(load_document(flood, filename="report.docx").text) > 250_000  # within the default budget


def test_a_docx_is_read_as_a_stream_so_its_text_budget_stops_it_before_the_end() -> None:
    # The body is cut short after 3,000 paragraphs: a parser that builds the whole tree first finds
    # the damage before it can count any text; a streamed read is over its text budget long before.
    cut_short = files.flooded_docx(3_000, ending="<w:p><w:r><w:t>and then the file ends")
    assert error_of(cut_short, "a.docx", LoadLimits()).code == ErrorCode.CORRUPT_FILE
    error = error_of(cut_short, "a.docx", LoadLimits(max_text_chars=10_000))
    assert error.code == ErrorCode.TOO_MUCH_TEXT
    assert error.message == "The document holds more than 10000 characters of text. Split it into smaller files."


@pytest.mark.parametrize(
    ("filename", "make"),
    [
        ("flood.html", lambda: ("<html><body>" + "<p><b>x</b> y</p>" * 20_000 + "</body></html>").encode()),
        (
            "strings.xlsx",
            lambda: files.with_member(
                files.workbook({"S": [["name"], ["value"]]}),
                "xl/sharedStrings.xml",
                (
                    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    + "<si><t>x</t></si>" * 20_000
                    + "</sst>"
                ).encode(),
            ),
        ),
    ],
)
def test_html_and_xlsx_count_their_elements_too(filename: str, make: Callable[[], bytes]) -> None:
    error = error_of(make(), filename, LoadLimits(max_elements=30_000))
    assert error.code == ErrorCode.TOO_MANY_ELEMENTS
    assert error.params == {"kind": filename.rsplit(".", 1)[1], "limit": 30_000}


@pytest.mark.parametrize(
    ("filename", "make"),
    [
        ("a.docx", lambda: files.flooded_docx(100)),
        ("a.xlsx", lambda: files.workbook({"S": [["n"], *([n] for n in range(50))]})),
        ("a.pdf", lambda: files.pdf([["page one"], ["page two"]])),
        ("a.html", lambda: b"<html><body><p>one</p><p>two</p></body></html>"),
        ("a.csv", lambda: b"name,price\napple,3\npear,4\n"),
        ("a.md", lambda: b"# One\n\ntext\n\n# Two\n\nmore"),
        ("a.txt", lambda: b"plain text"),
    ],
)
def test_the_time_budget_is_checked_while_any_document_is_read(filename: str, make: Callable[[], bytes]) -> None:
    error = error_of(make(), filename, LoadLimits(max_parse_seconds=1e-9))
    assert error.code == ErrorCode.PARSE_TIMEOUT
    assert error.message == "Reading the document took longer than its time limit (1 s). Split it into smaller files."


def test_docx_text_follows_python_docx_for_merged_cells_breaks_and_inherited_heading_styles() -> None:
    document = docx.Document()
    document.add_heading("Handbook", 1)
    paragraph = document.add_paragraph("Tab\there ")
    paragraph.add_run("then").add_break()
    paragraph.add_run("a new line")
    table = document.add_table(rows=3, cols=3)
    for row_number, row in enumerate(table.rows):
        for column, cell in enumerate(row.cells):
            cell.text = f"r{row_number}c{column}"
    table.cell(1, 0).merge(table.cell(2, 0))  # vertically: the merged cell shows in both rows
    table.cell(2, 1).merge(table.cell(2, 2))  # horizontally: once in its row
    derived = document.styles.add_style("Chapter", 1)
    derived.base_style = document.styles["Heading 2"]
    document.add_paragraph("Leave", style="Chapter")
    document.add_paragraph("Twenty days.")
    loaded = load_document(_saved(document), filename="handbook.docx")
    assert [(section.headings, section.text) for section in loaded.sections] == [
        (
            ("Handbook",),
            "Handbook\n\nTab\there then\na new line\n\n"
            "r0c0: r1c0 r2c0; r0c1: r1c1; r0c2: r1c2\nr0c0: r1c0 r2c0; r0c1: r2c1 r2c2",
        ),
        (("Handbook", "Leave"), "Leave\n\nTwenty days."),
    ]


def test_a_document_read_in_its_own_process_is_the_same_as_one_read_here() -> None:
    word = files.word(
        [("title", "手册"), ("h1", "Leave"), ("p", "Staff get 20 days."), ("table", [["A", "B"], ["1", "2"]])]
    )
    for data, filename in [
        (word, "a.docx"),
        (files.pdf([["第一页"], ["page two"]]), "a.pdf"),
        (b"a,b\n1,2\n", "a.csv"),
    ]:
        assert load_document_isolated(data, filename=filename) == load_document(data, filename=filename)
    broken = error_of(b"%PDF-1.7\n not a pdf", "a.pdf", LoadLimits(), load_document_isolated)
    assert (broken.code, broken.params) == (ErrorCode.CORRUPT_FILE, {"kind": "pdf"})
    flood = files.flooded_docx(3_000)
    over_budget = LoadLimits(max_elements=20_000)
    isolated, direct = (
        error_of(flood, "a.docx", over_budget, load) for load in (load_document_isolated, load_document)
    )
    assert (
        (isolated.code, isolated.message)
        == (direct.code, direct.message)
        == (ErrorCode.TOO_MANY_ELEMENTS, direct.message)
    )


def test_a_parse_that_runs_out_of_memory_fails_in_its_own_process() -> None:
    # 300,000 paragraphs of HTML (5 MB) take ~300 MB to parse as a tree; the parser may have 150 MB.
    page = ("<html><body>" + "<p><b>x</b> y</p>" * 300_000 + "</body></html>").encode()
    limits = LoadLimits(max_elements=10_000_000, max_parse_memory_bytes=150 * 1024 * 1024)
    error = error_of(page, "a.html", limits, load_document_isolated)
    assert error.code == ErrorCode.PARSE_MEMORY
    assert (
        error.message == "Reading the document needed more memory than its limit (150 MB). Split it into smaller files."
    )


def _saved(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
