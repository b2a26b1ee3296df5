"""The variable pool: what references and templates can read during a run.

It is a read-only view over the LangGraph state (node outputs, ``sys``, ``conv``, ``user``), never a
copy: a node's context wraps the state it was handed. Inside a loop/iteration body the container's
own entry holds the round's ``item``/``index``, so ``{{ each.item }}`` needs no special case.

Lookups are lenient (a missing key or a node that did not run gives ``None``) because that is what a
join after a branch needs; templates are strict about names that do not exist at all (see
``templating.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from builder.engine.references import template_references
from builder.engine.runtime import templating
from builder.engine.values import Ref

ROOT_SCOPES = ("sys", "conv", "user")


class VariablePool:
    def __init__(
        self,
        outputs: Mapping[str, Mapping[str, Any]],
        *,
        sys: Mapping[str, Any],
        conv: Mapping[str, Any],
        user: Mapping[str, Any],
        node_ids: frozenset[str],
    ) -> None:
        self.outputs = outputs
        self.sys = sys
        self.conv = conv
        self.user = user
        self.node_ids = node_ids
        self._variables = _TemplateVariables(self)

    def with_variables(self, conv: Mapping[str, Any], user: Mapping[str, Any]) -> VariablePool:
        """The same pool seeing other conversation/user variables (a node's own writes)."""
        return VariablePool(self.outputs, sys=self.sys, conv=conv, user=user, node_ids=self.node_ids)

    def root(self, name: str) -> Mapping[str, Any] | None:
        if name == "sys":
            return self.sys
        if name == "conv":
            return self.conv
        if name == "user":
            return self.user
        return self.outputs.get(name)

    def lookup(self, parts: Sequence[str | int]) -> Any:
        """``["node", "output", *path]`` → the value, or None when any step is missing."""
        value: Any = self.root(str(parts[0]))
        for part in parts[1:]:
            if isinstance(value, Mapping):
                value = value.get(str(part))
            elif isinstance(value, list | tuple):
                index = _index(part)
                value = value[index] if index is not None and -len(value) <= index < len(value) else None
            else:
                return None
        return value

    def resolve(self, value: Any, reads: dict[str, Any] | None = None) -> Any:
        """Literals as they are (strings with ``{{ }}`` rendered), references looked up, containers deeply."""
        if isinstance(value, Ref):
            result = self.lookup(value.ref)
            if reads is not None:
                reads[".".join(str(part) for part in value.ref)] = result
            return result
        if isinstance(value, dict):
            return {key: self.resolve(item, reads) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve(item, reads) for item in value]
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            return self.render(value, reads)
        return value

    def render(self, source: str, reads: dict[str, Any] | None = None) -> str:
        text = templating.render(source, self._variables)
        if reads is not None and "{" in source:
            for node_id, output, path in _references(source):
                reads[".".join((node_id, output, *path))] = self.lookup((node_id, output, *path))
        return text

    @property
    def template_variables(self) -> Mapping[str, Any]:
        return self._variables


@functools.lru_cache(maxsize=4096)
def _references(source: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return tuple(template_references(source))


def _index(part: str | int) -> int | None:
    if isinstance(part, int):
        return part
    try:
        return int(part)
    except ValueError:
        return None


class _TemplateVariables(Mapping[str, Any]):
    """The pool as Jinja sees it: node ids, the roots, ``__nodes__`` for ids with "-", then globals."""

    __slots__ = ("_pool",)

    def __init__(self, pool: VariablePool) -> None:
        self._pool = pool

    def __getitem__(self, key: str) -> Any:
        pool = self._pool
        value = pool.outputs.get(key)
        if value is not None:
            return value
        if key in ROOT_SCOPES:
            return pool.root(key)
        if key in pool.node_ids:
            return templating.NotRun(name=key)
        if key == templating.NODES_MAPPING:
            return _NodesView(pool)
        return templating.ENVIRONMENT.globals[key]

    def __contains__(self, key: object) -> bool:
        pool = self._pool
        return (
            key in pool.outputs
            or key in ROOT_SCOPES
            or key in pool.node_ids
            or key == templating.NODES_MAPPING
            or key in templating.ENVIRONMENT.globals
        )

    def __iter__(self) -> Iterator[str]:
        yield from self._pool.outputs
        yield from ROOT_SCOPES

    def __len__(self) -> int:
        return len(self._pool.outputs) + len(ROOT_SCOPES)


class _NodesView(Mapping[str, Any]):
    __slots__ = ("_pool",)

    def __init__(self, pool: VariablePool) -> None:
        self._pool = pool

    def __getitem__(self, key: str) -> Any:
        value = self._pool.outputs.get(key)
        if value is not None:
            return value
        if key in self._pool.node_ids:
            return templating.NotRun(name=key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._pool.outputs)

    def __len__(self) -> int:
        return len(self._pool.outputs)
