"""A scripted OpenAI-compatible server on 127.0.0.1, for tests and benchmarks.

A real HTTP server (uvicorn in a background thread), so the real LangChain and OpenAI client code
runs against it: SSE framing, tool-call fragments, usage chunks, status codes, timeouts and broken
connections are exercised exactly as a provider would produce them.

    server.script([Reply(text="Hello", chunks=3), Error(429), Reply(tool_calls=[ToolCall("search", {"q": "x"})])])

Steps are consumed in order by ``POST /v1/chat/completions`` (a per-model queue first, when one
was scripted for the requested model, then the shared queue); when both are empty the ``default``
step answers. A ``Respond`` step computes its answer from the request (a model reading a tool's
result). Every request is recorded (``server.requests``) so tests can assert prompts, tools
and ``response_format``. ``server.instant(tokens=N)`` turns it into a fast, non-recording endpoint
for benchmarks (hundreds of concurrent streams).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import math
import re
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pytest
import uvicorn

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]

DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "fallback-model")
DEFAULT_EMBEDDING_DIMENSION = 64


# --- what a test scripts --------------------------------------------------------------------------


@dataclass
class ToolCall:
    """A function call the model asks for; ``arguments`` may be a dict or a raw (even broken) string."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments, ensure_ascii=False)


@dataclass
class Reply:
    """A successful answer: text, JSON (``json=`` is dumped into the text) and/or tool calls.

    ``chunks`` splits the text into that many stream chunks (default: one per word). With
    ``split_fragments`` each tool call's arguments arrive in several small fragments, as real
    providers send them. ``usage`` overrides the (prompt, completion) token counts, which are
    otherwise approximated by word counts.
    """

    text: str = ""
    chunks: int | None = None
    tool_calls: Sequence[ToolCall | Mapping[str, Any]] = ()
    split_fragments: bool = False
    json: Any = None
    finish_reason: str | None = None
    usage: tuple[int, int] | None = None
    model: str | None = None
    delay_s: float = 0.0
    tokens_per_second: float | None = None

    def content(self) -> str:
        if self.json is not None:
            return json.dumps(self.json, ensure_ascii=False)
        return self.text

    def calls(self) -> list[ToolCall]:
        return [call if isinstance(call, ToolCall) else ToolCall(**call) for call in self.tool_calls]


@dataclass
class Error:
    """An HTTP error in OpenAI's shape, e.g. ``Error(429)``, ``Error(500)``, ``Error(401, "bad key")``."""

    status: int
    message: str | None = None
    code: str | None = None
    retry_after_s: float | None = None


@dataclass
class Hang:
    """Accept the request and never answer, until the client gives up (or the server stops).

    With ``after_chunks`` the stream starts, sends that many chunks of ``text``, then stalls.
    """

    after_chunks: int | None = None
    text: str = "This answer never finishes because the server stalls"


@dataclass
class CutStream:
    """Stream ``after_chunks`` chunks of ``text``, then drop the connection mid-body.

    ``abrupt=False`` ends the HTTP body properly instead, but without a finish reason or ``[DONE]``.
    """

    after_chunks: int = 1
    text: str = "This answer is cut off in the middle of a sentence"
    abrupt: bool = True


Answer: TypeAlias = Reply | Error | Hang | CutStream


@dataclass
class Respond:
    """A step computed from the request, as a model answers what it reads (a tool's result):
    ``Respond(lambda request: Reply(text=...))``."""

    answer: Callable[[RecordedRequest], Answer]


Step: TypeAlias = Answer | Respond

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}
_ERROR_MESSAGES = {
    400: "Invalid request.",
    401: "Incorrect API key provided.",
    403: "You are not allowed to use this model.",
    404: "The model does not exist.",
    429: "Rate limit reached for requests. Please try again later.",
}


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        return [tool["function"]["name"] for tool in self.tools]

    @property
    def response_format(self) -> dict[str, Any] | None:
        return self.body.get("response_format")

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def text(self, role: str | None = None) -> str:
        """All message text (optionally of one role), joined by newlines: for ``in`` assertions."""
        return "\n".join(_message_text(m) for m in self.messages if role is None or m.get("role") == role)


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _words(text: str) -> list[str]:
    """Pieces that concatenate back to ``text``: one per word (CJK: per character)."""
    return re.findall(r"\s*[\u3400-\u9fff]|\s*[^\s\u3400-\u9fff]+|\s+$", text)


