"""Each provider against a fake of its API: the request it really sends, the results in one shape,
and its errors as stable tool error codes."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from builder.sdk import ToolError
from builder.sdk.testing import PluginHarness
from tests.plugins.web_search.conftest import KEYS, PLUGIN
from tests.support.scripted_api import Reply, ScriptedApi

Harness = Callable[..., PluginHarness]


async def failure(harness: PluginHarness, inputs: dict[str, Any] | None = None) -> ToolError:
    with pytest.raises(ToolError) as caught:
        await harness.invoke("search", inputs or {"query": "agentloom"})
    return caught.value


# --- SearXNG --------------------------------------------------------------------------------------

SEARXNG_ANSWER = {
    "query": "klimaschutz",
    "number_of_results": 0,
    "results": [
        {
            "url": "https://www.umweltbundesamt.de/klimaschutz",
            "title": "Klimaschutz &amp; Energie",
            "content": "Was <b>Deutschland</b> für den Klimaschutz tut.",
            "engine": "google",
            "publishedDate": "2024-05-14T10:00:00",
        },
        {"url": "https://de.wikipedia.org/wiki/Klimaschutz", "title": "Klimaschutz – Wikipedia", "content": ""},
        {"url": "https://www.umweltbundesamt.de/klimaschutz", "title": "Repeated by a second engine"},
        {"url": "javascript:alert(1)", "title": "Not a page"},
        {"url": "https://example.org/third", "title": "Third", "publishedDate": None},
    ],
    "answers": [],
    "unresponsive_engines": [],
}


async def test_searxng_request_and_results(web_search: Harness, api: ScriptedApi) -> None:
    api.reply("GET", "/search", Reply(json=SEARXNG_ANSWER))
    harness = web_search("searxng", safesearch="off")

    output = await harness.invoke_json(
        "search", {"query": "klimaschutz", "count": 2, "language": "de", "region": "de", "time_range": "week"}
    )

    [request] = api.requests
    assert request.query == {
        "q": "klimaschutz",
        "format": "json",
        "pageno": "1",
        "safesearch": "0",
        "language": "de-DE",
        "time_range": "week",
    }
    assert "authorization" not in request.headers and request.headers["accept"] == "application/json"
    assert output == {
        "query": "klimaschutz",
        "provider": "searxng",
        "results": [
            {
                "title": "Klimaschutz & Energie",
                "url": "https://www.umweltbundesamt.de/klimaschutz",
                "snippet": "Was Deutschland für den Klimaschutz tut.",
                "date": "2024-05-14T10:00:00",
                "source": "umweltbundesamt.de",
                "provider": "searxng",
                "page_text": None,
                "page_error": None,
            },
            {
                "title": "Klimaschutz – Wikipedia",
                "url": "https://de.wikipedia.org/wiki/Klimaschutz",
                "snippet": "",
                "date": None,
                "source": "de.wikipedia.org",
                "provider": "searxng",
                "page_text": None,
                "page_error": None,
            },
        ],
    }
    assert [update.note for update in harness.progress] == ["Searching with SearXNG", "2 results"]


async def test_searxng_under_a_path_drops_repeats_and_pages_without_an_address(
    plugin_harness: Harness, api: ScriptedApi
) -> None:
    api.reply("GET", "/searxng/search", Reply(json=SEARXNG_ANSWER))
    harness = plugin_harness(PLUGIN, config={"provider": "searxng", "searxng_url": f"{api.url}/searxng/"})

    output = await harness.invoke("search", {"query": "klimaschutz", "count": 10})

    assert [result.url for result in output.results] == [
        "https://www.umweltbundesamt.de/klimaschutz",
        "https://de.wikipedia.org/wiki/Klimaschutz",
        "https://example.org/third",
    ]


async def test_searxng_without_json_output_says_how_to_enable_it(web_search: Harness, api: ScriptedApi) -> None:
    api.reply("GET", "/search", Reply(403, body="<html>Forbidden</html>", content_type="text/html"))

    error = await failure(web_search("searxng"))

    assert error.code == "search_request_rejected" and not error.retryable
    assert "add json to search.formats in its settings.yml" in error.message


async def test_searxng_whose_engines_all_failed_is_unavailable(web_search: Harness, api: ScriptedApi) -> None:
    api.reply(
        "GET",
        "/search",
        Reply(json={"results": [], "unresponsive_engines": [["google", "timeout"], ["bing", "CAPTCHA"]]}),
    )

    error = await failure(web_search("searxng"))

    assert (error.code, error.retryable) == ("search_unavailable", True)
    assert error.message.endswith("google (timeout), bing (CAPTCHA)")


async def test_a_page_that_is_not_json_is_a_bad_response(web_search: Harness, api: ScriptedApi) -> None:
    api.reply("GET", "/search", Reply(body="<html>Login</html>", content_type="text/html; charset=utf-8"))

    error = await failure(web_search("searxng"))

    assert error.code == "search_bad_response"
    assert error.message == "SearXNG sent an answer that is not a list of search results: it is not JSON (text/html)"


# --- Tavily ---------------------------------------------------------------------------------------

TAVILY_ANSWER = {
    "query": "agentloom",
    "follow_up_questions": None,
    "answer": None,
    "images": [],
    "results": [
        {
            "title": "Agentloom releases plugins",
            "url": "https://news.example.com/agentloom",
            "content": "Agentloom now has plugins.",
            "score": 0.91,
            "raw_content": None,
            "published_date": "Mon, 14 Oct 2024 20:00:00 GMT",
        },
        {"title": "Docs", "url": "https://docs.example.com/", "content": "How to.", "score": 0.5, "raw_content": None},
    ],
    "response_time": 1.2,
}


async def test_tavily_request_and_results(web_search: Harness, api: ScriptedApi) -> None:
    api.reply("POST", "/search", Reply(json=TAVILY_ANSWER))

    output = await web_search("tavily").invoke_json(
        "search", {"query": "agentloom", "count": 3, "time_range": "month", "language": "en"}
    )

    [request] = api.requests
    assert request.headers["authorization"] == f"Bearer {KEYS['tavily']}"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "query": "agentloom",
        "max_results": 3,
        "search_depth": "basic",
        "topic": "general",
        "include_answer": False,
        "include_raw_content": False,
        "include_images": False,
        "time_range": "month",
    }
    first, second = output["results"]
    assert first == {
        "title": "Agentloom releases plugins",
        "url": "https://news.example.com/agentloom",
        "snippet": "Agentloom now has plugins.",
        "date": "2024-10-14T20:00:00+00:00",
        "source": "news.example.com",
        "provider": "tavily",
        "page_text": None,
        "page_error": None,
    }
    assert (second["date"], second["source"]) == (None, "docs.example.com")


# --- Brave Search ---------------------------------------------------------------------------------

BRAVE_ANSWER = {
    "type": "search",
    "query": {"original": "天气", "more_results_available": True},
    "web": {
        "type": "search",
        "results": [
            {
                "title": "北京天气预报",
                "url": "https://weather.example.cn/beijing",
                "description": "今天<strong>晴</strong>，最高 21°C。",
                "age": "2 days ago",
                "page_age": "2024-05-12T08:30:00",
                "profile": {"name": "中国天气网", "url": "https://weather.example.cn"},
                "meta_url": {"scheme": "https", "hostname": "weather.example.cn"},
                "language": "zh",
            },
            {
                "title": "Weather",
                "url": "https://other.example.com/w",
                "description": "Forecasts.",
                "meta_url": {"hostname": "other.example.com"},
            },
        ],
    },
}


async def test_brave_request_and_results(web_search: Harness, api: ScriptedApi) -> None:
    api.reply("GET", "/res/v1/web/search", Reply(json=BRAVE_ANSWER))

    output = await web_search("brave", safesearch="strict").invoke_json(
        "search", {"query": "天气", "count": 2, "language": "zh-CN", "region": "cn", "time_range": "day"}
    )

    [request] = api.requests
    assert request.headers["x-subscription-token"] == KEYS["brave"]
    assert request.headers["accept"] == "application/json"
    assert request.query == {
        "q": "天气",
        "count": "2",
        "safesearch": "strict",
        "text_decorations": "false",
        "country": "CN",
        "search_lang": "zh-hans",
        "freshness": "pd",
    }
    first, second = output["results"]
    assert first == {
        "title": "北京天气预报",
        "url": "https://weather.example.cn/beijing",
        "snippet": "今天晴，最高 21°C。",
        "date": "2024-05-12T08:30:00",
        "source": "中国天气网",
        "provider": "brave",
        "page_text": None,
        "page_error": None,
    }
    assert (second["source"], second["date"]) == ("other.example.com", None)


async def test_brave_without_web_results_finds_nothing(web_search: Harness, api: ScriptedApi) -> None:
    api.reply("GET", "/res/v1/web/search", Reply(json={"type": "search", "query": {"original": "zzzz"}}))

    output = await web_search("brave").invoke("search", {"query": "zzzz"})

    assert output.results == []


@pytest.mark.parametrize(
    ("language", "search_lang"),
    [("en", "en"), ("en-GB", "en-gb"), ("zh-TW", "zh-hant"), ("ja", "jp"), ("pt", "pt-pt"), ("de-AT", "de")],
)
async def test_brave_language_codes(web_search: Harness, api: ScriptedApi, language: str, search_lang: str) -> None:
    api.reply("GET", "/res/v1/web/search", Reply(json=BRAVE_ANSWER))

    await web_search("brave").invoke("search", {"query": "x", "language": language})

    assert api.requests[0].query["search_lang"] == search_lang


# --- Bocha ----------------------------------------------------------------------------------------

BOCHA_ANSWER = {
    "code": 200,
    "log_id": "e02ce8d18c71d14f",
    "msg": None,
    "data": {
        "_type": "SearchResponse",
        "queryContext": {"originalQuery": "阿里巴巴 ESG 报告"},
        "webPages": {
            "webSearchUrl": "https://bochaai.com/search?q=...",
            "totalEstimatedMatches": 10000000,
            "value": [
                {
                    "id": "https://api.bochaai.com/v1/#WebPages.0",
                    "name": "阿里巴巴集团 2024 ESG 报告",
                    "url": "https://www.example.com.cn/esg-2024",
                    "displayUrl": "https://www.example.com.cn/esg-2024",
                    "snippet": "简短描述",
                    "summary": "阿里巴巴发布 2024 年环境、社会和治理报告，详细摘要。",
                    "siteName": "阿里巴巴",
                    "siteIcon": "https://th.bochaai.com/favicon?domain_url=example.com.cn",
                    "datePublished": "2024-07-22T11:58:00+08:00",
                    "dateLastCrawled": "2024-07-22T11:58:00Z",
                    "cachedPageUrl": None,
                    "language": None,
                },
                {"name": "无摘要", "url": "https://news.example.cn/a", "snippet": "只有片段", "siteName": None},
            ],
            "someResultsRemoved": True,
        },
    },
}


async def test_bocha_request_and_results(web_search: Harness, api: ScriptedApi) -> None:
    api.reply("POST", "/v1/web-search", Reply(json=BOCHA_ANSWER))

    output = await web_search("bocha").invoke_json(
        "search", {"query": "阿里巴巴 ESG 报告", "count": 7, "time_range": "year", "region": "CN"}
    )

    [request] = api.requests
    assert request.headers["authorization"] == f"Bearer {KEYS['bocha']}"
    assert request.json() == {"query": "阿里巴巴 ESG 报告", "count": 7, "freshness": "oneYear", "summary": True}
    first, second = output["results"]
    assert first == {
        "title": "阿里巴巴集团 2024 ESG 报告",
        "url": "https://www.example.com.cn/esg-2024",
        "snippet": "阿里巴巴发布 2024 年环境、社会和治理报告，详细摘要。",
        "date": "2024-07-22T11:58:00+08:00",
        "source": "阿里巴巴",
        "provider": "bocha",
        "page_text": None,
        "page_error": None,
    }
    assert (second["snippet"], second["source"]) == ("只有片段", "news.example.cn")


async def test_bocha_without_pages_finds_nothing(web_search: Harness, api: ScriptedApi) -> None:
    api.reply("POST", "/v1/web-search", Reply(json={"code": 200, "msg": None, "data": {"_type": "SearchResponse"}}))

    output = await web_search("bocha").invoke("search", {"query": "x", "time_range": None})

    assert output.results == []
    assert api.requests[0].json()["freshness"] == "noLimit"


# --- errors, every provider -----------------------------------------------------------------------

ROUTES = {
    "searxng": ("GET", "/search"),
    "tavily": ("POST", "/search"),
    "brave": ("GET", "/res/v1/web/search"),
    "bocha": ("POST", "/v1/web-search"),
}
TAVILY_401 = {"detail": {"error": "Unauthorized: missing or invalid API key."}}
BRAVE_TOKEN = {
    "type": "ErrorResponse",
    "error": {
        "id": "x",
        "status": 422,
        "code": "SUBSCRIPTION_TOKEN_INVALID",
        "detail": "The provided subscription token is invalid.",
        "meta": {},
    },
}
BRAVE_VALIDATION = {
    "type": "ErrorResponse",
    "error": {"id": "y", "status": 422, "code": "VALIDATION", "detail": "Unable to validate request parameter(s)"},
}
BRAVE_RATE = {
    "type": "ErrorResponse",
    "error": {
        "status": 429,
        "code": "RATE_LIMITED",
        "detail": "Request rate limit exceeded for plan",
        "meta": {"plan": "Free", "rate_limit": 1, "quota_limit": 2000, "quota_current": 15},
    },
}
BRAVE_QUOTA = {
    "type": "ErrorResponse",
    "error": {
        "status": 429,
        "code": "RATE_LIMITED",
        "detail": "Request rate limit exceeded for plan",
        "meta": {"plan": "Free", "quota_limit": 2000, "quota_current": 2000},
    },
}


@pytest.mark.parametrize(
    ("provider", "reply", "code", "retryable", "message"),
    [
        (
            "tavily",
            Reply(401, TAVILY_401),
            "search_auth_failed",
            False,
            "Tavily refused the API key (HTTP 401: Unauthorized: missing or invalid API key.). "
            "Check the key in the web search plugin's settings.",
        ),
        (
            "tavily",
            Reply(432, {"detail": {"error": "This request exceeds your plan's set usage limit."}}),
            "search_quota_exceeded",
            False,
            "The Tavily account has used up its quota or credit (HTTP 432: This request exceeds your plan's set "
            "usage limit.).",
        ),
        ("tavily", Reply(433, {"detail": {"error": "pay-as-you-go limit"}}), "search_quota_exceeded", False, None),
        (
            "tavily",
            Reply(429, {"detail": {"error": "Too many requests"}}),
            "search_rate_limited",
            True,
            "Tavily is limiting the rate of searches (HTTP 429: Too many requests). Try again in a moment.",
        ),
        (
            "tavily",
            Reply(500, body="oops", content_type="text/plain"),
            "search_unavailable",
            True,
            "Tavily is unavailable (HTTP 500: Internal Server Error). Try again later.",
        ),
        (
            "tavily",
            Reply(400, {"detail": {"error": "Invalid topic"}}),
            "search_request_rejected",
            False,
            "Tavily refused the search (HTTP 400: Invalid topic).",
        ),
        ("brave", Reply(422, BRAVE_TOKEN), "search_auth_failed", False, None),
        ("brave", Reply(401, {}), "search_auth_failed", False, None),
        (
            "brave",
            Reply(422, BRAVE_VALIDATION),
            "search_request_rejected",
            False,
            "Brave Search refused the search (HTTP 422: Unable to validate request parameter(s)).",
        ),
        ("brave", Reply(429, BRAVE_RATE), "search_rate_limited", True, None),
        ("brave", Reply(429, BRAVE_QUOTA), "search_quota_exceeded", False, None),
        ("brave", Reply(503, {}), "search_unavailable", True, None),
        (
            "bocha",
            Reply(401, {"code": "401", "message": "Invalid API KEY", "log_id": "a"}),
            "search_auth_failed",
            False,
            "Bocha refused the API key (HTTP 401: Invalid API KEY). Check the key in the web search plugin's settings.",
        ),
        (
            "bocha",
            Reply(403, {"code": "403", "message": "You do not have enough money", "log_id": "b"}),
            "search_quota_exceeded",
            False,
            "The Bocha account has used up its quota or credit (HTTP 403: You do not have enough money).",
        ),
        ("bocha", Reply(429, {"code": "429", "message": "rate limit"}), "search_rate_limited", True, None),
        # An error inside a 200 envelope.
        (
            "bocha",
            Reply(200, {"code": 500, "message": "internal error", "data": None}),
            "search_unavailable",
            True,
            None,
        ),
        ("bocha", Reply(200, {"code": 200, "data": {"webPages": {"value": "?"}}}), "search_bad_response", False, None),
        ("searxng", Reply(429, body="Too Many Requests", content_type="text/plain"), "search_rate_limited", True, None),
        ("searxng", Reply(502, body="Bad Gateway", content_type="text/plain"), "search_unavailable", True, None),
        ("searxng", Reply(200, {"results": [1, 2]}), "search_bad_response", False, None),
    ],
)
async def test_provider_errors_are_stable_tool_errors(
    web_search: Harness,
    api: ScriptedApi,
    provider: str,
    reply: Reply,
    code: str,
    retryable: bool,
    message: str | None,
) -> None:
    api.reply(*ROUTES[provider], reply)

    error = await failure(web_search(provider))

    assert (error.code, error.retryable) == (code, retryable)
    if message is not None:
        assert error.message == message
    assert KEYS.get(provider, "no key") not in error.message


async def test_an_unreachable_provider_is_unavailable(plugin_harness: Harness) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    harness = plugin_harness(
        PLUGIN,
        config={"provider": "tavily", "tavily_api_key": KEYS["tavily"], "tavily_url": f"http://127.0.0.1:{port}"},
    )

    error = await failure(harness)

    assert (error.code, error.retryable) == ("search_unavailable", True)
    assert error.message.startswith(f"Could not reach Tavily at http://127.0.0.1:{port}/search: ")


async def test_a_missing_key_or_provider_is_named(plugin_harness: Harness) -> None:
    no_key = await failure(plugin_harness(PLUGIN, config={"provider": "brave"}))
    no_provider = await failure(plugin_harness(PLUGIN, config={}))
    unknown = await failure(plugin_harness(PLUGIN, config={"provider": "altavista"}))

    assert (no_key.code, no_key.details["field"]) == ("missing_credentials", "brave_api_key")
    assert (no_provider.code, no_provider.details["field"]) == ("missing_credentials", "provider")
    assert (unknown.code, unknown.message) == (
        "search_not_configured",
        "Unknown search provider altavista: choose one of searxng, tavily, brave, bocha in the settings.",
    )


async def test_invalid_input_is_refused_before_any_request(web_search: Harness, api: ScriptedApi) -> None:
    harness = web_search("brave")

    too_many = await failure(harness, {"query": "x", "count": 21})
    empty = await failure(harness, {"query": ""})
    odd_range = await failure(harness, {"query": "x", "time_range": "decade"})

    assert {too_many.code, empty.code, odd_range.code} == {"invalid_tool_input"}
    assert "count" in too_many.message and "time_range" in odd_range.message
    assert api.requests == []
