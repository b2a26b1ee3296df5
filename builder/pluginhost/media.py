"""Serving the result files of plugin jobs (``job_files.py``) so the chat can show them.

``MEDIA_URL`` + ``plugin-jobs/<workspace>/<job>/<file>``, read from the default storage, whatever
``DEBUG`` says: the embedded default (``make run``) is the product. Only this folder: other media
(knowledge uploads) stay private. A file's path carries its job's random id, so only whoever
was given its URL (the chat that ran the tool) finds it.

Videos need byte ranges (browsers seek with them; Safari plays nothing without), so one range is
answered with 206. A type a browser would run as a page (HTML, SVG…) is sent as a download in a
sandbox, never rendered on our origin: a provider's file must not script our pages.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Final

from asgiref.sync import sync_to_async
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.http.response import HttpResponseBase

from builder.pluginhost.job_files import FILES_ROOT

CHUNK_BYTES: Final = 256 * 1024
SHOWN_INLINE: Final = ("video/", "audio/", "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


async def job_file(request: HttpRequest, path: str) -> HttpResponseBase:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    parts = PurePosixPath(path).parts
    if not parts or ".." in parts or path.startswith("/"):
        raise Http404
    name = f"{FILES_ROOT}/{path}"
    try:
        size: int = await sync_to_async(default_storage.size, thread_sensitive=False)(name)
    except (OSError, SuspiciousFileOperation):
        raise Http404 from None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    start, end, status = 0, size - 1, 200
    wanted = _RANGE.fullmatch(request.headers.get("Range", "").strip())
    if wanted and any(wanted.groups()):
        first, last = wanted.groups()
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:  # the last N bytes
            start = max(size - int(last), 0)
        if start > end:
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{size}"
            return refused
        status = 206
    length = max(end - start + 1, 0)
    response: HttpResponseBase
    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=content_type)
    else:
        response = StreamingHttpResponse(_read(name, start, length), status=status, content_type=content_type)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Cache-Control"] = "private, max-age=86400"
    if not content_type.startswith(SHOWN_INLINE):
        response["Content-Disposition"] = f'attachment; filename="{PurePosixPath(name).name}"'
        response["Content-Security-Policy"] = "sandbox"
    return response


async def _read(name: str, start: int, length: int) -> AsyncIterator[bytes]:
    handle = await sync_to_async(default_storage.open, thread_sensitive=False)(name, "rb")
    try:
        await asyncio.to_thread(handle.seek, start)
        while length > 0:
            chunk = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)
