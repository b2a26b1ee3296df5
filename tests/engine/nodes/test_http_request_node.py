"""The http_request node against a real server on 127.0.0.1, through the SSRF-safe client."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from builder.core.ssrf import SsrfSafeHttpClient
from builder.engine.runtime.contract import NodeError, NodeResult, RuntimeServices
from tests.engine.nodes.support import StubContext, run_node
from tests.support.http_server import LocalHttpServer, serve

UPSTREAM: dict[str, dict[str, Any]] = {"llm1": {"text": "owls & larks", "count": 3}, "form": {"tags": ["a", "b"]}}


@pytest.fixture
def api() -> Iterator[LocalHttpServer]:
    with serve() as server:
        yield server


class TemplatingContext(StubContext):
    """StubContext plus the contract's rule that literal strings with ``{{`` are rendered."""

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            return self.render(value)
        return super().resolve(value)


def context(**client: Any) -> StubContext:
    http = SsrfSafeHttpClient(allow=["127.0.0.1"], **client)
    return TemplatingContext(RuntimeServices(http=http), outputs=UPSTREAM, sys={"user_id": "u-7"})


async def call(data: dict[str, Any], ctx: StubContext | None = None) -> NodeResult:
    return await run_node("http_request", data, ctx or context())


async def test_get_with_templated_url_query_and_headers(api: LocalHttpServer) -> None:
    result = await call(
        {
            "url": api.url("/echo") + "?user={{ sys.user_id }}",
            "query": {"q": {"ref": ["llm1", "text"]}, "n": {"ref": ["llm1", "count"]}},
            "headers": {"X-Trace": "run {{ sys.user_id }}", "X-Count": {"ref": ["llm1", "count"]}},
        }
    )

    assert result.outputs["status_code"] == 200
    assert result.outputs["headers"]["content-type"] == "application/json"
    echo = result.outputs["json"]
    assert echo["query"] == {"user": ["u-7"], "q": ["owls & larks"], "n": ["3"]}
    assert (echo["headers"]["x-trace"], echo["headers"]["x-count"]) == ("run u-7", "3")
    assert json.loads(result.outputs["body"]) == echo
    assert result.inputs["url"] == api.url("/echo") + "?user=u-7"


async def test_json_body_with_references(api: LocalHttpServer) -> None:
    body = {"type": "json", "content": {"text": {"ref": ["llm1", "text"]}, "tags": {"ref": ["form", "tags"]}}}

    result = await call({"method": "POST", "url": api.url("/echo"), "body": body})

    echo = result.outputs["json"]
    assert echo["method"] == "POST"
    assert json.loads(echo["body"]) == {"text": "owls & larks", "tags": ["a", "b"]}
    assert echo["headers"]["content-type"] == "application/json"
    assert result.inputs["body"] == {"text": "owls & larks", "tags": ["a", "b"]}


async def test_form_body(api: LocalHttpServer) -> None:
    body = {"type": "form", "content": {"name": "{{ sys.user_id }}", "count": {"ref": ["llm1", "count"]}}}

    result = await call({"method": "PUT", "url": api.url("/echo"), "body": body})

    echo = result.outputs["json"]
    assert echo["body"] == "name=u-7&count=3"
    assert echo["headers"]["content-type"] == "application/x-www-form-urlencoded"


async def test_raw_body_is_a_template(api: LocalHttpServer) -> None:
    data = {
        "method": "PATCH",
        "url": api.url("/echo"),
        "headers": {"Content-Type": "text/plain"},
        "body": {"type": "raw", "content": "Hello {{ llm1.text }}"},
    }

    result = await call(data)

    assert result.outputs["json"]["body"] == "Hello owls & larks"


@pytest.mark.parametrize(
    ("auth", "header", "query", "sent"),
    [
        ({"type": "bearer", "token": "tok-{{ sys.user_id }}"}, "authorization", None, "Bearer tok-u-7"),
        (
            {"type": "basic", "username": "ada", "password": "p:w"},
            "authorization",
            None,
            "Basic " + base64.b64encode(b"ada:p:w").decode(),
        ),
        ({"type": "api_key", "api_key": "k-1", "name": "X-Api-Key"}, "x-api-key", None, "k-1"),
        ({"type": "api_key", "api_key": "k-2", "name": "key", "placement": "query"}, None, "key", "k-2"),
    ],
)
async def test_auth_is_sent_and_masked_in_the_trace(
    api: LocalHttpServer, auth: dict[str, str], header: str | None, query: str | None, sent: str
) -> None:
    result = await call({"url": api.url("/echo"), "auth": auth})

    echo = result.outputs["json"]
    if header:
        assert echo["headers"][header] == sent
        assert list(result.inputs["headers"].values()) == ["******"]
    else:
        assert echo["query"][query] == [sent]
        assert result.inputs["query"] == {query: "******"}
    assert sent not in json.dumps(result.inputs)


async def test_a_4xx_is_an_answer_not_a_failure(api: LocalHttpServer) -> None:
    result = await call({"url": api.url("/missing")})

    assert result.outputs["status_code"] == 404
    assert result.outputs["body"] == "not found"
    assert result.outputs["json"] is None


async def test_a_text_response_has_no_json(api: LocalHttpServer) -> None:
    result = await call({"url": api.url("/text")})

    assert (result.outputs["body"], result.outputs["json"]) == ("plain text, not JSON — ünïcode", None)


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_5xx_and_429_fail_the_node_and_may_be_retried(api: LocalHttpServer, status: int) -> None:
    with pytest.raises(NodeError) as caught:
        await call({"url": api.url(f"/status/{status}")})

    assert caught.value.code == "http_status"
    assert caught.value.retryable
    assert caught.value.details["status_code"] == status and caught.value.details["body"] == f"status {status}"
    assert caught.value.message == f"The server answered {status}."


async def test_the_node_timeout_reaches_the_client(api: LocalHttpServer) -> None:
    with pytest.raises(NodeError) as caught:
        await call({"url": api.url("/slow?s=3"), "timeout_s": 1})

    assert caught.value.code == "http_timeout"


async def test_blocked_targets_fail_the_node(api: LocalHttpServer) -> None:
    ctx = StubContext(RuntimeServices(http=SsrfSafeHttpClient()))

    with pytest.raises(NodeError) as caught:
        await call({"url": api.url("/echo")}, ctx)

    assert caught.value.code == "ssrf_blocked"
    assert api.requests == []


async def test_without_a_client_the_node_is_not_configured() -> None:
    with pytest.raises(NodeError) as caught:
        await call({"url": "https://example.com/"}, StubContext(RuntimeServices()))

    assert caught.value.code == "not_configured"
