"""txt, md, csv and html: encodings (Chinese included), headings, rows, boilerplate."""

from __future__ import annotations

import codecs

import pytest

from builder.knowledge.loading import DocumentError, ErrorCode, LoadLimits, load_document

CHINESE = "知识库让机器人根据文档回答问题。上传文件以后，系统会自动解析并建立索引。"


@pytest.mark.parametrize(
    "data",
    [
        CHINESE.encode("utf-8"),
        codecs.BOM_UTF8 + CHINESE.encode("utf-8"),
        codecs.BOM_UTF16_LE + CHINESE.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + CHINESE.encode("utf-16-be"),
        codecs.BOM_UTF32_LE + CHINESE.encode("utf-32-le"),
        CHINESE.encode("gbk"),
        CHINESE.encode("gb18030"),
        "你好".encode("gbk"),  # too short for charset detection to be sure
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-32-bom", "gbk", "gb18030", "short-gbk"],
)
def test_chinese_text_comes_through_in_every_common_encoding(data: bytes) -> None:
    expected = "你好" if len(data) < 10 else CHINESE
    document = load_document(data, filename="说明.txt")
    assert document.text == expected
    assert document.sections[0].source == "说明.txt"


def test_utf16_without_a_bom_is_recognised() -> None:
    assert load_document("Plain English, exported as Unicode.".encode("utf-16-le"), filename="a.txt").text == (
        "Plain English, exported as Unicode."
    )


def test_characters_outside_gbk_survive_in_gb18030() -> None:
    text = "生僻字：𠀀䶮，English mixed in, 数字 42。"
    assert load_document(text.encode("gb18030"), filename="rare.txt").text == text


def test_big5_and_shift_jis_are_detected_when_there_is_enough_text() -> None:
    traditional = "繁體中文的知識庫文件，這是一段足夠長的文字，用來測試編碼的偵測是否正確。" * 4
    japanese = "日本語のテキストです。ナレッジベースに文書を追加すると、自動的に解析されます。" * 4
    assert load_document(traditional.encode("big5"), filename="a.txt").text == traditional
    assert load_document(japanese.encode("shift_jis"), filename="a.txt").text == japanese


def test_a_declared_charset_is_used_when_the_bytes_are_not_utf8() -> None:
    text = "Café crème, naïve résumé — déjà vu. " * 3
    document = load_document(text.encode("cp1252"), filename="a.txt", content_type="text/plain; charset=windows-1252")
    assert document.text == text.strip()


def test_text_is_cleaned_of_control_characters_and_extra_blank_lines() -> None:
    raw = "Line one\r\nLine\x1b two\x07   \r\n\r\n\r\n\r\nLine three\u00a0end\ufeff"
    assert load_document(raw.encode(), filename="a.txt").text == "Line one\nLine two\n\nLine three end"


def test_whitespace_only_text_has_no_text() -> None:
    with pytest.raises(DocumentError) as caught:
        load_document(b" \n\t\n ", filename="blank.txt")
    assert caught.value.code == ErrorCode.NO_TEXT
    assert caught.value.message.startswith("No text was found in the txt file.")


def test_too_much_text_is_refused() -> None:
    with pytest.raises(DocumentError) as caught:
        load_document(b"word " * 1000, filename="a.txt", limits=LoadLimits(max_text_chars=1000))
    assert caught.value.code == ErrorCode.TOO_MUCH_TEXT


def test_markdown_sections_follow_headings_and_keep_code_as_written() -> None:
    markdown = (
        "Intro before any heading.\n\n"
        "# Handbook\n\n"
        "## Leave\n\nStaff get 20 days.\n\nAsk your manager first.\n\n"
        "```python\n# not a heading\ndef days():\n    return 20\n```\n\n"
        "### 病假\n\n病假需要医生证明。\n\n"
        "## Travel ##\n\nBook through the portal.\n"
    )
    sections = load_document(markdown.encode(), filename="handbook.md").sections
    assert [(section.headings, section.text) for section in sections] == [
        ((), "Intro before any heading."),
        (
            ("Handbook", "Leave"),
            "Handbook\n\nLeave\n\nStaff get 20 days.\n\nAsk your manager first.\n\n"
            "```python\n# not a heading\ndef days():\n    return 20\n```",
        ),
        (("Handbook", "Leave", "病假"), "病假\n\n病假需要医生证明。"),
        (("Handbook", "Travel"), "Travel\n\nBook through the portal."),
    ]
    assert sections[2].metadata == {"source": "handbook.md", "headings": ["Handbook", "Leave", "病假"]}


def test_csv_rows_become_sections_that_keep_their_column_names() -> None:
    data = "姓名,城市,年龄\n张三,北京,30\n\n李四,上海,\n".encode("gbk")
    sections = load_document(data, filename="员工.csv").sections
    assert [section.text for section in sections] == ["姓名: 张三; 城市: 北京; 年龄: 30", "姓名: 李四; 城市: 上海"]
    assert [(section.row_start, section.row_end) for section in sections] == [(2, 2), (4, 4)]


def test_csv_delimiter_and_quoting_are_detected() -> None:
    data = b'product;price;note\r\nApple;3;"red; crisp"\r\nPear;4;"multi\r\nline"\r\n'
    texts = [section.text for section in load_document(data, filename="prices.csv").sections]
    assert texts == ["product: Apple; price: 3; note: red; crisp", "product: Pear; price: 4; note: multi line"]


def test_a_csv_with_only_a_header_keeps_its_text() -> None:
    assert load_document(b"name,price\n", filename="empty.csv").text == "name | price"


def test_a_csv_with_too_many_rows_is_refused() -> None:
    data = "id,value\n" + "".join(f"{n},{n * 2}\n" for n in range(200))
    with pytest.raises(DocumentError) as caught:
        load_document(data.encode(), filename="big.csv", limits=LoadLimits(max_rows=100))
    assert caught.value.code == ErrorCode.TOO_MANY_ROWS
    assert caught.value.message == "The table has more than 100 rows. Split it into smaller files."


def test_a_csv_field_larger_than_the_parser_allows_is_a_damaged_file() -> None:
    data = b'id,text\n1,"' + b"x" * 200_000 + b'"\n'
    with pytest.raises(DocumentError) as caught:
        load_document(data, filename="odd.csv")
    assert caught.value.code == ErrorCode.CORRUPT_FILE
    assert caught.value.params == {"kind": "csv"}


PAGE = """<!doctype html>
<html><head><title>Refund policy — Acme</title><style>body { color: red }</style>
<script>var tracking = "SCRIPT TEXT";</script></head>
<body>
<div class="cookie-banner">We use cookies. Accept all</div>
<nav><a href="/">Home</a> <a href="/pricing">Pricing</a> <a href="/about">About us</a></nav>
<div class="top-links"><a href="/a">Blog</a> | <a href="/b">Careers</a> | <a href="/c">Press</a></div>
<main>
  <header class="entry-header"><h1>Refund policy</h1></header>
  <p>Customers can ask for a refund within <b>30 days</b> of purchase.<br>The money goes back to the original card.</p>
  <h2>Exceptions</h2>
  <ul><li>Gift cards cannot be refunded.</li><li>Downloads only if never opened.</li></ul>
  <table><tr><th>Plan</th><th>Days</th></tr><tr><td>Basic</td><td>14</td></tr><tr><td>Pro</td><td>30</td></tr></table>
  <h2>退款说明</h2>
  <p>购买后三十天内可以申请退款。</p>
  <pre>refund --order 42
  --reason "late"</pre>
  <div style="display: none">Hidden promo text</div>
  <aside>Related posts: How we ship</aside>
</main>
<footer>Copyright 2024 Acme Inc. Privacy · Terms</footer>
</body></html>
"""


def test_html_keeps_the_main_text_under_its_headings_and_drops_the_rest() -> None:
    document = load_document(PAGE.encode(), filename="refunds.html")
    assert document.title == "Refund policy — Acme"
    assert [(section.headings, section.text) for section in document.sections] == [
        (
            ("Refund policy",),
            "Refund policy\n\nCustomers can ask for a refund within 30 days of purchase.\n"
            "The money goes back to the original card.",
        ),
        (
            ("Refund policy", "Exceptions"),
            "Exceptions\n\nGift cards cannot be refunded.\n\nDownloads only if never opened.\n\n"
            "Plan: Basic; Days: 14\nPlan: Pro; Days: 30",
        ),
        (
            ("Refund policy", "退款说明"),
            '退款说明\n\n购买后三十天内可以申请退款。\n\nrefund --order 42\n  --reason "late"',
        ),
    ]
    for boilerplate in ("SCRIPT", "cookies", "Home", "Careers", "Hidden", "Related", "Copyright", "color"):
        assert boilerplate not in document.text


def test_html_without_semantic_markup_loses_its_menus_but_not_its_content() -> None:
    page = (
        "<html><body><div id='menu'><a href='/'>Home</a><a href='/x'>Docs</a></div>"
        "<div class='links'><a href='/1'>One</a> <a href='/2'>Two</a> <a href='/3'>Three</a></div>"
        "<div><h3>FAQ</h3><p>Orders ship in two days. See <a href='/ship'>shipping</a>.</p></div>"
        "<div class='sidebar'>Ads here</div></body></html>"
    )
    document = load_document(page.encode(), filename="faq.htm")
    assert document.text == "FAQ\n\nOrders ship in two days. See shipping."


def test_html_in_gbk_declared_by_a_meta_tag() -> None:
    page = (
        '<html><head><meta charset="gb2312"><title>帮助</title></head>'
        "<body><p>客服电话：400-800-1234。</p></body></html>"
    )
    document = load_document(page.encode("gbk"), filename="help.html")
    assert document.title == "帮助"
    assert document.text == "客服电话：400-800-1234。"


def test_xhtml_with_an_xml_declaration() -> None:
    page = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>Ünïcode ok</p></body></html>'
    )
    assert load_document(page.encode(), filename="a.xhtml").text == "Ünïcode ok"


@pytest.mark.parametrize("page", ["<html><head><title>Only a title</title></head><body></body></html>", "   "])
def test_html_without_visible_text_has_no_text(page: str) -> None:
    with pytest.raises(DocumentError) as caught:
        load_document(page.encode(), filename="empty.html")
    assert caught.value.code == ErrorCode.NO_TEXT


def test_html_nested_past_the_parsers_depth_limit_ends_as_a_typed_error() -> None:
    # lxml stops building the tree past 255 levels (and reads nothing): no crash, no recursion.
    page = "<div>" * 50_000 + "deep" + "</div>" * 50_000 + "<p>shallow text</p>"
    with pytest.raises(DocumentError) as caught:
        load_document(page.encode(), filename="deep.html")
    assert caught.value.code == ErrorCode.NO_TEXT
