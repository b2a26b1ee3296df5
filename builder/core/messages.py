"""Stored messages in the reader's language.

What the engine and the background jobs record is English, with the ``gettext_noop`` template it
came from and the template's parameters (``builder.engine.runtime.contract.node_error``, a failed
document's error). The record stays English; each reader gets it translated when it is shown, in
the active language (the request's, or the websocket's: ``builder.realtime.language``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext


def translated_message(message: str, template: Any, params: Any) -> str:
    """``template`` in the active language filled with ``params``, or ``message`` (the stored
    English) when there is no template, it has no translation (English readers included), or the
    parameters do not fit it. A parameter that is itself a message (``{"message", "template",
    "params"}``: ``contract.phrase``, ``contract.nested_message``) is translated the same way."""
    if not isinstance(template, str) or not isinstance(params, Mapping):
        return message
    translation = gettext(template)
    if translation == template:
        return message
    try:
        return translation % {name: _param(value) for name, value in params.items()}
    except (KeyError, TypeError, ValueError):  # parameters of another version of the template
        return message


def translated_error(error: Any) -> Any:
    """A stored ``{"code", "message", "details"}`` error (``ErrorInfo``) with its message in the
    active language; anything else (None) as it is."""
    if not isinstance(error, Mapping) or not isinstance(error.get("message"), str):
        return error
    details = error.get("details")
    if not isinstance(details, Mapping):
        return dict(error)
    message = translated_message(error["message"], details.get("template"), details.get("params"))
    return {**error, "message": message}


def _param(value: Any) -> Any:
    if isinstance(value, Mapping) and isinstance(value.get("message"), str):
        return translated_message(value["message"], value.get("template"), value.get("params"))
    return value