def _split(text: str, chunks: int | None) -> list[str]:
    if not text:
        return []
    if chunks is None:
        return _words(text)
    chunks = max(1, min(chunks, len(text)))
    size, extra = divmod(len(text), chunks)
    pieces, start = [], 0
    for index in range(chunks):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def _fragments(arguments: str, size: int = 4) -> list[str]:
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


class _CutConnection(Exception):
    """Raised inside the app to make uvicorn drop the connection mid-response (CutStream)."""


class _QuietCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _CutConnection))


# --- the server -------------------------------------------------------------------------------------


class FakeOpenAI:
    """``POST /v1/chat/completions`` (stream and not), ``POST /v1/embeddings`` and ``GET /v1/models``."""

    def __init__(
        self,
        *,
        models: Sequence[str] = DEFAULT_MODELS,
        tokens_per_second: float | None = None,
        api_key: str | None = None,
    ) -> None:
        self.models = list(models)
        self.tokens_per_second = tokens_per_second
        # When set, requests without ``Authorization: Bearer <api_key>`` get a 401.
        self.api_key = api_key
        # ``POST /v1/embeddings``: the length of its vectors (a request's ``dimensions`` overrides it).
        self.embedding_dimension = DEFAULT_EMBEDDING_DIMENSION
        self.default: Step = Reply(text="Hello from the fake model.")
        self.requests: list[RecordedRequest] = []
        self.request_count = 0
        self._queue: deque[Step] = deque()
        self._model_queues: dict[str, deque[Step]] = {}
        self._lock = threading.Lock()
        self._record = True
        self._instant: tuple[bytes, bytes] | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(4096)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
            backlog=4096,
            timeout_keep_alive=30,
        )
        logging.getLogger("uvicorn.error").addFilter(_QuietCuts())
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-openai", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        if self._loop is not None and self._closing is not None:
            self._loop.call_soon_threadsafe(self._closing.set)
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting --------------------------------------------------------------------------------

    def script(self, steps: Sequence[Step], *, model: str | None = None) -> FakeOpenAI:
        """Queue steps, answered in order; with ``model``, only requests for that model take them."""
        with self._lock:
            queue = self._queue if model is None else self._model_queues.setdefault(model, deque())
            queue.extend(steps)
        return self

    def pending(self) -> int:
        """Scripted steps not consumed yet."""
        with self._lock:
            return len(self._queue) + sum(len(queue) for queue in self._model_queues.values())

    def instant(self, *, tokens: int = 20) -> FakeOpenAI:
        """Benchmark mode: every completion answers at once with ``tokens`` tokens; nothing recorded."""
        reply = Reply(text=" ".join(f"tok{i}" for i in range(tokens)), usage=(10, tokens))
        chunks = _stream_chunks(reply, "instant", "fake", include_usage=True, prompt_tokens=10)
        stream = b"".join(_sse(chunk) for chunk in chunks)
        body = json.dumps(_completion(reply, "instant", "fake", prompt_tokens=10)).encode()
        with self._lock:
            self._instant = (stream + b"data: [DONE]\n\n", body)
            self._record = False
        return self

    def reset(self) -> None:
        """Forget scripts, records and modes (the fixture calls it between tests)."""
        with self._lock:
            self._queue.clear()
            self._model_queues.clear()
            self.requests = []
            self.request_count = 0
            self._record = True
            self._instant = None
        self.default = Reply(text="Hello from the fake model.")
        self.tokens_per_second = None
        self.api_key = None
        self.models = list(DEFAULT_MODELS)
        self.embedding_dimension = DEFAULT_EMBEDDING_DIMENSION

    @property
    def last(self) -> RecordedRequest:
        with self._lock:
            return self.requests[-1]

    def wait_for_requests(self, count: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.request_count < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests, got {self.request_count}")
            time.sleep(0.005)

    def _next_step(self, model: str | None) -> Step:
        with self._lock:
            queue = self._model_queues.get(model or "")
            if queue:
                return queue.popleft()
            if self._queue:
                return self._queue.popleft()
        return self.default

    # -- ASGI -------------------------------------------------------------------------------------

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self._closing is None:
            self._loop = asyncio.get_running_loop()
            self._closing = asyncio.Event()
        method, path = scope["method"], scope["path"].rstrip("/")
        raw = await _read_body(receive)
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            await _send_error(send, Error(401))
            return
        if method == "GET" and path == "/v1/models":
            data = [{"id": name, "object": "model", "created": 0, "owned_by": "fake"} for name in self.models]
            await _send_json(send, 200, {"object": "list", "data": data})
            return
        if method == "POST" and path == "/v1/embeddings":
            await self._embeddings(raw, headers, send, receive)
            return
        if method != "POST" or path != "/v1/chat/completions":
            await _send_error(send, Error(404, f"No route for {method} {path}"))
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            await _send_error(send, Error(400, "The body is not JSON."))
            return
        with self._lock:
            self.request_count += 1
            if self._record:
                self.requests.append(RecordedRequest(method, path, headers, body))
            instant = self._instant
        stream = bool(body.get("stream"))
        if instant is not None:
            if stream:
                await _start(send, 200, "text/event-stream")
                await send({"type": "http.response.body", "body": instant[0]})
            else:
                await _send_bytes(send, 200, instant[1])
            return
        step = self._next_step(body.get("model"))
        if isinstance(step, Respond):
            step = step.answer(RecordedRequest(method, path, headers, body))
        await self._answer(step, body, stream, receive, send)

    async def _answer(self, step: Answer, body: dict[str, Any], stream: bool, receive: Receive, send: Send) -> None:
        model = body.get("model") or "fake"
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if isinstance(step, Error):
            await _send_error(send, step)
            return
        if isinstance(step, Hang) and (step.after_chunks is None or not stream):
            await self._stall(receive)
            return
        if isinstance(step, CutStream) and not stream:
            full = json.dumps(_completion(Reply(text=step.text), completion_id, model, prompt_tokens=1)).encode()
            await _start(send, 200, "application/json", [(b"content-length", str(len(full)).encode())])
            await _send_chunk(send, full[: len(full) // 2])
            raise _CutConnection()
        if isinstance(step, Hang | CutStream):
            pieces = _split(step.text, None)
            reply = Reply(text="".join(pieces[: step.after_chunks]))
            await _start(send, 200, "text/event-stream")
            for chunk in _stream_chunks(reply, completion_id, model, include_usage=False, finish=False):
                await self._pace(None)
                await _send_chunk(send, _sse(chunk))
            if isinstance(step, Hang):
                await self._stall(receive)
                return
            if step.abrupt:
                raise _CutConnection()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if step.delay_s:
            await asyncio.sleep(step.delay_s)
        prompt_tokens = step.usage[0] if step.usage else _prompt_tokens(body)
        if not stream:
            await _send_json(send, 200, _completion(step, completion_id, model, prompt_tokens=prompt_tokens))
            return
        await _start(send, 200, "text/event-stream")
        chunks = _stream_chunks(step, completion_id, model, include_usage=include_usage, prompt_tokens=prompt_tokens)
        for chunk in chunks:
            await self._pace(step.tokens_per_second)
            await _send_chunk(send, _sse(chunk))
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    async def _embeddings(self, raw: bytes, headers: dict[str, str], send: Send, receive: Receive) -> None:
        """Hashed bag-of-words vectors: deterministic, unit length, alike for texts sharing words.

        Scripted steps apply too: an ``Error`` answers with that error, a ``Hang`` never answers.
        """
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            await _send_error(send, Error(400, "The body is not JSON."))
            return
        with self._lock:
            self.request_count += 1
            if self._record:
                self.requests.append(RecordedRequest("POST", "/v1/embeddings", headers, body))
        step = self._next_step(body.get("model"))
        if isinstance(step, Error):
            await _send_error(send, step)
            return
        if isinstance(step, Hang | CutStream):
            await self._stall(receive)
            return
        inputs = body.get("input")
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            await _send_error(send, Error(400, "'input' must be a string, a list of strings or of token arrays."))
            return
        dimension = int(body.get("dimensions") or self.embedding_dimension)
        data, tokens = [], 0
        for position, item in enumerate(inputs):
            words = [f"#{token}" for token in item] if isinstance(item, list) else re.findall(r"\w+", str(item).lower())
            tokens += len(words)
            vector = _hashed_vector(words, dimension)
            if body.get("encoding_format") == "base64":
                encoded: Any = base64.b64encode(struct.pack(f"<{dimension}f", *vector)).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": position, "embedding": encoded})
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        await _send_json(send, 200, {"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    async def _pace(self, tokens_per_second: float | None) -> None:
        rate = tokens_per_second or self.tokens_per_second
        if rate:
            await asyncio.sleep(1 / rate)

    async def _stall(self, receive: Receive) -> None:
        """Wait until the client disconnects or the server stops."""
        assert self._closing is not None
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            while True:
                disconnect = asyncio.ensure_future(receive())
                done, _pending = await asyncio.wait({disconnect, closing}, return_when=asyncio.FIRST_COMPLETED)
                if closing in done:
                    disconnect.cancel()
                    return
                if disconnect.result()["type"] == "http.disconnect":
                    return
        finally:
            closing.cancel()


# --- OpenAI wire format ------------------------------------------------------------------------------


def _prompt_tokens(body: Mapping[str, Any]) -> int:
    return sum(len(_words(_message_text(message))) for message in body.get("messages") or []) or 1


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _completion_tokens(reply: Reply, pieces: int) -> int:
    if reply.usage:
        return reply.usage[1]
    return pieces + sum(len(_fragments(call.arguments_json())) for call in reply.calls())


def _finish_reason(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _completion(reply: Reply, completion_id: str, model: str, *, prompt_tokens: int) -> dict[str, Any]:
    calls = reply.calls()
    message: dict[str, Any] = {"role": "assistant", "content": reply.content() or (None if calls else "")}
    if calls:
        message["tool_calls"] = [
            {
                "id": call.id or f"call_{index}_{uuid.uuid4().hex[:8]}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json()},
            }
            for index, call in enumerate(calls)
        ]
    completion_tokens = _completion_tokens(reply, len(_words(reply.content())))
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish_reason(reply), "logprobs": None}],
        "usage": _usage(prompt_tokens, completion_tokens),
    }


def _stream_chunks(
    reply: Reply,
    completion_id: str,
    model: str,
    *,
    include_usage: bool,
    prompt_tokens: int = 1,
    finish: bool = True,
) -> Iterator[dict[str, Any]]:
    created = int(time.time())
    model = reply.model or model

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }

    pieces = _split(reply.content(), reply.chunks)
    yield chunk({"role": "assistant", "content": ""})
    for piece in pieces:
        yield chunk({"content": piece})
    for index, call in enumerate(reply.calls()):
        call_id = call.id or f"call_{index}_{uuid.uuid4().hex[:8]}"
        arguments = call.arguments_json()
        first_arguments = "" if reply.split_fragments else arguments
        function = {"name": call.name, "arguments": first_arguments}
        yield chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function", "function": function}]})
        if not reply.split_fragments:
            continue
        for fragment in _fragments(arguments):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
    if not finish:
        return
    yield chunk({}, _finish_reason(reply))
    if include_usage:
        usage = _usage(prompt_tokens, _completion_tokens(reply, len(pieces)))
        yield {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage,
        }


def _hashed_vector(words: Sequence[str], dimension: int) -> list[float]:
    vector = [0.0] * dimension
    for word in words or ["<empty>"]:
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        vector[int.from_bytes(digest[:4], "little") % dimension] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector] if any(vector) else [1.0] + [0.0] * (dimension - 1)


def _sse(data: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def _start(send: Send, status: int, content_type: str, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-cache"), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _send_chunk(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def _send_bytes(send: Send, status: int, body: bytes, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    await _start(send, status, "application/json", [(b"content-length", str(len(body)).encode()), *extra])
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, data: Any) -> None:
    await _send_bytes(send, status, json.dumps(data, ensure_ascii=False).encode())


async def _send_error(send: Send, error: Error) -> None:
    default_message = _ERROR_MESSAGES.get(error.status, "The server had an error while processing your request.")
    body = {
        "error": {
            "message": error.message or default_message,
            "type": _ERROR_TYPES.get(error.status, "server_error"),
            "param": None,
            "code": error.code,
        }
    }
    extra = [(b"retry-after", str(error.retry_after_s).encode())] if error.retry_after_s is not None else []
    await _send_bytes(send, error.status, json.dumps(body).encode(), extra)


# --- pytest fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    """One server for the whole session (starting uvicorn costs ~0.1 s)."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session's fake OpenAI server, with no script, no records and the default reply."""
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()
