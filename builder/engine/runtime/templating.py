"""Rendering the ``{{ }}`` templates of node configs, in a Jinja2 sandbox, over the variable pool.

- The environment is ``ImmutableSandboxedEnvironment``: no ``__class__``/``_private`` access, no
  ``list.append`` and friends; anything refused becomes ``NodeError("template_unsafe")``.
- Undefined is strict: an unknown name, a missing key or an output a node does not have fails the
  node with a message saying which. A node that exists but did not run (a branch not taken) renders
  as empty instead, so a template after a join can mention both branches, as in Dify.
- Node ids may contain ``-``: ``{{ node-1.text }}`` is rewritten to ``{{ __nodes__["node-1"].text }}``
  before compiling (the same dotted-name rule ``references.py`` checks at save time).
- Output is capped (``MAX_RENDERED_CHARS``), and so are the sizes a template can ask for with ``*``,
  ``**``, ``%``, ``range`` and the width arguments of filters and string methods. The sandbox is not a
  CPU jail: a template that loops without producing output is stopped only by the node's timeout.
- Dict keys win over dict methods: ``{{ start.items }}`` is the input called ``items``.

Compiled templates are cached by source, so a runner reused across runs compiles each template once.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import NodeError, node_error

MAX_RENDERED_CHARS: Final = 1_000_000
# Largest repeat count / width / exponent a template may ask for.
MAX_TEMPLATE_NUMBER: Final = 100_000
MAX_CACHED_TEMPLATES: Final = 4096
NODES_MAPPING: Final = "__nodes__"
ROOTS: Final = frozenset({"sys", "conv", "user"})
TEMPLATE_ERROR: Final = gettext_noop("Template error: %(error)s")
TEMPLATE_UNSAFE: Final = gettext_noop("The template tried something that is not allowed: %(error)s")
TEMPLATE_RAISED: Final = gettext_noop("Template error: %(type)s: %(error)s")

_TAGS: Final = re.compile(r"(\{\{|\{%)(.*?)(\}\}|%\})", re.DOTALL)
_STRING_LITERAL: Final = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.DOTALL)
# The same rule as references._DOTTED, restricted to heads that contain "-".
_HYPHENATED: Final = re.compile(r"(?<![\w.\-])([A-Za-z_][\w]*-[\w\-]*)(?=\.\w)")
# A width/precision of 6+ digits, or one taken from an argument ("{:{}}"), in a format string.
_WIDTH_IN_FORMAT: Final = re.compile(r"%[-#0 +]*(\d{6,}|\*)|%[-#0 +]*\d*\.(\d{6,}|\*)")
_LARGE_FORMAT_SPEC: Final = re.compile(r"\{[^{}]*:[^{}]*(\d{6,}|\{)")


class _StrictUndefined(StrictUndefined):
    """Fails when printed, iterated or compared, but ``{% if x.missing %}`` is simply false."""

    __slots__ = ()

    def __bool__(self) -> bool:  # type: ignore[override]
        return False


class NotRun(ChainableUndefined):
    """A node of the graph that did not run (yet, or at all): renders as nothing."""

    __slots__ = ()


def _capped(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_TEMPLATE_NUMBER:
        raise SecurityError(f"the number {value} is too large for a template (limit {MAX_TEMPLATE_NUMBER})")
    return value


def _repeat(left: Any, right: Any) -> Any:
    if isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple):
        count = right if isinstance(left, str | list | tuple) else left
        sequence = left if isinstance(left, str | list | tuple) else right
        if isinstance(count, int) and len(sequence) * max(count, 0) > MAX_RENDERED_CHARS:
            raise SecurityError("the template tried to build a value that is too large")
    return operator.mul(left, right)


def _power(left: Any, right: Any) -> Any:
    _capped(right)
    if isinstance(right, int) and isinstance(left, int) and abs(left) > 1 and right > 1000:
        raise SecurityError("the template tried to compute a number that is too large")
    return operator.pow(left, right)


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str) and _WIDTH_IN_FORMAT.search(left):
        raise SecurityError("the template used a format width that is too large")
    return operator.mod(left, right)


# Filters whose numeric arguments size their output.
_SIZED_FILTERS: Final = ("center", "indent", "wordwrap", "truncate")
# String methods likewise (reached through attribute access, then env.call).
_SIZED_METHODS: Final = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=_StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=lambda value: "" if value is None else value,
        )
        self.binop_table["*"] = _repeat
        self.binop_table["**"] = _power
        self.binop_table["%"] = _modulo
        for name in _SIZED_FILTERS:
            self.filters[name] = _capping(self.filters[name])
        format_filter = self.filters["format"]

        def checked_format(value: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(value, str) and _WIDTH_IN_FORMAT.search(value):
                raise SecurityError("the template used a format width that is too large")
            return format_filter(value, *args, **kwargs)

        self.filters["format"] = checked_format

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Node outputs are dicts: their keys must win over dict methods (items, values, keys…).
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(__obj, "__name__", None) in _SIZED_METHODS and isinstance(getattr(__obj, "__self__", None), str):
            for value in (*args, *kwargs.values()):
                _capped(value)
        if getattr(__obj, "__name__", None) in ("format", "format_map"):
            # The sandbox wraps str.format; the format string is the wrapped method's __self__.
            text = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
            if isinstance(text, str) and _LARGE_FORMAT_SPEC.search(text):
                raise SecurityError("the template used a format width that is too large")
        return super().call(__context, __obj, *args, **kwargs)


def _capping(function: Callable[..., Any]) -> Callable[..., Any]:
    def capped(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[1:], *kwargs.values()):
            _capped(value)
        return function(*args, **kwargs)

    capped.__name__ = getattr(function, "__name__", "filter")
    # Keep jinja's pass_context/pass_environment markers.
    for marker in ("jinja_pass_arg",):
        if hasattr(function, marker):
            setattr(capped, marker, getattr(function, marker))
    return capped


ENVIRONMENT: Final = _Environment()


def rewrite_hyphenated(source: str) -> str:
    """``{{ node-1.text }}`` → ``{{ __nodes__["node-1"].text }}``, outside string literals only."""
    if "-" not in source:
        return source

    def tag(match: re.Match[str]) -> str:
        opening, code, closing = match.groups()
        pieces = []
        position = 0
        for literal in _STRING_LITERAL.finditer(code):
            pieces.append(_HYPHENATED.sub(_lookup, code[position : literal.start()]))
            pieces.append(literal.group(0))
            position = literal.end()
        pieces.append(_HYPHENATED.sub(_lookup, code[position:]))
        return opening + "".join(pieces) + closing

    return _TAGS.sub(tag, source)


def _lookup(match: re.Match[str]) -> str:
    return f'{NODES_MAPPING}["{match.group(1)}"]'


def _compile(source: str) -> Template:
    try:
        return ENVIRONMENT.from_string(rewrite_hyphenated(source))
    except TemplateSyntaxError as error:
        raise node_error(
            "template_error",
            gettext_noop("Template error on line %(line)s: %(error)s"),
            line=error.lineno,
            error=str(error.message),
        ) from error


_CACHE: dict[str, Template] = {}


def compiled(source: str) -> Template:
    """The compiled template for ``source`` (cached)."""
    template = _CACHE.get(source)
    if template is None:
        template = _compile(source)
        if len(_CACHE) >= MAX_CACHED_TEMPLATES:
            _CACHE.clear()  # crude but bounded; graphs recompile what they use on the next render
        _CACHE[source] = template
    return template


def render_compiled(template: Template, variables: Mapping[str, Any]) -> str:
    """Render over ``variables`` (any Mapping: the pool is read lazily, never copied)."""
    context = template.new_context(variables, shared=True)  # type: ignore[arg-type]
    try:
        return _join_capped(template.root_render_func(context))
    except NodeError:
        raise
    except SecurityError as error:
        raise node_error("template_unsafe", TEMPLATE_UNSAFE, error=str(error)) from error
    except TemplateError as error:  # UndefinedError included
        raise node_error("template_error", TEMPLATE_ERROR, error=str(error)) from error
    except RecursionError as error:
        raise node_error("template_error", gettext_noop("Template error: nested too deeply.")) from error
    except Exception as error:  # TypeError, ZeroDivisionError… raised by the template's own expressions
        raise node_error("template_error", TEMPLATE_RAISED, type=type(error).__name__, error=str(error)) from error


def render(source: str, variables: Mapping[str, Any]) -> str:
    """Render a template string; raises NodeError with a message for the user on any problem."""
    if "{" not in source:
        return source  # plain text: nothing to render (the common case for labels and literals)
    return render_compiled(compiled(source), variables)


def _join_capped(chunks: Iterator[str]) -> str:
    parts = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RENDERED_CHARS:
            template = gettext_noop("The rendered text is longer than %(limit)s characters.")
            raise node_error("template_too_large", template, limit=MAX_RENDERED_CHARS)
        parts.append(chunk)
    return "".join(parts)


# --- answer segments: what the answer stream can send before the answer node runs -------------------


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class Expression:
    """One ``{{ expr }}`` of an answer, rendered on its own once what it reads is ready."""

    template: Template
    node_ids: frozenset[str]  # nodes it reads
    roots: frozenset[str]  # sys / conv / user it reads
    # (node_id, output) when the expression is exactly ``node.output``: its deltas can be forwarded live.
    live: tuple[str, str] | None


Segment = Literal | Expression


def segments(source: str, node_ids: frozenset[str]) -> list[Segment] | None:
    """Split an answer template into literal text and expressions, or None when it has statements
    (``{% if %}``, ``{% for %}``…) and can only be rendered whole."""
    try:
        tree = ENVIRONMENT.parse(rewrite_hyphenated(source))
    except TemplateSyntaxError:
        return None
    result: list[Segment] = []
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            return None
        for child in statement.nodes:
            if isinstance(child, nodes.TemplateData):
                result.append(Literal(child.data))
            else:
                result.append(_expression(child, node_ids))
    return result


def _expression(expression: nodes.Expr, node_ids: frozenset[str]) -> Expression:
    tree = nodes.Template([nodes.Output([expression], lineno=expression.lineno)], lineno=1)
    tree.set_environment(ENVIRONMENT)
    code = ENVIRONMENT.compile(tree)
    template = ENVIRONMENT.template_class.from_code(ENVIRONMENT, code, ENVIRONMENT.make_globals(None))
    names: set[str] = set()
    for name in expression.find_all(nodes.Name):
        names.add(name.name)
    for item in expression.find_all(nodes.Getitem):
        if isinstance(item.node, nodes.Name) and item.node.name == NODES_MAPPING and isinstance(item.arg, nodes.Const):
            names.add(str(item.arg.value))
    return Expression(
        template=template,
        node_ids=frozenset(names & node_ids),
        roots=frozenset(names & ROOTS),
        live=_live_reference(expression, node_ids),
    )


def _live_reference(expression: nodes.Expr, node_ids: frozenset[str]) -> tuple[str, str] | None:
    if isinstance(expression, nodes.Getattr):
        head, output = expression.node, expression.attr
    elif isinstance(expression, nodes.Getitem) and isinstance(expression.arg, nodes.Const):
        head, output = expression.node, str(expression.arg.value)
    else:
        return None
    if isinstance(head, nodes.Name):
        node_id = head.name
    elif (
        isinstance(head, nodes.Getitem)
        and isinstance(head.node, nodes.Name)
        and head.node.name == NODES_MAPPING
        and isinstance(head.arg, nodes.Const)
    ):
        node_id = str(head.arg.value)
    else:
        return None
    return (node_id, output) if node_id in node_ids else None
