"""The one error a tool raises for a failure the bot (and its user) should see."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

# The codes the host itself uses; a plugin may raise ToolError with its own (``quota_exceeded``…).
INVALID_INPUT: Final = "invalid_tool_input"
INVALID_OUTPUT: Final = "invalid_tool_output"
TIMEOUT: Final = "tool_timeout"
FAILED: Final = "tool_failed"
MISSING_CREDENTIALS: Final = "missing_credentials"
DEFAULT_CODE: Final = "tool_error"

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Codes that mean something to the engine itself: a plugin must not fake a cancelled run.
_RESERVED: Final = frozenset({"cancelled"})


class ToolError(Exception):
    """A tool failed in a way the user should see: the message is shown on the node, in the chat,
    and to an agent's model, which may try again differently.

    ``code`` is stable and machine-readable (lowercase, digits, underscores); ``retryable`` tells the
    node's error policy whether another attempt may help (a timeout, a rate limit). Never put a
    secret in the message: the host masks the plugin's own secrets, but not anything else.

    >>> raise ToolError("The city was not found.", code="not_found")
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = DEFAULT_CODE,
        retryable: bool = False,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if _CODE.match(code) and code not in _RESERVED else DEFAULT_CODE
        self.retryable = retryable
        self.details: dict[str, Any] = dict(details or {})

    @classmethod
    def from_template(
        cls,
        code: str,
        template: str,
        *,
        retryable: bool = False,
        details: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> ToolError:
        """An error whose English message comes from a ``gettext_noop`` template, so the host can
        translate it (the same convention as the engine's node errors)."""
        return cls(
            template % params if params else template,
            code=code,
            retryable=retryable,
            details={**(details or {}), "template": template, "params": params},
        )

    def __repr__(self) -> str:
        return f"ToolError(code={self.code!r}, message={self.message!r})"
