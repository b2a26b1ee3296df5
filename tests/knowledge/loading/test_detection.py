"""What the uploader says a file is against what it is: size first, then the bytes decide."""

from __future__ import annotations

import pytest

from builder.knowledge.loading import DocumentError, DocumentKind, ErrorCode, LoadLimits, check_size, load_document
from tests.knowledge.loading import files

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


def error_of(
    data: bytes, filename: str | None = None, content_type: str | None = None, limits: LoadLimits | None = None
) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        load_document(data, filename=filename, content_type=content_type, limits=limits or LoadLimits())
    return caught.value


def test_an_empty_file_is_refused() -> None:
    error = error_of(b"", filename="notes.txt")
    assert error.code == ErrorCode.EMPTY_FILE
    assert error.message == "The file is empty."


def test_a_200_mb_upload_is_refused_by_its_size_before_it_is_read() -> None:
    with pytest.raises(DocumentError) as caught:
        check_size(200 * 1024 * 1024)
    assert caught.value.code == ErrorCode.TOO_LARGE
    assert caught.value.message == "The file is larger than the limit of 50 MB."


def test_a_200_mb_body_is_refused_without_being_parsed() -> None:
    data = b"%PDF-1.7\n" + bytes(200 * 1024 * 1024)
    error = error_of(data, filename="huge.pdf")
    assert error.code == ErrorCode.TOO_LARGE  # the size check comes before any parser


def test_the_size_limit_is_the_callers() -> None:
    assert error_of(b"x" * 2048, filename="a.txt", limits=LoadLimits(max_bytes=1024)).code == ErrorCode.TOO_LARGE
    assert load_document(b"x" * 1024, filename="a.txt", limits=LoadLimits(max_bytes=1024)).text == "x" * 1024


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_rows"):
        LoadLimits(max_rows=0)


@pytest.mark.parametrize(
    ("data", "filename", "declared", "actual"),
    [
        (files.pdf([["Hello"]]), "report.docx", "docx", "pdf"),
        (files.word([("p", "Hello")]), "report.pdf", "pdf", "docx"),
        (files.workbook({"S": [["a"], ["b"]]}), "report.docx", "docx", "xlsx"),
        (b"just some text\n", "report.pdf", "pdf", "text"),
        (PNG, "photo.txt", "txt", "binary"),
        (PNG, "photo.csv", "csv", "binary"),
    ],
)
def test_a_file_whose_content_contradicts_its_name_is_refused(
    data: bytes, filename: str, declared: str, actual: str
) -> None:
    error = error_of(data, filename=filename)
    assert error.code == ErrorCode.TYPE_MISMATCH
    assert error.params == {"declared": declared, "actual": actual}
    assert f"labelled as {declared}, but its content looks like {actual}" in error.message


@pytest.mark.parametrize("filename", ["setup.exe", "slides.pptx", "old.doc", "archive.zip", "photo.png"])
def test_an_unsupported_extension_is_refused(filename: str) -> None:
    error = error_of(b"whatever", filename=filename)
    assert error.code == ErrorCode.UNSUPPORTED_TYPE
    assert error.params["kind"] == filename[filename.rindex(".") :]


def test_an_old_office_file_is_refused_with_its_format_named() -> None:
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)  # the header of a .doc / .xls
    error = error_of(ole2, filename="memo.docx")
    assert error.code == ErrorCode.TYPE_MISMATCH
    assert error.params["actual"] == "doc/xls/ppt"


def test_unknown_binary_without_a_name_is_refused() -> None:
    error = error_of(PNG)
    assert error.code == ErrorCode.UNSUPPORTED_TYPE
    assert error.params == {"kind": "binary"}


def test_a_damaged_zip_named_docx_is_a_damaged_file() -> None:
    data = files.word([("p", "Hello")])
    error = error_of(data[: len(data) // 2], filename="cut.docx")
    assert error.code == ErrorCode.CORRUPT_FILE
    assert error.params == {"kind": "docx"}


@pytest.mark.parametrize(
    ("data", "content_type", "kind"),
    [
        (files.pdf([["Hello PDF"]]), "application/pdf", DocumentKind.PDF),
        (b"# Title\n\nBody", "text/markdown; charset=utf-8", DocumentKind.MD),
        (b"a,b\n1,2\n", "text/csv", DocumentKind.CSV),
        (files.pdf([["Hello PDF"]]), "application/octet-stream", DocumentKind.PDF),
        (files.word([("p", "Hello")]), None, DocumentKind.DOCX),
        (b"<!DOCTYPE html><html><body><p>Hello page</p></body></html>", None, DocumentKind.HTML),
        (b"plain words", None, DocumentKind.TXT),
    ],
)
def test_without_a_file_name_the_content_type_or_the_bytes_decide(
    data: bytes, content_type: str | None, kind: DocumentKind
) -> None:
    assert load_document(data, content_type=content_type).kind == kind


def test_a_name_without_an_extension_falls_back_to_the_content_type() -> None:
    document = load_document(b"a,b\n1,2\n", filename="export v1.2", content_type="text/csv")
    assert document.kind == DocumentKind.CSV
    assert document.sections[0].text == "a: 1; b: 2"


def test_an_unsupported_content_type_is_refused() -> None:
    assert error_of(PNG, content_type="image/png").params == {"kind": "image/png"}


def test_the_file_name_is_the_source_unless_one_is_given() -> None:
    assert load_document(b"hello", filename="a.txt").sections[0].source == "a.txt"
    assert load_document(b"hello", filename="a.txt", source="kb/a.txt").sections[0].metadata == {"source": "kb/a.txt"}
