"""Result files of long-running tools: downloaded (or taken as given) and kept in the file storage.

A finished job's ``JobStatus.files`` maps output fields to ``JobFile``s. Each is kept with Django's
default storage (``var/media/`` in the embedded default, any storage backend in production) under
``plugin-jobs/<workspace>/<job>/``, and the output field gets the stored file's URL.

A ``url`` is downloaded through the plugin's own HTTP client (the SSRF-safe client, limited to
the manifest's hosts) with the file's ``headers``, streamed into a temporary file on disk rather
than held in memory, and stopped past ``PLUGIN_JOB_MAX_FILE_BYTES``; then the storage copies it
from there (a bucket backend uploads it in parts).

The headers carry credentials: a ``JobFile``'s dumps leave them out, so neither the job's row nor
its output keeps them. A status that crosses to a worker through the broker (a callback's result)
carries them encrypted beside it (``seal_file_headers`` / ``unseal_file_headers``).
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath
from typing import IO, Final

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils.text import get_valid_filename
from django.utils.translation import gettext_noop

from builder.core.crypto import decrypt_secret, encrypt_secret
from builder.engine.runtime.contract import NodeError
from builder.pluginhost.network import PermittedHttpClient
from builder.sdk.context import PluginContext
from builder.sdk.errors import ToolError
from builder.sdk.jobs import JobFile, JobStatus

FILES_ROOT: Final = "plugin-jobs"
DOWNLOAD_TIMEOUT_S: Final = 1800.0
# Bytes written to the temporary file per thread hop, and kept in memory before it spills to disk.
WRITE_BATCH_BYTES: Final = 1024 * 1024
SPOOL_BYTES: Final = 8 * 1024 * 1024
# A long download keeps the job's claim alive this often (``heartbeat``).
HEARTBEAT_S: Final = 30.0
FILE_TOO_LARGE: Final = "job_file_too_large"
FILE_UNAVAILABLE: Final = "job_file_unavailable"

Heartbeat = Callable[[], Awaitable[None]]


def job_folder(workspace_id: object, job_id: object) -> str:
    return f"{FILES_ROOT}/{workspace_id}/{job_id}"


def _file_name(field: str, file: JobFile) -> str:
    """``<field>-<name>`` made safe for any storage, with an extension that matches its type."""
    name = get_valid_filename(PurePosixPath(file.name.replace("\\", "/")).name) or "file"
    if not PurePosixPath(name).suffix:
        name += mimetypes.guess_extension(file.content_type.split(";")[0].strip()) or ""
    return get_valid_filename(f"{field}-{name}")[-150:]


def _too_large(name: str) -> ToolError:
    limit_mb = settings.PLUGIN_JOB_MAX_FILE_BYTES / (1024 * 1024)
    return ToolError.from_template(
        FILE_TOO_LARGE,
        gettext_noop("The result file %(name)s is larger than %(limit)s MB, the most this server keeps."),
        name=name,
        limit=f"{limit_mb:g}",
    )


async def store_job_file(
    *,
    workspace_id: object,
    job_id: object,
    field: str,
    file: JobFile,
    ctx: PluginContext,
    heartbeat: Heartbeat | None = None,
) -> str:
    """Keep ``file`` in the default storage; its storage name. ``ToolError`` when it cannot be
    had (``job_file_unavailable``, retryable for a server error) or is too large."""
    name = f"{job_folder(workspace_id, job_id)}/{_file_name(field, file)}"
    if file.data is not None:
        if len(file.data) > settings.PLUGIN_JOB_MAX_FILE_BYTES:
            raise _too_large(file.name)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            spool.write(file.data)
            return await _save(name, spool)
    assert file.url is not None  # JobFile holds exactly one of them
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        await _download(file, spool, ctx, heartbeat)
        return await _save(name, spool)


async def _save(name: str, spool: IO[bytes]) -> str:
    spool.seek(0)
    stored: str = await sync_to_async(default_storage.save, thread_sensitive=False)(name, File(spool, name=name))
    return stored


async def _download(file: JobFile, spool: IO[bytes], ctx: PluginContext, heartbeat: Heartbeat | None) -> None:
    assert file.url is not None
    if not isinstance(ctx.http, PermittedHttpClient):
        raise ToolError.from_template(
            FILE_UNAVAILABLE,
            gettext_noop("The files of the %(plugin)s plugin cannot be downloaded on this server."),
            plugin=ctx.plugin_id,
        )
    pending = bytearray()
    beat_at = time.monotonic() + HEARTBEAT_S

    async def write(chunk: bytes) -> None:
        nonlocal beat_at
        pending.extend(chunk)
        if len(pending) >= WRITE_BATCH_BYTES:
            await asyncio.to_thread(spool.write, bytes(pending))
            pending.clear()
        if heartbeat is not None and time.monotonic() >= beat_at:
            beat_at = time.monotonic() + HEARTBEAT_S
            await heartbeat()

    try:
        response = await ctx.http.download(
            file.url,
            write,
            max_bytes=settings.PLUGIN_JOB_MAX_FILE_BYTES,
            headers=file.headers or None,
            timeout_s=DOWNLOAD_TIMEOUT_S,
        )
    except NodeError as error:  # from the client: ssrf_blocked, http_timeout, response_too_large…
        if error.code == "response_too_large":
            raise _too_large(file.name) from None
        raise ToolError(ctx.redact(error.message), code=error.code, retryable=error.retryable) from None
    if not 200 <= response.status_code < 300:
        raise ToolError.from_template(
            FILE_UNAVAILABLE,
            gettext_noop("The result file %(name)s could not be downloaded: the server answered %(status)s."),
            retryable=response.status_code >= 500 or response.status_code == 429,
            name=file.name,
            status=response.status_code,
        )
    if pending:
        await asyncio.to_thread(spool.write, bytes(pending))


def seal_file_headers(status: JobStatus) -> str:
    """The download headers of ``status``'s files, encrypted for a trip through the broker (its
    JSON dump leaves them out); "" when there are none."""
    headers = {field: file.headers for field, file in status.files.items() if file.headers}
    return encrypt_secret(json.dumps(headers)) if headers else ""


def unseal_file_headers(status: JobStatus, sealed: str) -> JobStatus:
    """``status`` with the headers ``seal_file_headers`` kept put back on its files."""
    if not sealed:
        return status
    headers: dict[str, dict[str, str]] = json.loads(decrypt_secret(sealed))
    files = {
        field: file.model_copy(update={"headers": headers[field]}) if field in headers else file
        for field, file in status.files.items()
    }
    return status.model_copy(update={"files": files})


async def delete_job_files(names: list[str]) -> None:
    """Remove stored files (a job that lost the race to finish, or that could not finish)."""
    for name in names:
        await sync_to_async(default_storage.delete, thread_sensitive=False)(name)
