"""Stored English messages shown in the reader's language, falling back to the stored text."""

from __future__ import annotations

from typing import Any

from django.utils import translation

from builder.core.messages import translated_error, translated_message
from builder.engine.runtime.contract import nested_message, node_error, phrase

DEPTH = "Bots may call each other at most %(depth)s levels deep."
DID_NOT_FINISH = "The called bot did not finish: %(reason)s"


def _stored(template: str, params: Any, message: str = "Stored English.") -> dict[str, Any]:
    return {"code": "x", "message": message, "details": {"template": template, "params": params}}


def test_a_message_is_translated_from_its_template_and_params() -> None:
    error = node_error("sub_bot_depth", DEPTH, depth=3)
    assert error.message == "Bots may call each other at most 3 levels deep."
    with translation.override("zh-hans"):
        assert translated_message(error.message, DEPTH, error.details["params"]) == "机器人之间最多只能嵌套调用 3 层。"
    with translation.override("en"):
        assert translated_message(error.message, DEPTH, error.details["params"]) == error.message


def test_messages_nested_as_parameters_are_translated_with_their_outer_message() -> None:
    inner = node_error("sub_bot_depth", DEPTH, depth=3)
    outer = node_error("sub_bot_failed", DID_NOT_FINISH, reason=nested_message(inner.message, inner.details))
    assert outer.message == "The called bot did not finish: Bots may call each other at most 3 levels deep."
    kind = node_error("invalid_condition", "%(kind)s has no length.", kind=phrase("a number"))
    assert kind.message == "a number has no length."
    with translation.override("zh-hans"):
        assert translated_error({"message": outer.message, "details": outer.details})["message"] == (
            "被调用的机器人未能完成：机器人之间最多只能嵌套调用 3 层。"
        )
        assert translated_error({"message": kind.message, "details": kind.details})["message"] == "数字没有长度。"


def test_what_does_not_fit_falls_back_to_the_stored_english() -> None:
    with translation.override("zh-hans"):
        assert translated_error(_stored(DEPTH, {}))["message"] == "Stored English."  # a parameter is missing
        assert translated_error(_stored(DEPTH, "3"))["message"] == "Stored English."  # not a mapping
        assert translated_error(_stored("Not in the catalogue %(x)s.", {"x": 1}))["message"] == "Stored English."
        inner = {"message": "Inner English.", "template": DEPTH, "params": {"levels": 3}}
        # The outer message is translated; the inner one, whose parameters do not fit, stays English.
        assert (
            translated_error(_stored(DID_NOT_FINISH, {"reason": inner}))["message"]
            == "被调用的机器人未能完成：Inner English."
        )
        assert translated_error({"code": "x", "message": "No template."})["message"] == "No template."
        assert translated_error(None) is None
