"""Document errors in the user's language (the loaders speak English, with stable codes)."""

from __future__ import annotations

from django.utils.translation import gettext

from builder.knowledge.loading import DocumentError


def document_error_message(error: DocumentError) -> str:
    return gettext(error.template) % error.params
