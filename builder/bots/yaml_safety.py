"""Parse untrusted YAML without letting it hurt us.

``yaml.safe_load`` already refuses Python object tags, but it still honours anchors and aliases:
a few hundred bytes of nested aliases ("billion laughs") expand into gigabytes as soon as the
result is serialised. Bot files never need aliases, so we refuse them outright, and we cap the
nesting depth and the number of nodes.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import Node

MAX_DEPTH = 64
MAX_NODES = 200_000


class UnsafeYaml(ValueError):
    pass


class _LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            raise UnsafeYaml("YAML aliases and anchors are not allowed")
        self._depth += 1
        self._nodes += 1
        if self._depth > MAX_DEPTH:
            raise UnsafeYaml(f"YAML is nested deeper than {MAX_DEPTH} levels")
        if self._nodes > MAX_NODES:
            raise UnsafeYaml(f"YAML has more than {MAX_NODES} values")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_untrusted_yaml(text: str) -> Any:
    """Parse one YAML document; raise ``UnsafeYaml`` or ``yaml.YAMLError`` on bad input."""
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
