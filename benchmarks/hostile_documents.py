"""The in-limits docx of issue 11 (defect 4): ~25 MB packed, 250 MB of paragraph XML (ratio ~10).

    .venv/bin/python benchmarks/hostile_documents.py [--paragraphs 380000]

Uploaded through the product's services on the embedded default (indexed on the background lane of
this process, as the web server does it), with a small text document uploaded right after it.
Prints how long until the docx is refused and why, the peak RSS of this process (the server) and
of the parser processes, and how long the small document took to become ready. A second round
raises the budgets so that the whole body is read, to show what the streamed parse itself costs.
(Before the fix: the server grew to 5 GB and parsed for more than 18 minutes, every other upload
queued behind it.)
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from _knowledge_setup import ROOT, Deployment, deployment

sys.path.insert(0, str(ROOT))

from tests.knowledge.loading.files import write_flooded_docx

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paragraphs", type=int, default=380_000, help="380,000 make 250 MB of XML")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentloom-hostile-") as tmp:
        path = Path(tmp) / "report.docx"
        started = time.perf_counter()
        with path.open("wb") as file:
            write_flooded_docx(file, arguments.paragraphs)
        with zipfile.ZipFile(path) as archive:
            body = archive.getinfo("word/document.xml")
        print(
            f"docx: {path.stat().st_size / MB:.1f} MB packed, word/document.xml {body.file_size / MB:.0f} MB "
            f"(ratio {body.file_size / body.compress_size:.1f}), {arguments.paragraphs:,} paragraphs "
            f"(~{arguments.paragraphs * 19:,} elements); built in {time.perf_counter() - started:.1f} s"
        )
        data = path.read_bytes()
    with deployment("sqlite") as bench:
        from django.conf import settings

        print(f"\nserver peak RSS before the upload: {_server_peak_rss_mb():.0f} MB")
        print("\n# the default budgets")
        _round(bench, data)
        settings.KNOWLEDGE_PARSE_MAX_ELEMENTS = 50_000_000
        settings.KNOWLEDGE_PARSE_MAX_TEXT_CHARS = 200_000_000
        settings.KNOWLEDGE_PARSE_TIMEOUT_S = 600
        print("\n# budgets raised (elements 50M, text 200M chars, 600 s): the whole body is read, streamed")
        _round(bench, data)


class _ParserPeaks(logging.Handler):
    """The peak RSS each parser process reports of itself (its ru_maxrss, seen from here, would
    include the server's own pages from before its exec)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.peaks: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        peak = getattr(record, "parse_peak_rss_bytes", None)
        if isinstance(peak, int):
            self.peaks.append(peak)


def _round(bench: Deployment, data: bytes) -> None:
    from builder.knowledge.models import Document
    from builder.knowledge.services import document_upload

    parsers = _ParserPeaks()
    parser_log = logging.getLogger("builder.knowledge.loading.isolation")
    parser_log.setLevel(logging.DEBUG)
    parser_log.propagate = False
    parser_log.addHandler(parsers)
    kb = bench.knowledge_base("hostile", high_quality=False)
    started = time.perf_counter()
    hostile = document_upload(actor=bench.user, knowledge_base=kb, name="report.docx", content=data, content_type=DOCX)
    small_started = time.perf_counter()
    small = document_upload(
        actor=bench.user, knowledge_base=kb, name="faq.txt", content=b"Returns are free for thirty days."
    )
    finished: dict[str, float] = {}
    while len(finished) < 2:
        for name, document, since in (("hostile", hostile, started), ("small", small, small_started)):
            if name not in finished:
                document.refresh_from_db()
                if document.status in (Document.Status.READY, Document.Status.FAILED):
                    finished[name] = time.perf_counter() - since
        time.sleep(0.02)
    print(f"docx {hostile.status} after {finished['hostile']:.1f} s: {_reason(hostile.error)}")
    if hostile.status == Document.Status.READY:
        print(f"  {hostile.chunk_count:,} chunks")
    print(f"small document {small.status} {finished['small']:.2f} s after its upload")
    parser_log.removeHandler(parsers)
    parser_peak = max(parsers.peaks, default=0) / MB
    print(f"peak RSS: server {_server_peak_rss_mb():.0f} MB, parser {parser_peak:.0f} MB")


def _reason(error: dict[str, Any] | None) -> str:
    return f"{error['code']} ({error['message']})" if error else "-"


def _server_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


if __name__ == "__main__":
    main()
