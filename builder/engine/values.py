"""Field types shared by node configs and the document: references, values, names, models.

A node input is either a literal JSON value or a reference ``{"ref": ["<node_id>", "<output>", ...path]}``.
Text fields are Jinja2 templates that may mention ``{{ node_id.output }}``.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from builder.engine.i18n import gettext_noop

IDENTIFIER_PATTERN: Final = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Handle ids come from the canvas (case ids, intent ids): often uuid-like, so they may start with a digit.
HANDLE_PATTERN: Final = r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$"
# Nested literals deeper than this are refused rather than risking a RecursionError on hostile input.
MAX_VALUE_DEPTH: Final = 32

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=64)]
HandleId = Annotated[str, StringConstraints(pattern=HANDLE_PATTERN, max_length=64)]


def field_error(code: str, template: str, **params: str | int) -> PydanticCustomError:
    """A validation error that carries its gettext_noop template, so problems stay translatable."""
    return PydanticCustomError(code, template % params, {"template": template, "params": params})


class Marker:
    """Annotation metadata read by the reference walker (see references.py)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Marker({self.name!r})"


# Not a template: never scanned for {{ }} references (code, JSON schemas, titles).
VERBATIM: Final = Marker("verbatim")
# Evaluated inside a loop/iteration body (the container's outputs and break condition).
BODY_SCOPE: Final = Marker("body_scope")
# A "conv.x" / "user.x" string naming the variable a node writes.
VARIABLE_TARGET: Final = Marker("variable_target")


def _require_text(value: str) -> str:
    if not value.strip():
        raise field_error("missing_field", gettext_noop("This field is required."))
    return value


_TEMPLATE_HINT: Final = {"x-template": True}  # tells the canvas which fields accept {{ }}
RequiredText = Annotated[str, StringConstraints(min_length=1, max_length=100_000), AfterValidator(_require_text)]
Template = Annotated[str, StringConstraints(max_length=100_000), Field(json_schema_extra=_TEMPLATE_HINT)]
RequiredTemplate = Annotated[RequiredText, Field(json_schema_extra=_TEMPLATE_HINT)]
# The id of something that lives outside the graph: a plugin, a tool, a knowledge base, a bot.
ResourceId = Annotated[RequiredText, StringConstraints(max_length=200)]


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are mistakes, and JSON has no NaN."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Ref(StrictModel):
    """``{"ref": [node_id, output, ...path]}``; ``node_id`` may also be ``sys``, ``conv`` or ``user``."""

    model_config = ConfigDict(frozen=True)

    ref: list[str | int] = Field(min_length=2, max_length=32)

    @field_validator("ref")
    @classmethod
    def _names_first(cls, parts: list[str | int]) -> list[str | int]:
        if not all(isinstance(part, str) and part for part in parts[:2]):
            raise field_error("invalid_field", gettext_noop("A reference starts with a node id and an output name."))
        return parts

    @property
    def node_id(self) -> str:
        return str(self.ref[0])

    @property
    def output(self) -> str:
        return str(self.ref[1])

    @property
    def path(self) -> tuple[str | int, ...]:
        return tuple(self.ref[2:])


_REF_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "title": "Reference",
    "properties": {
        "ref": {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 2, "maxItems": 32},
    },
    "required": ["ref"],
    "additionalProperties": False,
}
_VALUE_SCHEMA: Final[dict[str, Any]] = {"title": "Value", "anyOf": [_REF_SCHEMA, {"title": "Literal"}]}


def _parse_ref(raw: Any) -> Ref:
    if isinstance(raw, Ref):
        return raw
    if isinstance(raw, dict) and "ref" in raw:
        try:
            return Ref.model_validate(raw)
        except ValidationError:
            pass
    raise field_error(
        "invalid_field", gettext_noop('Must be a reference to a node output, like {"ref": ["node_id", "output"]}.')
    )


def _parse_value(raw: Any, depth: int = 0) -> Any:
    """A literal JSON value in which any ``{"ref": [...]}`` object, at any depth, is a reference."""
    if depth > MAX_VALUE_DEPTH:
        template = gettext_noop("Nested too deeply (more than %(max)s levels).")
        raise field_error("invalid_field", template, max=MAX_VALUE_DEPTH)
    if isinstance(raw, Ref) or (isinstance(raw, dict) and "ref" in raw):
        return _parse_ref(raw)
    if isinstance(raw, dict):
        if not all(isinstance(key, str) for key in raw):
            raise field_error("invalid_field", gettext_noop("Object keys must be text."))
        return {key: _parse_value(item, depth + 1) for key, item in raw.items()}
    if isinstance(raw, list | tuple):
        return [_parse_value(item, depth + 1) for item in raw]
    if isinstance(raw, float) and not math.isfinite(raw):
        raise field_error("invalid_field", gettext_noop("Must be a finite number."))
    if raw is None or isinstance(raw, str | int | float | bool):
        return raw
    raise field_error("invalid_field", gettext_noop("Must be a JSON value."))


