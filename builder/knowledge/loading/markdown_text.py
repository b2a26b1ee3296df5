"""Markdown -> one section per heading, the text kept as written.

LangChain's MarkdownHeaderTextSplitter was the first choice, but it strips every line (code loses
its indentation) and joins paragraphs with single newlines, which takes away the paragraph breaks
the chunker splits on first. Headings are ATX (``#`` … ``######``); ``#`` inside fenced code is not
a heading.
"""

from __future__ import annotations

import re

from builder.knowledge.loading.sections import HeadingSections

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def add_markdown(text: str, sections: HeadingSections) -> None:
    paragraph: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        fence_match = _FENCE.match(line)
        if fence is not None:
            if fence_match and fence_match.group(1)[0] == fence[0] and len(fence_match.group(1)) >= len(fence):
                fence = None
        elif fence_match:
            fence = fence_match.group(1)
        else:
            heading = _HEADING.match(line)
            if heading:
                sections.text("\n".join(paragraph))
                paragraph = []
                sections.heading(len(heading.group(1)), heading.group(2))
                continue
        paragraph.append(line)
    sections.text("\n".join(paragraph))
    sections.finish()
