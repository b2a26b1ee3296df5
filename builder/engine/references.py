"""Find every reference a node config makes, generically, so node modules never do it themselves.

Walks a validated config: every ``Ref`` (explicit references, at any depth) and every string with
``{{`` or ``{%`` (Jinja2 templates) counts, except fields annotated ``VERBATIM``. Template references
are the dotted names inside ``{{ }}`` and ``{% %}`` (``{{ llm1.text }}``, ``{% if sys.query %}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from builder.engine.values import BODY_SCOPE, VARIABLE_TARGET, VERBATIM, Ref

_TAGS: Final = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)
_STRING_LITERAL: Final = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.DOTALL)
# A node id (which may contain "-") followed by at least one ".name". Not preceded by a name char or
# ".", so "a.b.c" is read once, from its start.
_DOTTED: Final = re.compile(r"(?<![\w.\-])([A-Za-z_][\w\-]*)((?:\.\w+)+)")
_FOR_TARGETS: Final = re.compile(r"^\s*-?\s*for\s+(.+?)\s+in\s", re.DOTALL)
_SET_TARGET: Final = re.compile(r"^\s*-?\s*set\s+(\w+)")
# Only used to check syntax; rendering happens in the runtime's own sandbox.
_JINJA: Final = SandboxedEnvironment()


@dataclass(frozen=True)
class FoundReference:
    node_id: str  # a node id, or "sys", "conv", "user"
    output: str
    path: tuple[str | int, ...]
    field: str  # where it was found, e.g. "data.cases.0.conditions.1.left"
    in_body: bool = False  # resolved inside the node's own body (loop/iteration outputs)


@dataclass(frozen=True)
class TemplateError:
    field: str
    line: int
    error: str


@dataclass
class ReferenceScan:
    references: list[FoundReference] = field(default_factory=list)
    template_errors: list[TemplateError] = field(default_factory=list)


def scan_config(config: BaseModel, prefix: str = "data") -> ReferenceScan:
    scan = ReferenceScan()
    _walk(config, prefix, False, scan)
    return scan


def template_references(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(node_id, output, path)`` for each dotted name used in a template's tags."""
    bound: set[str] = set()  # names the template defines itself ({% for x in ... %}, {% set x = %})
    found = []
    for expression, statement in _TAGS.findall(text):
        code = _STRING_LITERAL.sub("''", expression or statement)
        if statement:
            if match := _FOR_TARGETS.match(code):
                bound.update(re.findall(r"\w+", match.group(1)))
                bound.add("loop")  # Jinja's loop.index etc.
            elif match := _SET_TARGET.match(code):
                bound.add(match.group(1))
        for head, tail in _DOTTED.findall(code):
            parts = tail[1:].split(".")
            found.append((head, parts[0], tuple(parts[1:])))
    return [item for item in found if item[0] not in bound]


def _walk(value: Any, path: str, in_body: bool, scan: ReferenceScan) -> None:
    if isinstance(value, Ref):
        scan.references.append(FoundReference(value.node_id, value.output, value.path, path, in_body))
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            markers = info.metadata
            if VERBATIM in markers:
                continue
            child = getattr(value, name)
            child_path = f"{path}.{name}"
            if VARIABLE_TARGET in markers and isinstance(child, str):
                scope, _, variable = child.partition(".")
                scan.references.append(FoundReference(scope, variable, (), child_path, in_body))
            else:
                _walk(child, child_path, in_body or BODY_SCOPE in markers, scan)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, f"{path}.{key}", in_body, scan)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk(item, f"{path}.{index}", in_body, scan)
    elif isinstance(value, str) and ("{{" in value or "{%" in value):
        _scan_template(value, path, in_body, scan)


def _scan_template(text: str, path: str, in_body: bool, scan: ReferenceScan) -> None:
    try:
        _JINJA.parse(text)
    except TemplateSyntaxError as error:
        scan.template_errors.append(TemplateError(path, error.lineno, error.message or "syntax error"))
        return
    for node_id, output, rest in template_references(text):
        scan.references.append(FoundReference(node_id, output, rest, path, in_body))
