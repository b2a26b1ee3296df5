"""Documents by URL, fetched through the SSRF-safe client from real servers on 127.0.0.1."""

from __future__ import annotations

import pytest

from builder.core.ssrf import SsrfSafeHttpClient
from builder.knowledge.loading import DocumentError, DocumentKind, ErrorCode, fetch_url
from tests.knowledge.loading import files
from tests.knowledge.loading.page_server import PageServer
from tests.support.http_server import serve

ARTICLE = """<!doctype html><html><head><title>Shipping FAQ</title><script>track()</script></head><body>
<nav><a href="/">Home</a><a href="/shop">Shop</a><a href="/help">Help</a></nav>
<article><h1>Shipping</h1><p>Orders ship within two days.</p>
<h2>国际配送</h2><p>国际订单需要七到十天送达。</p></article>
<footer>© Example Shop</footer></body></html>"""


@pytest.fixture
def client() -> SsrfSafeHttpClient:
    return SsrfSafeHttpClient(allow=["127.0.0.1"])


async def test_a_web_page_gives_its_main_text_under_its_headings(
    page_server: PageServer, client: SsrfSafeHttpClient
) -> None:
    page_server.pages["/faq"] = (ARTICLE.encode(), "text/html; charset=utf-8")
    document = await fetch_url(page_server.url("/faq"), client)
    assert document.kind == DocumentKind.HTML
    assert document.title == "Shipping FAQ"
    assert [(section.headings, section.text) for section in document.sections] == [
        (("Shipping",), "Shipping\n\nOrders ship within two days."),
        (("Shipping", "国际配送"), "国际配送\n\n国际订单需要七到十天送达。"),
    ]
    assert document.sections[0].source == page_server.url("/faq")
    for boilerplate in ("Home", "track", "Example Shop"):
        assert boilerplate not in document.text


async def test_a_gbk_page_declared_by_its_content_type(page_server: PageServer, client: SsrfSafeHttpClient) -> None:
    page = "<html><body><p>退货请在七天内联系客服。</p></body></html>"
    page_server.pages["/gbk"] = (page.encode("gbk"), "text/html; charset=gbk")
    assert (await fetch_url(page_server.url("/gbk"), client)).text == "退货请在七天内联系客服。"


async def test_markdown_and_plain_text_are_read_by_their_content_type(
    page_server: PageServer, client: SsrfSafeHttpClient
) -> None:
    page_server.pages["/readme"] = (b"# Setup\n\nRun make.", "text/markdown")
    page_server.pages["/notes"] = ("第一行\n第二行".encode(), "text/plain; charset=utf-8")
    readme = await fetch_url(page_server.url("/readme"), client)
    assert (readme.kind, readme.sections[0].headings) == (DocumentKind.MD, ("Setup",))
    notes = await fetch_url(page_server.url("/notes"), client)
    assert (notes.kind, notes.text) == (DocumentKind.TXT, "第一行\n第二行")


async def test_a_generic_content_type_falls_back_to_the_url_extension(
    page_server: PageServer, client: SsrfSafeHttpClient
) -> None:
    page_server.pages["/export/prices.csv"] = (b"item,price\ntea,3\n", "application/octet-stream")
    document = await fetch_url(page_server.url("/export/prices.csv"), client)
    assert (document.kind, document.text) == (DocumentKind.CSV, "item: tea; price: 3")


async def test_redirects_are_followed_through_the_client(page_server: PageServer, client: SsrfSafeHttpClient) -> None:
    page_server.pages["/moved"] = (b"<p>The new home of the page.</p>", "text/html")
    with serve() as redirector:
        url = redirector.url(f"/redirect?to={page_server.url('/moved')}")
        assert (await fetch_url(url, client)).text == "The new home of the page."


async def test_a_loopback_url_is_refused_unless_allow_listed(page_server: PageServer) -> None:
    page_server.pages["/secret"] = (b"internal admin page", "text/plain")
    with pytest.raises(DocumentError) as caught:
        await fetch_url(page_server.url("/secret"), SsrfSafeHttpClient())
    assert caught.value.code == ErrorCode.URL_BLOCKED
    assert caught.value.message == "The address points to a private or local network and cannot be fetched."


@pytest.mark.parametrize("url", ["ftp://example.com/file.txt", "file:///etc/passwd", "not a url"])
async def test_only_http_urls_are_fetched(url: str, client: SsrfSafeHttpClient) -> None:
    with pytest.raises(DocumentError) as caught:
        await fetch_url(url, client)
    assert caught.value.code == ErrorCode.INVALID_URL


async def test_an_error_status_is_a_failed_fetch(page_server: PageServer, client: SsrfSafeHttpClient) -> None:
    with pytest.raises(DocumentError) as caught:
        await fetch_url(page_server.url("/missing"), client)
    assert caught.value.code == ErrorCode.FETCH_FAILED
    assert caught.value.message == "The page could not be fetched: the server answered HTTP 404"


async def test_a_body_over_the_clients_cap_is_too_large(page_server: PageServer) -> None:
    page_server.pages["/big"] = (b"<p>" + b"a" * 5000 + b"</p>", "text/html")
    with pytest.raises(DocumentError) as caught:
        await fetch_url(page_server.url("/big"), SsrfSafeHttpClient(allow=["127.0.0.1"], max_response_bytes=1024))
    assert caught.value.code == ErrorCode.TOO_LARGE
    assert caught.value.message == "The file is larger than the limit of 1 KB."


async def test_a_page_without_a_content_type_is_read_by_its_bytes(
    page_server: PageServer, client: SsrfSafeHttpClient
) -> None:
    page_server.pages["/index.php"] = (b"<!DOCTYPE html><html><body><p>Dynamic page</p></body></html>", "")
    document = await fetch_url(page_server.url("/index.php"), client)
    assert (document.kind, document.text) == (DocumentKind.HTML, "Dynamic page")


async def test_an_unsupported_content_type_is_refused(page_server: PageServer, client: SsrfSafeHttpClient) -> None:
    page_server.pages["/logo.png"] = (b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")
    with pytest.raises(DocumentError) as caught:
        await fetch_url(page_server.url("/logo.png"), client)
    assert caught.value.code == ErrorCode.UNSUPPORTED_TYPE


@pytest.mark.parametrize(
    ("path", "content_type"), [("/manual", "application/pdf"), ("/get", "application/octet-stream")]
)
async def test_a_pdf_by_url_is_read_like_an_uploaded_one(
    page_server: PageServer, client: SsrfSafeHttpClient, path: str, content_type: str
) -> None:
    # By its content type, or (a generic download) by its bytes.
    page_server.pages[path] = (files.pdf([["Manual page one"], ["说明书第二页"]]), content_type)
    document = await fetch_url(page_server.url(path), client)
    assert [(section.page, section.text) for section in document.sections] == [
        (1, "Manual page one"),
        (2, "说明书第二页"),
    ]
