"""Parts of a zip container (docx, xlsx) read as XML streams within the document's budget.

A part is inflated 1 MB at a time; the elements in each piece are counted (``<`` not followed by
``/``, at C speed) and charged to the document before the parser sees them, so a part flooded with
elements is refused when the budget runs out, not after it has been parsed. The consumer of
:func:`iter_parsed` frees what it has read, so memory stays bounded by the largest single block.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

from lxml import etree

from builder.knowledge.loading.sections import SectionCollector

_CHUNK_BYTES = 1 << 20


def member_chunks(archive: zipfile.ZipFile, name: str, collector: SectionCollector) -> Iterator[bytes]:
    """The member's bytes a piece at a time, each piece's elements counted before it is handed on."""
    with archive.open(name) as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            collector.count_elements(chunk.count(b"<") - chunk.count(b"</"))
            yield chunk


def iter_parsed(
    archive: zipfile.ZipFile, name: str, collector: SectionCollector, tags: tuple[str, ...]
) -> Iterator[etree._Element]:
    """Each element of ``tags`` in member ``name``, once it is complete (its end tag has been read).
    Nothing if the container has no such member."""
    if name not in archive.NameToInfo:
        return
    # No entities, no DTD, no network; text nodes over libxml2's 10 MB default are refused.
    parser = etree.XMLPullParser(
        events=("end",),
        tag=tags,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    for chunk in member_chunks(archive, name, collector):
        parser.feed(chunk)
        yield from _ended(parser)
    parser.close()
    yield from _ended(parser)


def _ended(parser: etree.XMLPullParser) -> Iterator[etree._Element]:
    for _, element in parser.read_events():
        if isinstance(element, etree._Element):  # always, with only "end" events asked for
            yield element


def forget(element: etree._Element) -> None:
    """Free ``element`` and everything before it under the same parent: read, and no longer needed."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
