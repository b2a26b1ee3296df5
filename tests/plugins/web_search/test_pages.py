"""fetch_pages: the top result pages read through the SSRF-safe client, each within its limits; a page
that fails is noted on its result and never fails the search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from builder.sdk.testing import PluginHarness
from tests.support.scripted_api import Reply, ScriptedApi

Harness = Callable[..., PluginHarness]

ARTICLE = """<!doctype html>
<html><head><title>Night trains are back</title></head>
<body>
  <nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a> <a href="/login">Log in</a></nav>
  <div class="cookie-consent">We use cookies to improve your experience.</div>
  <main>
    <article>
      <h1>Night trains are back</h1>
      <p>Europe's sleeper trains carried more passengers this year than in any year since 1990.</p>
      <p>New routes link Berlin, Paris and Vienna overnight.</p>
    </article>
  </main>
  <footer>© 2024 Rail News · Imprint · Privacy</footer>
</body></html>
"""


def searxng_results(*urls: str) -> dict[str, Any]:
    return {"results": [{"url": url, "title": f"Result {n}", "content": "…"} for n, url in enumerate(urls, 1)]}


async def test_the_top_pages_are_read_as_text(web_search: Harness, api: ScriptedApi) -> None:
    article = api.page("/article", ARTICLE)
    plain = api.page("/notes.txt", "Plain notes about trains.", content_type="text/plain; charset=utf-8")
    unread = api.page("/third", "<p>Not asked for.</p>")
    api.reply("GET", "/search", Reply(json=searxng_results(article, plain, unread)))
    harness = web_search("searxng")

    output = await harness.invoke("search", {"query": "night trains", "fetch_pages": True, "max_pages": 2})

    first, second, third = output.results
    assert first.page_text == (
        "Night trains are back\n\n"
        "Europe's sleeper trains carried more passengers this year than in any year since 1990.\n\n"
        "New routes link Berlin, Paris and Vienna overnight."
    )
    assert second.page_text == "Plain notes about trains."
    assert (first.page_error, second.page_error) == (None, None)
    assert (third.page_text, third.page_error) == (None, None)
    assert sorted(request.path for request in api.requests) == ["/article", "/notes.txt", "/search"]
    page_request = next(request for request in api.requests if request.path == "/article")
    assert page_request.headers["accept"].startswith("text/html")
    notes = [update.note for update in harness.progress]
    assert notes[:2] == ["Searching with SearXNG", "Reading 2 pages"]
    assert notes[-2:] == ["Read 2 of 2 pages", "3 results"]
    assert harness.progress[-2].percent == 100


async def test_page_text_is_cut_to_the_configured_length(web_search: Harness, api: ScriptedApi) -> None:
    words = " ".join(f"word{n}" for n in range(2000))
    long_page = api.page("/long", f"<html><body><p>{words}</p></body></html>")
    api.reply("GET", "/search", Reply(json=searxng_results(long_page)))

    output = await web_search("searxng", page_max_chars=300).invoke("search", {"query": "x", "fetch_pages": True})

    text = output.results[0].page_text
    assert text is not None and len(text) <= 300 and text.endswith("…")
    assert text.startswith("word0 word1 word2")


async def test_a_page_over_the_size_cap_is_read_up_to_it(web_search: Harness, api: ScriptedApi) -> None:
    body = "<html><body><p>The start of a very long page.</p>" + "<p>filler text</p>" * 5000 + "</body></html>"
    big = api.page("/big", body)
    api.reply("GET", "/search", Reply(json=searxng_results(big)))

    output = await web_search("searxng", page_max_bytes=10_000, page_max_chars=50_000).invoke(
        "search", {"query": "x", "fetch_pages": True}
    )

    text = output.results[0].page_text
    assert text is not None and text.startswith("The start of a very long page.")
    assert len(text) < 10_000 < len(body)


async def test_pages_that_fail_are_noted_and_the_search_still_answers(web_search: Harness, api: ScriptedApi) -> None:
    good = api.page("/good", ARTICLE)
    missing = api.url + "/missing"
    slow = api.page("/slow", ARTICLE, delay_s=3)
    slower = api.page("/slower", ARTICLE, delay_s=3)
    picture = api.page("/picture.png", "\x89PNG", content_type="image/png")
    empty = api.page("/empty", "<html><body><script>var x = 1;</script></body></html>")
    private = "http://10.255.255.1/intranet"
    api.reply("GET", "/search", Reply(json=searxng_results(good, missing, slow, slower, picture, empty, private)))
    harness = web_search("searxng", page_timeout_s=1)

    output = await harness.invoke("search", {"query": "x", "count": 10, "fetch_pages": True, "max_pages": 10})

    errors = {result.url.removeprefix(api.url): result.page_error for result in output.results}
    assert errors == {
        "/good": None,
        "/missing": "The page answered HTTP 404 (Not Found).",
        "/slow": "No complete response within 1 s.",
        "/slower": "No complete response within 1 s.",
        "/picture.png": "The page is not text (image/png).",
        "/empty": "The page has no readable text.",
        private: "Requests to 10.255.255.1 are not allowed: it is not a public address.",
    }
    assert output.results[0].page_text is not None and "sleeper trains" in output.results[0].page_text
    assert not any(request.path == "/intranet" for request in api.requests)


async def test_no_page_is_fetched_unless_asked(web_search: Harness, api: ScriptedApi) -> None:
    article = api.page("/article", ARTICLE)
    api.reply("GET", "/search", Reply(json=searxng_results(article)))

    output = await web_search("searxng").invoke("search", {"query": "x"})

    assert output.results[0].page_text is None
    assert [request.path for request in api.requests] == ["/search"]
