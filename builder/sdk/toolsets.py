"""Tools that depend on a workspace's settings: ``ToolSet``, and inputs defined by a JSON Schema.

A plugin's ``register_tools`` returns the same tools for every workspace. Some plugins cannot know
their tools before a workspace configures them: the OpenAPI plugin makes one tool per operation of
the specs a workspace imports, the MCP plugin offers whatever the workspace's MCP servers list. Such
a plugin registers a ``ToolSet`` (``register_toolsets``): the host calls ``list_tools(ctx)`` with the
workspace's settings in ``ctx.config``, keeps the answer for ``cache_ttl_s`` seconds (or until the
settings change), and then runs the listed tools exactly like static ones (``ToolSpec``: input
validation, timeout, output check, errors).

A listed tool's input is usually a JSON Schema from elsewhere (an OpenAPI operation, an MCP tool),
not a pydantic model written by hand: ``json_schema_model(name, schema)`` makes a model class whose
JSON Schema *is* that schema and whose validation is JSON Schema validation, so such a tool is an
ordinary ``ToolSpec``. ``unique_tool_name`` turns foreign names into tool names, stably.
"""

from __future__ import annotations

import copy
import inspect
import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from builder.sdk.tools import TOOL_NAME, ToolSpec

ModelT = TypeVar("ModelT", bound=BaseModel)

if TYPE_CHECKING:
    from builder.sdk.context import PluginContext

MAX_CACHE_TTL_S: Final = 24 * 3600.0
MAX_TOOL_NAME: Final = 64
_MAX_MESSAGE_CHARS: Final = 200


@dataclass(frozen=True)
class ToolSet:
    """A family of tools listed per workspace from its settings of the plugin.

    ``list_tools(ctx)`` returns ``ToolSpec``s (``ctx.config``: the workspace's settings, secrets in
    clear; ``ctx.http``: the SSRF-safe client). It may do I/O (fetch a spec, ask a server); it
    raises ``ToolError`` when it cannot list, which the host shows to the admin and to the bot.
    When its tools come from several sources (two specs, three servers) and only some fail, it
    returns ``ListedTools(tools, problems)``: the others' tools, and why each failing source failed.
    The host keeps the list for ``cache_ttl_s`` seconds per state of the settings, so ``list_tools``
    must depend on ``ctx.config`` only. Tool names must be unique within the plugin (prefix them
    with the source they come from: ``unique_tool_name``) and stable, because saved bots refer to
    them as ``<plugin>/<tool>``.
    """

    name: str
    description: str
    list_tools: Callable[[PluginContext], Awaitable[Sequence[ToolSpec[Any, Any]] | ListedTools]]
    cache_ttl_s: float = 300.0

    def __post_init__(self) -> None:
        if not TOOL_NAME.match(self.name):
            raise ValueError(f"Tool set name {self.name!r}: use 1-64 lowercase letters, digits and underscores.")
        if not inspect.iscoroutinefunction(self.list_tools):
            raise TypeError(f"Tool set {self.name}: list_tools must be an async function (async def).")
        if not 0 <= self.cache_ttl_s <= MAX_CACHE_TTL_S:
            raise ValueError(f"Tool set {self.name}: cache_ttl_s must be between 0 and {MAX_CACHE_TTL_S:g}.")


@dataclass(frozen=True)
class ListedTools:
    """What ``list_tools`` returns when some of its sources failed: the tools of the others, and
    ``problems``: source name → why it lists nothing (a message for the admin and the bot)."""

    tools: Sequence[ToolSpec[Any, Any]]
    problems: Mapping[str, str] = field(default_factory=dict)


