"""The tokens both backends store and search: what a user's query must share with a chunk."""

from __future__ import annotations

import pytest

from builder.knowledge.index import Analyzer, analyze, cjk_ratio
from builder.knowledge.index.analysis import MAX_TOKEN_CHARS


@pytest.mark.parametrize("analyzer", list(Analyzer))
def test_english_is_lowercased_words_without_stemming(analyzer: Analyzer) -> None:
    assert analyze("The Quick-Brown fox's RUNNING, isn't it?", analyzer) == [
        "the", "quick", "brown", "fox", "s", "running", "isn", "t", "it",
    ]  # fmt: skip


@pytest.mark.parametrize("analyzer", list(Analyzer))
def test_full_width_digits_letters_and_spelling_variants_meet(analyzer: Analyzer) -> None:
    assert analyze("ＩＰＨＯＮＥ１５", analyzer) == analyze("iPhone 15", analyzer) == analyze("iphone-15", analyzer)
    assert analyze("snake_case 3.14 Café", analyzer) == ["snake", "case", "3", "14", "café"]


def test_jieba_search_mode_adds_the_words_inside_long_words() -> None:
    assert analyze("中华人民共和国", Analyzer.JIEBA) == ["中华", "华人", "人民", "共和", "共和国", "中华人民共和国"]
    assert analyze("我爱北京天安门！", Analyzer.JIEBA) == ["我", "爱", "北京", "天安", "天安门"]


def test_bigrams_overlap_and_keep_a_lone_character() -> None:
    assert analyze("北京大学，图", Analyzer.BIGRAM) == ["北京", "京大", "大学", "图"]
    assert analyze("北京大学", Analyzer.BIGRAM_UNIGRAM) == ["北", "北京", "京", "京大", "大", "大学", "学"]


@pytest.mark.parametrize(
    ("analyzer", "expected"),
    [
        (Analyzer.JIEBA, ["iphone", "15", "的", "电池", "容量", "电池容量", "是", "3274", "mah"]),
        (Analyzer.BIGRAM, ["iphone", "15", "的电", "电池", "池容", "容量", "量是", "3274", "mah"]),
    ],
)
def test_mixed_chinese_english_and_numbers(analyzer: Analyzer, expected: list[str]) -> None:
    assert analyze("iPhone15的电池容量是3274mAh。", analyzer) == expected


def test_nothing_to_search_in_punctuation_or_overlong_tokens() -> None:
    assert analyze("  ?!…——《》  ") == []
    assert analyze("a" * (MAX_TOKEN_CHARS + 1) + " kept") == ["kept"]


def test_cjk_ratio_counts_letters_only() -> None:
    assert cjk_ratio("hello world") == 0.0
    assert cjk_ratio("北京") == 1.0
    assert cjk_ratio("北京 ab 2024!") == 0.5
    assert cjk_ratio("2024 ?") == 0.0
