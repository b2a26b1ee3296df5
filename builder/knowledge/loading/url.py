"""A web page or file by URL -> a ``LoadedDocument``, fetched through the SSRF-safe client
(``builder.core.ssrf.SsrfSafeHttpClient``: no private or loopback targets unless allow-listed,
every redirect checked, the body capped). The response's content type picks the loader; a generic
one (``application/octet-stream``) falls back to the URL's extension, then to the bytes."""

from __future__ import annotations

import posixpath
from typing import Protocol
from urllib.parse import unquote, urlsplit

from builder.engine.runtime.contract import HttpClient, NodeError
from builder.knowledge.loading.detect import kind_from_content_type, kind_from_filename
from builder.knowledge.loading.errors import DocumentError, ErrorCode, human_size
from builder.knowledge.loading.limits import DEFAULT_LIMITS, LoadLimits
from builder.knowledge.loading.loaders import load_document
from builder.knowledge.loading.sections import LoadedDocument

_ACCEPT = "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,text/markdown;q=0.9,*/*;q=0.5"
_NODE_ERRORS = {
    "invalid_url": ErrorCode.INVALID_URL,
    "ssrf_blocked": ErrorCode.URL_BLOCKED,
}


class DocumentLoader(Protocol):
    """``load_document``, or ``load_document_isolated`` (the same, in a capped process)."""

    def __call__(
        self,
        data: bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        source: str | None = None,
        limits: LoadLimits = DEFAULT_LIMITS,
    ) -> LoadedDocument: ...


async def fetch_url(
    url: str,
    client: HttpClient,
    *,
    limits: LoadLimits = DEFAULT_LIMITS,
    timeout_s: float = 30.0,
    load: DocumentLoader = load_document,
) -> LoadedDocument:
    """Fetch ``url`` and read it with ``load`` like an upload of the same type. Raises ``DocumentError``:
    ``invalid_url``, ``url_blocked``, ``fetch_failed``, ``too_large`` or any loader error."""
    if urlsplit(url.strip()).scheme.lower() not in ("http", "https"):
        raise DocumentError(ErrorCode.INVALID_URL)
    try:
        response = await client.request("GET", url.strip(), headers={"accept": _ACCEPT}, timeout_s=timeout_s)
    except NodeError as error:
        if error.code == "response_too_large":
            cap = getattr(client, "max_response_bytes", limits.max_bytes)
            raise DocumentError(ErrorCode.TOO_LARGE, limit=human_size(cap)) from error
        raise _document_error(error) from error
    if not 200 <= response.status_code < 300:
        raise DocumentError(ErrorCode.FETCH_FAILED, reason=f"the server answered HTTP {response.status_code}")
    content_type = response.headers.get("content-type", "")
    try:
        declared = kind_from_content_type(content_type)
    except DocumentError:
        declared = None  # an unusual label (application/x-download…): let the name and bytes decide
    filename = None if declared else _known_filename(url)
    return load(response.content, filename=filename, content_type=content_type, source=url.strip(), limits=limits)


def _known_filename(url: str) -> str | None:
    """The URL's last path segment if its extension is one we read (not "index.php")."""
    name = posixpath.basename(unquote(urlsplit(url).path))
    try:
        return name if kind_from_filename(name) else None
    except DocumentError:
        return None


def _document_error(error: NodeError) -> DocumentError:
    if error.code in _NODE_ERRORS:
        return DocumentError(_NODE_ERRORS[error.code])
    return DocumentError(ErrorCode.FETCH_FAILED, reason=error.message)