def source_problems(
    items: Sequence[Any] | None,
    *,
    field: str,
    model: type[ModelT],
    problems_of: Callable[[ModelT], Sequence[tuple[str, str]]],
) -> dict[str, list[str]] | None:
    """``check_config`` for a tool set whose settings are a list of sources (specs, servers…): each
    item must validate as ``model``, then ``problems_of(item)`` names its fields' problems. Keys are
    ``<field>.<index>[.<item field>]``, as the settings API reports them; None when all is well."""
    problems: dict[str, list[str]] = {}
    for index, raw in enumerate(items or []):
        where = f"{field}.{index}"
        try:
            item = model.model_validate(raw)
        except ValidationError as error:
            problems[where] = [str(error.errors()[0]["msg"])]
            continue
        for name, message in problems_of(item):
            problems.setdefault(f"{where}.{name}", []).append(message)
    return problems or None


def unique_tool_name(raw: str, taken: set[str], *, prefix: str = "", fallback: str = "tool") -> str:
    """A valid tool name from ``raw`` (``"findPetsByStatus"`` → ``"find_pets_by_status"``), with
    ``prefix + "__"`` in front, cut to 64 characters, made unique against ``taken`` (``_2``, ``_3``…)
    and added to it. The same inputs in the same order give the same names."""
    words = unicodedata.normalize("NFKD", raw)
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", words))
    cleaned = re.sub(r"[^a-z0-9]+", "_", words.encode("ascii", "ignore").decode().lower()).strip("_")
    cleaned = re.sub(r"^[0-9_]+", "", cleaned) or fallback
    head = f"{prefix}__" if prefix else ""
    base = (head + cleaned)[:MAX_TOOL_NAME].rstrip("_")
    name, index = base, 2
    while name in taken:
        suffix = f"_{index}"
        name, index = base[: MAX_TOOL_NAME - len(suffix)] + suffix, index + 1
    taken.add(name)
    return name


class JsonSchemaInput(BaseModel):
    """Base of the classes ``json_schema_model`` makes: any JSON object, checked against a schema.

    The fields are the object's keys (``model_dump()`` gives the object back); ``model_json_schema()``
    is the schema itself, so the model and the builder see exactly what the source declared.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    json_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    validator: ClassVar[Any] = Draft202012Validator({"type": "object"})

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(cls.json_schema)

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(obj, cls):
            return obj
        if isinstance(obj, BaseModel):
            obj = obj.model_dump()
        problems = [
            InitErrorDetails(
                type=PydanticCustomError("json_schema", "{message}", {"message": _message(error)}),
                loc=tuple(error.absolute_path),
                input=error.instance,
            )
            for error in sorted(cls.validator.iter_errors(obj), key=lambda error: list(error.absolute_path))
        ]
        if not isinstance(obj, Mapping) and not problems:
            problems = [
                InitErrorDetails(
                    type=PydanticCustomError("json_schema", "Input should be an object"), loc=(), input=obj
                )
            ]
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return super().model_validate(dict(obj), *args, **kwargs)


def _message(error: Any) -> str:
    message = str(error.message)
    return message if len(message) <= _MAX_MESSAGE_CHARS else message[: _MAX_MESSAGE_CHARS - 1] + "…"


def json_schema_model(name: str, schema: Mapping[str, Any]) -> type[JsonSchemaInput]:
    """A pydantic model class (a tool's ``input_model`` or ``output_model``) defined by ``schema``,
    a JSON Schema (2020-12) of an object. Raises ``ValueError`` when ``schema`` is not one."""
    schema = copy.deepcopy(dict(schema))
    if schema.get("type") != "object":
        raise ValueError(f'{name}: the schema of a tool\'s input is an object (give "type": "object").')
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise ValueError(f"{name}: not a valid JSON Schema: {error.message}") from None
    class_name = re.sub(r"\W", "_", name) or "Input"
    return type(
        class_name,
        (JsonSchemaInput,),
        {"json_schema": schema, "validator": Draft202012Validator(schema), "__module__": __name__},
    )


def is_json_schema_model(model: type[BaseModel]) -> bool:
    return issubclass(model, JsonSchemaInput)
