"""PDF: one section per page, English and Chinese; locked, damaged, empty and oversized PDFs."""

from __future__ import annotations

import pytest

from builder.knowledge.loading import DocumentError, DocumentKind, ErrorCode, LoadLimits, load_document
from tests.knowledge.loading import files


def error_of(data: bytes, limits: LoadLimits | None = None) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        load_document(data, filename="doc.pdf", limits=limits or LoadLimits())
    return caught.value


def test_each_page_is_a_section_with_its_page_number() -> None:
    data = files.pdf(
        [["Refund policy", "Refunds within 30 days."], [], ["退款政策", "购买后三十天内可以退款。"]],
        title="Policies",
    )
    document = load_document(data, filename="policies.pdf")
    assert document.kind == DocumentKind.PDF
    assert document.title == "Policies"
    assert [(section.page, section.text) for section in document.sections] == [
        (1, "Refund policy\nRefunds within 30 days."),
        (3, "退款政策\n购买后三十天内可以退款。"),
    ]
    assert document.sections[1].metadata == {"source": "policies.pdf", "page": 3}


def test_a_pdf_that_needs_a_password_to_open_is_refused() -> None:
    error = error_of(files.encrypted_pdf(files.pdf([["Secret plans"]]), user_password="open-sesame"))
    assert error.code == ErrorCode.ENCRYPTED_PDF
    assert error.message == "The PDF is protected by a password. Remove the password and upload it again."


def test_a_pdf_restricted_by_an_owner_password_only_is_read() -> None:
    data = files.encrypted_pdf(files.pdf([["Printing is restricted, reading is not"]]), user_password="")
    assert load_document(data, filename="restricted.pdf").text == "Printing is restricted, reading is not"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage garbage",
        files.pdf([["Cut in half"]])[:400],
    ],
    ids=["header-only", "garbage", "truncated"],
)
def test_a_damaged_pdf_is_refused(data: bytes) -> None:
    error = error_of(data)
    assert error.code == ErrorCode.CORRUPT_FILE
    assert error.message == "The pdf file is damaged or not valid and could not be read."


def test_a_pdf_of_scanned_images_has_no_text() -> None:
    error = error_of(files.blank_pdf(3))
    assert error.code == ErrorCode.NO_TEXT
    assert "OCR" in error.message


def test_a_pdf_with_too_many_pages_is_refused_before_its_text_is_read() -> None:
    error = error_of(files.blank_pdf(12), LoadLimits(max_pdf_pages=10))
    assert error.code == ErrorCode.TOO_MANY_PAGES
    assert error.message == "The PDF has 12 pages; at most 10 can be added."


def test_a_pdf_whose_content_inflates_to_100_mb_is_not_inflated() -> None:
    data = files.pdf_bomb(100 * 1024 * 1024)
    assert len(data) < 1024 * 1024
    error = error_of(data)
    # pypdf stops inflating at its limit (pypdf.filters.ZLIB_MAX_OUTPUT_LENGTH); the page yields nothing.
    assert error.code in (ErrorCode.NO_TEXT, ErrorCode.CORRUPT_FILE)
