"""Parse untrusted YAML without letting it hurt us, into JSON data only.

``yaml.safe_load`` refuses Python object tags, but it still honours anchors and aliases (a few
hundred bytes of nested aliases, "billion laughs", expand into gigabytes as soon as the result is
serialised), builds values JSON cannot hold (dates, bytes, sets, infinite floats, integers too long
to write back as text, and reading a long one is quadratic), and its pure-Python parser spends
seconds on a few hundred thousand values. So:

1. libyaml's events are read once, before anything is built, counting as they come: an alias,
   nesting deeper than ``MAX_DEPTH`` or more than ``MAX_VALUES`` values stops the read there.
2. The document is then built by libyaml, with a constructor that makes JSON types only (a date
   stays the text it was) and refuses what JSON cannot hold, naming the line.

Refusals are ``UnsafeYaml``: an English ``template % params`` that callers may translate.
Django-free: the openapi plugin reads its specs with it too.
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, Event, ScalarEvent
from yaml.nodes import Node, ScalarNode

from builder.core.untrusted import MAX_INTEGER_DIGITS, MAX_NESTING_DEPTH, is_valid_text
from builder.engine.i18n import gettext_noop

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml: the same checks in pure Python, slower
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

MAX_DEPTH = MAX_NESTING_DEPTH
# Scalars and collections. The largest graph (2,000 nodes of ~30 values, their edges) has ~80k;
# the file size limit allows ~200k at the ~9 bytes a value an export takes.
MAX_VALUES = 200_000
# A value below 10**MAX_INTEGER_DIGITS has at most this many bits.
_MAX_INTEGER_BITS = int(MAX_INTEGER_DIGITS * math.log2(10))
_NOT_JSON_TAGS = ("binary", "timestamp", "set", "omap", "pairs")


class UnsafeYaml(ValueError):
    def __init__(self, template: str, **params: Any) -> None:
        self.template = template
        self.params = params
        super().__init__(template % params)


def _line(item: Event | Node) -> int:
    return int(item.start_mark.line) + 1 if item.start_mark is not None else 0


def _check_events(text: str) -> None:
    """Read the events once, refusing at the first alias or the first value over a limit."""
    depth = values = 0
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, AliasEvent):
            raise UnsafeYaml(gettext_noop("line %(line)d: aliases and anchors are not allowed"), line=_line(event))
        if isinstance(event, CollectionEndEvent):
            depth -= 1
        elif isinstance(event, ScalarEvent | CollectionStartEvent):
            values += 1
            if values > MAX_VALUES:
                template = gettext_noop("line %(line)d: more than %(limit)d values")
                raise UnsafeYaml(template, line=_line(event), limit=MAX_VALUES)
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    template = gettext_noop("line %(line)d: nested deeper than %(limit)d levels")
                    raise UnsafeYaml(template, line=_line(event), limit=MAX_DEPTH)


class _JsonLoader(_SafeLoader):
    """libyaml's parser and composer; a constructor of JSON values only."""

    # Unquoted dates stay text: JSON has no date, and an export writes a date-like text quoted.
    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_yaml_int(self, node: ScalarNode) -> int:
        # The length is checked before int() reads the text: reading a long one is quadratic.
        if len(node.value) <= MAX_INTEGER_DIGITS:
            value = super().construct_yaml_int(node)
            if value.bit_length() <= _MAX_INTEGER_BITS:  # a short hexadecimal or sexagesimal can be long
                return value
        template = gettext_noop("line %(line)d: integers are limited to %(digits)d digits")
        raise UnsafeYaml(template, line=_line(node), digits=MAX_INTEGER_DIGITS)

    def construct_yaml_float(self, node: ScalarNode) -> float:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise UnsafeYaml(gettext_noop("line %(line)d: numbers must be finite"), line=_line(node))
        return value

    def construct_yaml_str(self, node: ScalarNode) -> str:
        # libyaml refuses surrogate escapes itself; the pure-Python parser does not.
        value = super().construct_yaml_str(node)
        if not is_valid_text(value):
            template = gettext_noop("line %(line)d: not valid text (a NUL character or a lone surrogate)")
            raise UnsafeYaml(template, line=_line(node))
        return value

    def construct_not_json(self, node: Node) -> None:
        template = gettext_noop("line %(line)d: %(tag)s values are not allowed, only JSON data")
        raise UnsafeYaml(template, line=_line(node), tag=str(node.tag).replace("tag:yaml.org,2002:", "!!"))


for _tag in _NOT_JSON_TAGS:
    _JsonLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _JsonLoader.construct_not_json)
_JsonLoader.add_constructor("tag:yaml.org,2002:int", _JsonLoader.construct_yaml_int)
_JsonLoader.add_constructor("tag:yaml.org,2002:float", _JsonLoader.construct_yaml_float)
_JsonLoader.add_constructor("tag:yaml.org,2002:str", _JsonLoader.construct_yaml_str)


def load_untrusted_yaml(text: str) -> Any:
    """Parse one YAML document into JSON data; raise ``UnsafeYaml`` or ``yaml.YAMLError`` on bad input."""
    _check_events(text)
    loader = _JsonLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