def _dump_value(value: Any) -> Any:
    if isinstance(value, Ref):
        return {"ref": list(value.ref)}
    if isinstance(value, dict):
        return {key: _dump_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dump_value(item) for item in value]
    return value


JsonLiteral = str | int | float | bool | None | list[Any] | dict[str, Any]
# A literal or a reference; references nested inside literal objects/lists count too.
Value = Annotated[
    Ref | JsonLiteral,
    PlainValidator(_parse_value),
    PlainSerializer(_dump_value),
    WithJsonSchema(_VALUE_SCHEMA),
]
# Where only a reference makes sense (the left side of a condition, the list to iterate over).
RefOnly = Annotated[Ref, PlainValidator(_parse_ref), PlainSerializer(_dump_value), WithJsonSchema(_REF_SCHEMA)]


class ModelChoice(StrictModel):
    """A chat model and its sampling parameters; credentials live with the provider, not here."""

    provider: Annotated[RequiredText, StringConstraints(max_length=64)]
    name: Annotated[RequiredText, StringConstraints(max_length=200)]
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0, le=1_000_000)
    top_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    stop: list[Annotated[str, StringConstraints(max_length=100)]] | None = Field(default=None, max_length=16)


# The JSON types a declared variable or output can hold.
VALUE_TYPE_CHECKS: Final[dict[str, type | tuple[type, ...]]] = {
    "string": str,
    "number": (int, float),
    "integer": int,
    "boolean": bool,
    "object": dict,
    "array": list,
}


def value_matches_type(value: Any, type_name: str) -> bool:
    """Whether a literal fits a declared type; ``array[...]``, ``file`` and ``any`` are checked loosely."""
    if value is None or type_name in ("any", "file"):
        return True
    if type_name.startswith("array"):
        return isinstance(value, list)
    expected = VALUE_TYPE_CHECKS.get(type_name)
    if expected is None:
        return True
    if isinstance(value, bool):
        return type_name == "boolean"
    return isinstance(value, expected)


class CoercionError(ValueError):
    """Why a value does not fit its declared type. ``str()`` is the English reason; ``template``
    (marked with ``gettext_noop``) and ``params`` let a caller pass it on as a translatable phrase
    (``contract.phrase``) or translate it itself."""

    def __init__(self, template: str, /, **params: Any) -> None:
        super().__init__(template % params)
        self.template = template
        self.params = params


def coerce_value(value: Any, type_name: str) -> Any:
    """Convert a value from outside (run inputs, a variable assignment) to a declared type.

    Lenient where a form or an API would be (``"3"`` → 3, ``"true"`` → True, JSON text → a list or
    an object); raises CoercionError saying what was expected otherwise. ``None`` stays ``None``.
    """
    if value is None or type_name in ("any", "file"):
        return value
    if type_name.startswith("array"):
        items = _parsed_json(value, list, gettext_noop("expected a list"))
        item_type = type_name[len("array[") : -1] if type_name.startswith("array[") else "any"
        return [coerce_value(item, item_type) for item in items]
    converter = _COERCERS.get(type_name)
    return value if converter is None else converter(value)


_EXPECTED_NUMBER: Final = gettext_noop("expected a number")


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise CoercionError(gettext_noop("expected text"))


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise CoercionError(_EXPECTED_NUMBER)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise CoercionError(_EXPECTED_NUMBER) from None
        if not math.isfinite(number):
            raise CoercionError(gettext_noop("expected a finite number"))
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    raise CoercionError(_EXPECTED_NUMBER)


def _to_integer(value: Any) -> int:
    number = _to_number(value)
    if isinstance(number, float):
        if not number.is_integer():
            raise CoercionError(gettext_noop("expected a whole number"))
        return int(number)
    return number


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise CoercionError(gettext_noop("expected true or false"))


def _to_object(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = _parsed_json(value, dict, gettext_noop("expected an object"))
    return result


def _parsed_json(value: Any, kind: type, reason: str) -> Any:
    """``value``, parsed first when it is JSON text, if it is a ``kind``; else CoercionError(``reason``)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise CoercionError(reason) from None
    if not isinstance(value, kind):
        raise CoercionError(reason)
    return value


_COERCERS: Final[dict[str, Any]] = {
    "string": _to_string,
    "number": _to_number,
    "integer": _to_integer,
    "boolean": _to_boolean,
    "object": _to_object,
}
