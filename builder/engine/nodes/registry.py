"""Node type registry: name → {version → spec}, so saved graphs keep meaning what they meant.

A ``type`` in the DSL is ``"<name>"`` (the latest version) or ``"<name>@<N>"``.
"""

from __future__ import annotations

import re
from typing import Any, Final, TypeVar

from builder.engine.nodes.base import NodeSpec

TYPE_PATTERN: Final = re.compile(r"^([A-Za-z][A-Za-z0-9_.\-]{0,63})(?:@([1-9][0-9]{0,5}))?$")

_SPECS: dict[str, dict[int, NodeSpec[Any]]] = {}

SpecT = TypeVar("SpecT", bound=type[NodeSpec[Any]])


class UnknownNodeType(LookupError):
    def __init__(self, type_string: str, name: str) -> None:
        super().__init__(type_string)
        self.type_string = type_string
        self.name = name


class UnknownNodeVersion(LookupError):
    def __init__(self, name: str, version: int, known: list[int]) -> None:
        super().__init__(f"{name}@{version}")
        self.name = name
        self.version = version
        self.known = known


def register(spec_class: SpecT) -> SpecT:
    """Class decorator: register one version of a node type (also the hook target for plugins)."""
    versions = _SPECS.setdefault(spec_class.name, {})
    if spec_class.version in versions:
        raise ValueError(f"node type {spec_class.name}@{spec_class.version} is already registered")
    versions[spec_class.version] = spec_class()
    return spec_class


def parse_type(type_string: str) -> tuple[str, int | None] | None:
    """``"llm@2"`` → ``("llm", 2)``, ``"llm"`` → ``("llm", None)``; ``None`` if malformed."""
    match = TYPE_PATTERN.match(type_string)
    if match is None:
        return None
    name, version = match.groups()
    return name, int(version) if version else None


def resolve(type_string: str) -> NodeSpec[Any]:
    """The spec for a DSL ``type``; raises UnknownNodeType or UnknownNodeVersion."""
    parsed = parse_type(type_string)
    if parsed is None or parsed[0] not in _SPECS:
        raise UnknownNodeType(type_string, parsed[0] if parsed else type_string)
    name, version = parsed
    versions = _SPECS[name]
    if version is None:
        return versions[max(versions)]
    if version not in versions:
        raise UnknownNodeVersion(name, version, sorted(versions))
    return versions[version]


def get_spec(name: str, version: int) -> NodeSpec[Any]:
    return _SPECS[name][version]


def latest_version(name: str) -> int:
    return max(_SPECS[name])


def all_specs() -> list[NodeSpec[Any]]:
    """Every registered spec, by name then version."""
    return [_SPECS[name][version] for name in sorted(_SPECS) for version in sorted(_SPECS[name])]
