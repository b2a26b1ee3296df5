"""Document errors in the user's language: the loaders and the ingestion speak English with
stable codes; a failed document stores its code, the English text and the template's parameters,
and is translated when it is shown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, gettext_noop

from builder.core.messages import translated_message
from builder.knowledge.loading import MESSAGES, DocumentError, ErrorCode

# The ingestion's own failures (the loaders' are ``builder.knowledge.loading.errors.MESSAGES``).
EMBEDDING_FAILED = "embedding_failed"
INTERNAL_ERROR = "internal_error"
WORKER_LOST = "worker_lost"
INGESTION_MESSAGES: Mapping[str, str] = {
    EMBEDDING_FAILED: gettext_noop("The embedding model failed: %(reason)s"),
    INTERNAL_ERROR: gettext_noop("Indexing stopped unexpectedly: %(reason)s"),
    WORKER_LOST: gettext_noop("Indexing stopped (its worker went away); index it again."),
}


def document_error_message(error: DocumentError) -> str:
    return gettext(error.template) % error.params


def stored_failure(code: str, params: Mapping[str, str | int] | None = None, *, message: str = "") -> dict[str, Any]:
    """What a failed document keeps: the code's template filled with ``params`` as the English
    message (``message``: the text of a code without a template, e.g. a fetch error)."""
    params = dict(params or {})
    template = _template(code)
    if template is not None:
        message = template % params
    return {"code": code, "message": message, "params": params}


def document_failure(error: Mapping[str, Any] | None) -> dict[str, str] | None:
    """A document's stored error as ``{"code", "message"}``, the message in the active language
    (the stored English text for a code without a template, or a row stored without parameters)."""
    if not error:
        return None
    code, message = str(error.get("code") or ""), str(error.get("message") or "")
    return {"code": code, "message": translated_message(message, _template(code), error.get("params"))}


def _template(code: str) -> str | None:
    try:
        return MESSAGES[ErrorCode(code)]
    except ValueError:
        return INGESTION_MESSAGES.get(code)
