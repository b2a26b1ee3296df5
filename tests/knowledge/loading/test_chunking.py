"""General and parent-child chunking: sizes, overlap, Chinese sentences, order, metadata, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from builder.knowledge.loading import (
    GeneralChunking,
    LoadedSection,
    ParentChildChunking,
    chunk_sections,
    load_document,
    parse_chunking_settings,
)

ENGLISH = (
    "Refunds are paid within 30 days. The money goes back to the card used for the purchase. "
    "Gift cards cannot be refunded. Downloads can be refunded only if they were never opened.\n\n"
    "Shipping takes two days in the city and five days elsewhere. Orders placed on a weekend "
    "leave the warehouse on Monday. Tracking numbers arrive by email."
)
CHINESE = (
    "知识库让机器人根据上传的文档回答问题。系统会先解析文件，再把文本切成小块！"
    "切块的大小可以设置吗？可以；默认按字符计算，中文按句号、感叹号和问号断句，"
    "必要时再按逗号断开。每个小块都会记录它来自哪一页、哪一个标题。"
)


def general(**settings: object) -> GeneralChunking:
    return GeneralChunking.model_validate(settings)


def test_general_chunks_respect_the_size_and_overlap() -> None:
    chunked = chunk_sections([LoadedSection(ENGLISH)], general(chunk_size=120, chunk_overlap=40))
    texts = [chunk.text for chunk in chunked.chunks]
    assert len(texts) > 3
    assert all(len(text) <= 120 for text in texts)
    assert texts[0].startswith("Refunds are paid within 30 days.")
    # Overlap: the end of one chunk opens the next.
    assert any(texts[i + 1].startswith(texts[i].split(". ")[-1][:20]) for i in range(len(texts) - 1))
    # Nothing is lost: every sentence is in some chunk.
    for sentence in ENGLISH.replace("\n\n", " ").split(". "):
        assert any(sentence.strip(". ") in text for text in texts), sentence


def test_chinese_is_split_at_sentence_marks_which_stay_with_their_sentence() -> None:
    chunked = chunk_sections([LoadedSection(CHINESE)], general(chunk_size=50, chunk_overlap=0))
    texts = [chunk.text for chunk in chunked.chunks]
    assert all(len(text) <= 50 for text in texts)
    assert all(text[-1] in "。！？；，" for text in texts), texts
    assert not any(text[0] in "。！？；，" for text in texts)
    assert "".join(texts) == CHINESE


def test_chunks_keep_document_order_and_their_sections_location() -> None:
    sections = [
        LoadedSection("第一页的内容。" * 20, source="a.pdf", page=1),
        LoadedSection("Second page text. " * 20, source="a.pdf", page=2),
    ]
    chunked = chunk_sections(sections, general(chunk_size=60, chunk_overlap=0))
    assert [chunk.position for chunk in chunked.chunks] == list(range(len(chunked.chunks)))
    pages = [chunk.metadata["page"] for chunk in chunked.chunks]
    assert pages == sorted(pages) and set(pages) == {1, 2}
    assert chunked.chunks[0].metadata == {"source": "a.pdf", "page": 1}
    assert all(chunk.parent_position is None for chunk in chunked.chunks)
    assert chunked.parents == []


def test_parent_child_children_point_at_the_parent_they_came_from() -> None:
    document = load_document(("# 政策\n\n" + CHINESE + "\n\n## Refunds\n\n" + ENGLISH).encode(), filename="policy.md")
    settings = parse_chunking_settings(
        {"mode": "parent_child", "parent": {"chunk_size": 200, "chunk_overlap": 0}, "child": {"chunk_size": 60}}
    )
    assert isinstance(settings, ParentChildChunking)
    assert settings.child.chunk_overlap == 7  # left out: an eighth of the size
    chunked = chunk_sections(document.sections, settings)
    assert len(chunked.parents) < len(chunked.chunks)
    assert all(len(parent.text) <= 200 for parent in chunked.parents)
    assert all(len(child.text) <= 60 for child in chunked.chunks)
    for child in chunked.chunks:
        parent = chunked.context_for(child)
        assert parent.position == child.parent_position
        assert child.text in parent.text
        assert child.metadata == parent.metadata
    assert {chunked.context_for(child).position for child in chunked.chunks} == set(range(len(chunked.parents)))
    assert chunked.chunks[0].metadata["headings"] == ["政策"]
    assert chunked.chunks[-1].metadata["headings"] == ["政策", "Refunds"]


def test_a_huge_single_line_is_chunked() -> None:
    # 6 MB of UTF-8 with no separator at all (a quadratic splitter would hit the test timeout).
    line = "知" * 2_000_000
    document = load_document(line.encode(), filename="one-line.txt")
    chunked = chunk_sections(document.sections, general(chunk_size=1000, chunk_overlap=0))
    assert len(chunked.chunks) == 2000
    assert all(len(chunk.text) == 1000 for chunk in chunked.chunks)


def test_sizes_can_be_counted_by_a_token_counter() -> None:
    words = len  # a stand-in tokenizer: one token per word

    def count_words(text: str) -> int:
        return words(text.split())

    chunked = chunk_sections(
        [LoadedSection(ENGLISH)], general(chunk_size=50, chunk_overlap=0), length_function=count_words
    )
    assert all(count_words(chunk.text) <= 50 for chunk in chunked.chunks)
    assert any(len(chunk.text) > 100 for chunk in chunked.chunks)  # far more characters than 50


def test_separators_typed_in_a_form_are_unescaped() -> None:
    settings = general(separators=["\\n\\n", "\\n"], chunk_size=50, chunk_overlap=0)
    assert settings.separators == ("\n\n", "\n")
    chunked = chunk_sections([LoadedSection("first paragraph\n\nsecond one\n" + "x" * 120)], settings)
    # Without "" in the list the splitter would leave a 120-character chunk; it is always added.
    assert [chunk.text for chunk in chunked.chunks] == ["first paragraph", "second one", "x" * 50, "x" * 50, "x" * 20]


@pytest.mark.parametrize(
    ("settings", "location", "words"),
    [
        ({"mode": "general", "chunk_size": 500, "chunk_overlap": 500}, ("general", "chunk_overlap"), "smaller than"),
        ({"mode": "general", "chunk_size": 60, "chunk_overlap": 60}, ("general", "chunk_overlap"), "(60)"),
        ({"mode": "general", "chunk_size": 10}, ("general", "chunk_size"), "greater than or equal to 50"),
        ({"mode": "general", "chunk_size": 100_000}, ("general", "chunk_size"), "less than or equal to 8000"),
        ({"mode": "general", "separators": []}, ("general", "separators"), "at least 1"),
        ({"mode": "general", "chunk_sise": 500}, ("general", "chunk_sise"), "Extra inputs"),
        (
            {"mode": "parent_child", "parent": {"chunk_size": 300, "chunk_overlap": 0}, "child": {"chunk_size": 300}},
            ("parent_child", "child"),
            "child.chunk_size (300) must be smaller than parent.chunk_size (300)",
        ),
        ({"mode": "semantic"}, (), "does not match any of the expected tags"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_field(
    settings: dict[str, object], location: tuple[str, ...], words: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_chunking_settings(settings)
    error = caught.value.errors()[0]
    assert error["loc"] == location
    assert words in error["msg"]


def test_defaults_are_valid_and_serialisable() -> None:
    settings = parse_chunking_settings({"mode": "general"})
    assert settings.model_dump()["chunk_size"] == 800
    assert parse_chunking_settings(settings.model_dump()) == settings
    assert parse_chunking_settings({"mode": "parent_child"}).model_dump()["parent"]["chunk_size"] == 2000
