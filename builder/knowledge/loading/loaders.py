"""The one entry point for a file: bytes + what the uploader says it is -> a ``LoadedDocument``.

The size is checked first, then the real type is read from the bytes, then one parser runs. Every
failure is a ``DocumentError`` with a stable code; nothing else escapes for a bad file.

LangChain's document loaders are not used for the formats themselves: they read paths rather than
bytes, and offer no hook for the checks above (zip sizes, row and page caps, a declared type that
lies). pypdf and openpyxl are used directly instead, and docx is read as a stream with lxml
(``docx_text.py``: python-docx builds the whole tree first); the chunker uses LangChain's splitter.
The server reads files through ``isolation.load_document_isolated``: this, in a capped process.
"""

from __future__ import annotations

from collections.abc import Callable

from builder.knowledge.loading.detect import declared_kind, resolve_kind
from builder.knowledge.loading.docx_text import add_docx
from builder.knowledge.loading.encoding import decode_text, html_meta_charset
from builder.knowledge.loading.html_text import add_html
from builder.knowledge.loading.limits import DEFAULT_LIMITS, LoadLimits, check_size
from builder.knowledge.loading.markdown_text import add_markdown
from builder.knowledge.loading.pdf_text import add_pdf
from builder.knowledge.loading.sections import DocumentKind, HeadingSections, LoadedDocument, SectionCollector
from builder.knowledge.loading.tables import add_csv, add_xlsx

# data, where sections go, limits, charset declared by the transport -> the document's title.
_Loader = Callable[[bytes, SectionCollector, LoadLimits, str | None], str | None]


def load_document(
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    source: str | None = None,
    limits: LoadLimits = DEFAULT_LIMITS,
) -> LoadedDocument:
    """Read one document. ``filename``'s extension, else ``content_type``, says what it should be
    (with neither, the content decides); ``source`` (default: the file name) is recorded on every
    section. Raises ``DocumentError``."""
    check_size(len(data), limits)
    kind = resolve_kind(data, declared_kind(filename, content_type))
    collector = SectionCollector(kind=kind, limits=limits, source=source or filename)
    title = _LOADERS[kind](data, collector, limits, _charset_parameter(content_type))
    return collector.document(title)


def _load_txt(data: bytes, collector: SectionCollector, limits: LoadLimits, charset: str | None) -> None:
    collector.add(decode_text(data, declared_charset=charset))


def _load_md(data: bytes, collector: SectionCollector, limits: LoadLimits, charset: str | None) -> None:
    add_markdown(decode_text(data, declared_charset=charset), HeadingSections(collector))


def _load_html(data: bytes, collector: SectionCollector, limits: LoadLimits, charset: str | None) -> str | None:
    # As browsers do: the transport's charset, then the page's own <meta>.
    text = decode_text(data, declared_charset=charset or html_meta_charset(data))
    return add_html(text, HeadingSections(collector))


def _load_csv(data: bytes, collector: SectionCollector, limits: LoadLimits, charset: str | None) -> None:
    add_csv(decode_text(data, declared_charset=charset), collector, limits)


def _load_pdf(data: bytes, collector: SectionCollector, limits: LoadLimits, charset: str | None) -> str | None:
    return add_pdf(data, collector, limits)


def _load_docx(data: bytes, collector: SectionCollector, limits: LoadLimits, charset: str | None) -> str | None:
    return add_docx(data, HeadingSections(collector), limits)


def _load_xlsx(data: bytes, collector: SectionCollector, limits: LoadLimits, charset: str | None) -> str | None:
    return add_xlsx(data, collector, limits)


_LOADERS: dict[DocumentKind, _Loader] = {
    DocumentKind.TXT: _load_txt,
    DocumentKind.MD: _load_md,
    DocumentKind.HTML: _load_html,
    DocumentKind.CSV: _load_csv,
    DocumentKind.PDF: _load_pdf,
    DocumentKind.DOCX: _load_docx,
    DocumentKind.XLSX: _load_xlsx,
}


def _charset_parameter(content_type: str | None) -> str | None:
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None
