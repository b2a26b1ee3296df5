"""Real documents made on the fly: PDFs (reportlab, with a built-in Chinese CID font so no font file
is needed), docx (python-docx), xlsx (openpyxl), password-protected ones, hostile zips, and a docx
flooded with paragraphs (within every size and ratio limit, expensive only to parse)."""

from __future__ import annotations

import io
import random
import string
import struct
import zipfile
from collections.abc import Sequence
from typing import BinaryIO

import docx
import openpyxl
from msoffcrypto.format.ooxml import OOXMLFile  # type: ignore[import-untyped]
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

CHINESE_FONT = "STSong-Light"  # one of reportlab's Adobe CID fonts: glyphs come from the reader
pdfmetrics.registerFont(UnicodeCIDFont(CHINESE_FONT))


def pdf(pages: Sequence[Sequence[str]], *, title: str | None = None) -> bytes:
    """A PDF with one page per item, each a list of lines (empty list: a page with no text)."""
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer)
    if title:
        document.setTitle(title)
    for lines in pages:
        y = 780
        for line in lines:
            font = CHINESE_FONT if any(ord(char) > 0x2E80 for char in line) else "Helvetica"
            document.setFont(font, 12)
            document.drawString(72, y, line)
            y -= 18
        document.showPage()
    document.save()
    return buffer.getvalue()


def encrypted_pdf(data: bytes, *, user_password: str, owner_password: str = "owner") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def blank_pdf(page_count: int) -> bytes:
    writer = PdfWriter()
    for _ in range(page_count):
        writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


Block = tuple[str, str] | tuple[str, Sequence[Sequence[str]]]


def pdf_bomb(inflated_bytes: int) -> bytes:
    """A one-page PDF whose content stream inflates from a few hundred KB to ``inflated_bytes``."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=200, height=200)
    line = b"BT /F1 12 Tf (A) Tj ET\n"
    content = DecodedStreamObject()
    content.set_data(line * (inflated_bytes // len(line)))
    page.replace_contents(content.flate_encode(level=9))
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def word(blocks: Sequence[Block], *, title: str | None = None) -> bytes:
    """A docx from ("title" | "h1".."h3" | "p", text) and ("table", rows) blocks, in order."""
    document = docx.Document()
    if title:
        document.core_properties.title = title
    for kind, content in blocks:
        if isinstance(content, str):
            if kind == "p":
                document.add_paragraph(content)
            else:
                document.add_heading(content, 0 if kind == "title" else int(kind.removeprefix("h")))
            continue
        table = document.add_table(rows=len(content), cols=len(content[0]))
        for row, values in zip(table.rows, content, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def workbook(sheets: dict[str, Sequence[Sequence[object]]], *, title: str | None = None) -> bytes:
    """An xlsx with one sheet per entry; a row of ``None`` leaves an empty row."""
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    if title:
        book.properties.title = title
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def password_protected(data: bytes, password: str = "secret") -> bytes:
    """A docx/xlsx encrypted the way Office does it (an OLE2 file holding the encrypted package)."""
    buffer = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, buffer)
    return buffer.getvalue()


def with_member(data: bytes, name: str, content: bytes) -> bytes:
    """``data`` (a zip) with one member added or replaced, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename != name:
                target.writestr(item, source.read(item.filename))
        target.writestr(name, content)
    return buffer.getvalue()


def understating_sizes(data: bytes, name: str, declared_size: int) -> bytes:
    """``data`` (a zip) whose member ``name`` claims to unpack to ``declared_size`` bytes only."""
    raw = bytearray(data)
    encoded = name.encode()
    # Local file header: signature, ..., uncompressed size at offset 22; central directory entry:
    # uncompressed size at offset 24. Both are patched so every reader sees the same lie.
    for signature, size_offset, name_offset in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        position = raw.find(signature)
        while position != -1:
            name_length = struct.unpack_from("<H", raw, position + 26 if signature == b"PK\x03\x04" else position + 28)[
                0
            ]
            if raw[position + name_offset : position + name_offset + name_length] == encoded:
                struct.pack_into("<I", raw, position + size_offset, declared_size)
            position = raw.find(signature, position + 4)
    return bytes(raw)


def workbook_with_rows(row_count: int) -> bytes:
    """An xlsx whose one sheet has ``row_count`` rows of varied numbers, its XML written directly
    (openpyxl would take minutes for a million rows)."""
    rows = "".join(
        f'<row r="{n}"><c r="A{n}"><v>{n}</v></c><c r="B{n}"><v>{n * 7919 % 100_003}</v></c></row>'
        for n in range(1, row_count + 1)
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{rows}</sheetData></worksheet>"
    )
    return with_member(workbook({"Data": [["id", "value"]]}), "xl/worksheets/sheet1.xml", sheet.encode())


_W_NAMESPACE = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_RUN_PROPERTIES = '<w:rPr><w:rFonts w:ascii="Calibri" w:hAnsi="Calibri" w:cs="Calibri"/><w:sz w:val="22"/></w:rPr>'
_PARAGRAPH_PROPERTIES = '<w:pPr><w:spacing w:after="120"/><w:jc w:val="both"/></w:pPr>'


def write_flooded_docx(target: BinaryIO, paragraphs: int, *, ending: str = "</w:body></w:document>") -> None:
    """Write a docx whose body is ``paragraphs`` paragraphs as Word writes them (three formatted
    runs of made-up words each: ~19 elements and ~700 bytes, packing about 10:1) to ``target``,
    streamed, so 250 MB of XML never sits in memory. ``ending``: what follows the paragraphs."""
    rng = random.Random(7)
    vocabulary = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(2000)]
    with (
        zipfile.ZipFile(io.BytesIO(word([("p", "x")]))) as source,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for item in source.infolist():
            if item.filename != "word/document.xml":
                archive.writestr(item, source.read(item.filename))
        with archive.open("word/document.xml", "w", force_zip64=True) as body:
            body.write(f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W_NAMESPACE}"><w:body>'.encode())
            for start in range(0, paragraphs, 1000):
                batch = []
                for _ in range(min(1000, paragraphs - start)):
                    runs = "".join(
                        f'<w:r w:rsidR="00{rng.randint(10, 99)}3A1F">{_RUN_PROPERTIES}<w:t xml:space="preserve">'
                        f"{' '.join(rng.choices(vocabulary, k=rng.randint(3, 6)))} </w:t></w:r>"
                        for _ in range(3)
                    )
                    batch.append(f'<w:p w:rsidR="00A13F2B">{_PARAGRAPH_PROPERTIES}{runs}</w:p>')
                body.write("".join(batch).encode())
            body.write(ending.encode())


def flooded_docx(paragraphs: int, *, ending: str = "</w:body></w:document>") -> bytes:
    buffer = io.BytesIO()
    write_flooded_docx(buffer, paragraphs, ending=ending)
    return buffer.getvalue()
