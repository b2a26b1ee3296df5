"""HTML -> the readable main text, one section per heading.

Boilerplate goes: scripts and styles, navigation, sidebars, footers, hidden elements, ARIA
landmarks that are not content, blocks whose class or id reads like chrome (Mozilla Readability's
patterns) and link lists (menus written as plain divs). When the page marks its content with a
single ``<main>`` or ``<article>``, only that is read. Tables keep their column names per row.

trafilatura was tried first: on short pages it falls back to a flat text without headings, and
with ``favor_recall`` it dropped a data table, both unpredictably; a knowledge base needs the same
page to give the same text, so this is a small deterministic walker over lxml's tree instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from builder.knowledge.loading.sections import HeadingSections, SectionCollector
from builder.knowledge.loading.tables import table_lines

_SKIPPED_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "canvas",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "audio",
        "video",
        "nav",
        "aside",
        "footer",
        "button",
        "select",
        "option",
        "textarea",
        "input",
        "label",
        "dialog",
        "menu",
        "head",
    ]
)
_BOILERPLATE_ROLES = frozenset(
    [
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "search",
        "menu",
        "menubar",
        "toolbar",
        "dialog",
        "alertdialog",
    ]
)
_UNLIKELY = re.compile(
    r"-ad-|ai2html|banner|breadcrumbs|combx|comment|community|cover-wrap|disqus|extra|footer|gdpr|header|legends|"
    r"menu|related|remark|replies|rss|shoutbox|sidebar|skyscraper|social|sponsor|supplemental|ad-break|agegate|"
    r"pagination|pager|popup|yom-remote|cookie|consent|share|navbar",
    re.I,
)
_MAYBE_CONTENT = re.compile(r"and|article|body|column|content|main|shadow", re.I)
_CONTAINERS = frozenset(["div", "section", "ul", "ol", "span", "header"])
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "blockquote",
        "figure",
        "figcaption",
        "address",
        "details",
        "summary",
        "center",
        "hr",
        "tr",
        "body",
    ]
)
# A container with at least this many links whose text is mostly link text is a menu or a list
# of related links, not content.
_MIN_LINKS, _MAX_LINK_DENSITY = 3, 0.6
_SPACES = re.compile(r"\s+")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>", re.I)


def add_html(text: str, sections: HeadingSections) -> str | None:
    """Add the page's main text to ``sections``; returns the page title (``<title>``), if any."""
    # lxml refuses str input that declares an encoding; the text is already decoded.
    text = _XML_DECLARATION.sub("", text, count=1)
    # The whole tree is built (boilerplate is judged by what surrounds it), so its size is checked
    # first: a tag count that can only overestimate ("a < b" in text counts too).
    collector = sections.collector
    collector.count_elements(text.count("<") - text.count("</"))
    try:
        document = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):  # nothing but whitespace or markup
        sections.finish()
        return None
    etree.strip_elements(document, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    title = document.findtext(".//title")
    stats = _link_stats(document, collector)
    _Walker(sections, stats).walk(_content_root(document, stats))
    sections.finish()
    return _squashed(str(title)) if title else None


@dataclass
class _Stats:
    text: int = 0
    link_text: int = 0
    links: int = 0


def _link_stats(document: HtmlElement, collector: SectionCollector) -> dict[HtmlElement, _Stats]:
    """Text and link-text length of every element, bottom-up in one pass (not once per container)."""
    stats: dict[HtmlElement, _Stats] = {}
    for _, element in etree.iterwalk(document, events=("end",)):
        collector.check_time()
        own = _Stats(text=_visible_length(element.text))
        for child in element:
            child_stats = stats.get(child)
            if child_stats is not None:
                own.text += child_stats.text
                own.link_text += child_stats.link_text
                own.links += child_stats.links
            own.text += _visible_length(child.tail)
        if element.tag == "a":
            own.links += 1
            own.link_text = own.text
        stats[element] = own
    return stats


def _content_root(document: HtmlElement, stats: dict[HtmlElement, _Stats]) -> HtmlElement:
    body = document.find("body")
    root = body if body is not None else document
    for path in ("//main", "//*[@role='main']", "//article"):
        found = cast(list[HtmlElement], document.xpath(path))
        # Only an unambiguous candidate that holds a fair share of the text: a page of many
        # <article> teasers, or a <main> around a heading only, is read whole.
        if len(found) == 1 and stats[found[0]].text * 3 >= stats[root].text:
            return found[0]
    return root


def _is_boilerplate(element: HtmlElement, stats: dict[HtmlElement, _Stats]) -> bool:
    tag = element.tag
    if not isinstance(tag, str) or tag in _SKIPPED_TAGS:
        return True
    attributes = element.attrib
    if "hidden" in attributes or attributes.get("aria-hidden") == "true":
        return True
    if _HIDDEN_STYLE.search(attributes.get("style", "")):
        return True
    if attributes.get("role", "").lower() in _BOILERPLATE_ROLES:
        return True
    if tag == "header" and not _contains(element, *_HEADINGS):
        return True
    if tag in _CONTAINERS:
        names = f"{attributes.get('class', '')} {attributes.get('id', '')}"
        # ...unless it holds the page's title: an "entry-header" div around the <h1>.
        if _UNLIKELY.search(names) and not _MAYBE_CONTENT.search(names) and not _contains(element, "h1"):
            return True
        own = stats.get(element)
        if own and own.links >= _MIN_LINKS and own.link_text >= _MAX_LINK_DENSITY * own.text:
            return True
    return False


@dataclass
class _Walker:
    """Text in document order: inline text gathers into a block until a block element ends it."""

    sections: HeadingSections
    stats: dict[HtmlElement, _Stats]
    _pieces: list[str] = field(default_factory=list)

    def walk(self, root: HtmlElement) -> None:
        walker = etree.iterwalk(root, events=("start", "end"))
        for event, element in walker:
            self.sections.collector.check_time()
            if event == "start":
                if element is not root and _is_boilerplate(element, self.stats):
                    walker.skip_subtree()  # its "end" still comes, and with it the tail text
                elif self._whole(element):
                    walker.skip_subtree()
                else:
                    self._open(element)
            else:
                if element.tag in _BLOCKS:
                    self._flush()
                if element is not root:
                    self._inline(element.tail)

    def _whole(self, element: HtmlElement) -> bool:
        """Read headings, preformatted text and tables in one piece; True if ``element`` was one."""
        tag = element.tag
        if tag in _HEADINGS:
            self._flush()
            self.sections.heading(_HEADINGS[tag], element.text_content())
        elif tag == "pre":
            self._flush()
            self.sections.text(element.text_content())
        elif tag == "table":
            self._flush()
            self.sections.text(_table_text(element))
        else:
            return False
        return True

    def _open(self, element: HtmlElement) -> None:
        if element.tag == "br":
            self._pieces.append("\n")
            return
        if element.tag in _BLOCKS:
            self._flush()
        self._inline(element.text)

    def _inline(self, text: str | None) -> None:
        if text:
            self._pieces.append(_SPACES.sub(" ", text))

    def _flush(self) -> None:
        lines = (line.strip() for line in "".join(self._pieces).split("\n"))
        self.sections.text("\n".join(line for line in lines if line))
        self._pieces = []


def _table_text(table: HtmlElement) -> str:
    # The table's own rows, not those of tables nested in its cells.
    rows = cast(list[HtmlElement], table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr"))
    cells = [[_squashed(cell.text_content()) for cell in row.iterchildren("td", "th")] for row in rows]
    parent = rows[0].getparent() if rows else None
    has_header = bool(rows) and (rows[0].find("th") is not None or (parent is not None and parent.tag == "thead"))
    return "\n".join(table_lines(cells, has_header=has_header))


def _squashed(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _contains(element: HtmlElement, *tags: str) -> bool:
    # Not any(element.iter(…)): an element without children is falsy in lxml.
    return next(element.iter(*tags), None) is not None


def _visible_length(text: str | None) -> int:
    return len(_SPACES.sub("", text)) if text else 0
