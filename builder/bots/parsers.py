"""Read an uploaded bot file without ever holding more than the size limit in memory."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.request import Request

from builder.core.exceptions import PayloadTooLarge, ValidationFailed


def _too_large() -> PayloadTooLarge:
    limit = settings.BOT_IMPORT_MAX_BYTES
    return PayloadTooLarge(
        _("Bot files are limited to %(limit)d bytes.") % {"limit": limit}, fields={"file": [_("Too large.")]}
    )


class RawYamlParser(parsers.BaseParser):
    """The request body is the file itself (``application/x-yaml``, ``text/yaml``, JSON…)."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> dict[str, bytes]:
        limit = settings.BOT_IMPORT_MAX_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise _too_large()
        return {"raw": raw}

    @staticmethod
    def read_upload(request: Request) -> bytes:
        """The file's bytes from a multipart ``file`` field or from the raw body."""
        limit = settings.BOT_IMPORT_MAX_BYTES
        declared = request.META.get("CONTENT_LENGTH") or "0"
        # Refuse before reading a byte: a multipart envelope adds at most a few KB.
        if declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise _too_large()
        data = request.data
        raw = data.get("raw") if isinstance(data, dict) else None
        if isinstance(raw, bytes):
            return raw
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed(fields={"file": [_("Upload the bot file as 'file'.")]})
        if upload.size is not None and upload.size > limit:
            raise _too_large()
        return bytes(upload.read(limit + 1))
