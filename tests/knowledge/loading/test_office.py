"""docx and xlsx: headings, tables and sheets; password-protected files, zip bombs, huge sheets."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest

from builder.knowledge.loading import DocumentError, DocumentKind, ErrorCode, LoadLimits, load_document
from tests.knowledge.loading import files

MB = 1024 * 1024


def error_of(data: bytes, filename: str, limits: LoadLimits | None = None) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        load_document(data, filename=filename, limits=limits or LoadLimits())
    return caught.value


def test_docx_sections_follow_its_headings_with_tables_in_place() -> None:
    data = files.word(
        [
            ("title", "Employee handbook"),
            ("h1", "Leave"),
            ("p", "Staff get 20 days a year."),
            ("h2", "病假"),
            ("p", "病假需要医生证明。"),
            ("table", [["Type", "Days"], ["Annual", "20"], ["Sick", "10"]]),
            ("h1", "Travel"),
            ("p", "Book through the portal."),
        ],
        title="Handbook 2024",
    )
    document = load_document(data, filename="handbook.docx")
    assert document.kind == DocumentKind.DOCX
    assert document.title == "Handbook 2024"
    assert [(section.headings, section.text) for section in document.sections] == [
        (("Employee handbook", "Leave"), "Employee handbook\n\nLeave\n\nStaff get 20 days a year."),
        (
            ("Employee handbook", "Leave", "病假"),
            "病假\n\n病假需要医生证明。\n\nType: Annual; Days: 20\nType: Sick; Days: 10",
        ),
        (("Employee handbook", "Travel"), "Travel\n\nBook through the portal."),
    ]


def test_a_docx_without_text_has_no_text() -> None:
    assert error_of(files.word([("p", "   ")]), "blank.docx").code == ErrorCode.NO_TEXT


@pytest.mark.parametrize(
    ("make", "filename"),
    [
        (lambda: files.word([("p", "Salaries")]), "salaries.docx"),
        (lambda: files.workbook({"Pay": [["Name", "Salary"], ["Ann", 100]]}), "salaries.xlsx"),
    ],
)
def test_a_password_protected_office_file_is_refused(make: Callable[[], bytes], filename: str) -> None:
    error = error_of(files.password_protected(make()), filename)
    assert error.code == ErrorCode.ENCRYPTED_OFFICE
    assert error.message == "The document is protected by a password. Remove the password and upload it again."


def test_a_zip_bomb_docx_is_refused_before_anything_is_unpacked() -> None:
    bomb = files.with_member(files.word([("p", "Looks harmless")]), "word/media/image1.bin", bytes(100 * MB))
    assert len(bomb) < 200_000  # 100 MB of zeros packs to ~100 KB
    error = error_of(bomb, "harmless.docx")
    assert error.code == ErrorCode.ZIP_BOMB
    assert error.message == "The docx file unpacks to far more data than its size suggests, so it was not opened."


def test_a_docx_whose_body_is_a_bomb_is_refused() -> None:
    original = files.word([("p", "x")])
    body = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>'
        + b"A" * (50 * MB)
        + b"</w:t></w:r></w:p></w:body></w:document>"
    )
    assert error_of(files.with_member(original, "word/document.xml", body), "a.docx").code == ErrorCode.ZIP_BOMB


def test_the_total_unpacked_size_is_capped_too() -> None:
    data = files.word([("p", "An ordinary document")])
    assert error_of(data, "a.docx", LoadLimits(max_unzipped_bytes=10_000)).code == ErrorCode.ZIP_BOMB


def test_a_zip_that_understates_its_sizes_ends_as_a_damaged_file() -> None:
    original = files.word([("p", "x")])
    huge = files.with_member(original, "word/document.xml", b"<w:document>" + b"B" * (5 * MB) + b"</w:document>")
    lying = files.understating_sizes(huge, "word/document.xml", declared_size=2_000)
    error = error_of(lying, "liar.docx", LoadLimits(max_zip_ratio=10_000))
    assert error.code == ErrorCode.CORRUPT_FILE  # zipfile stops at the declared size and fails the CRC


def test_xlsx_rows_become_sections_with_sheet_and_row_numbers() -> None:
    data = files.workbook(
        {
            "价格": [
                ["名称", "价格", "上架日期"],
                ["苹果", 3, datetime.date(2024, 5, 1)],
                [None, None, None],
                ["梨", 4.5, None],
            ],
            "Notes": [[None], [None], ["Only one cell, in row 3"]],
        },
        title="Prices",
    )
    document = load_document(data, filename="prices.xlsx")
    assert document.kind == DocumentKind.XLSX
    assert document.title == "Prices"
    assert [(section.sheet, section.row_start, section.text) for section in document.sections] == [
        ("价格", 2, "名称: 苹果; 价格: 3; 上架日期: 2024-05-01"),
        ("价格", 4, "名称: 梨; 价格: 4.5"),
        ("Notes", 3, "Only one cell, in row 3"),
    ]
    assert document.sections[1].metadata == {"source": "prices.xlsx", "sheet": "价格", "row_start": 4, "row_end": 4}


def test_an_xlsx_with_a_million_rows_is_refused_quickly() -> None:
    data = files.workbook_with_rows(1_000_000)
    error = error_of(data, "million.xlsx")
    assert error.code == ErrorCode.TOO_MANY_ROWS
    assert error.message == "The table has more than 100000 rows. Split it into smaller files."


def test_rows_and_cells_are_counted_against_the_limits() -> None:
    data = files.workbook({"A": [[n, n] for n in range(30)], "B": [[n, n] for n in range(30)]})
    assert load_document(data, filename="a.xlsx", limits=LoadLimits(max_rows=60)).sections[-1].row_start == 30
    assert error_of(data, "a.xlsx", LoadLimits(max_rows=59)).code == ErrorCode.TOO_MANY_ROWS
    assert error_of(data, "a.xlsx", LoadLimits(max_cells=100)).code == ErrorCode.TOO_MANY_CELLS


def test_a_sheet_with_a_stray_cell_far_down_is_refused_rather_than_read_row_by_row() -> None:
    data = files.workbook({"S": [["name"], ["value"]]})
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
        '<row r="1048576"><c r="A1048576"><v>1</v></c></row>'
        "</sheetData></worksheet>"
    )
    stray = files.with_member(data, "xl/worksheets/sheet1.xml", sheet.encode())
    assert error_of(stray, "stray.xlsx").code == ErrorCode.TOO_MANY_ROWS


def test_an_xlsx_bomb_is_refused() -> None:
    data = files.workbook({"S": [["a"]]})
    bomb = files.with_member(data, "xl/sharedStrings.xml", b"<sst>" + b" " * (60 * MB) + b"</sst>")
    assert error_of(bomb, "bomb.xlsx").code == ErrorCode.ZIP_BOMB


def test_a_damaged_xlsx_is_refused() -> None:
    data = files.with_member(files.workbook({"S": [["a"]]}), "xl/workbook.xml", b"<not-a-workbook")
    error = error_of(data, "broken.xlsx")
    assert error.code == ErrorCode.CORRUPT_FILE
    assert error.params == {"kind": "xlsx"}


def test_an_xlsx_of_empty_sheets_has_no_text() -> None:
    assert error_of(files.workbook({"Empty": []}), "empty.xlsx").code == ErrorCode.NO_TEXT
