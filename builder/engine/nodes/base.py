"""What every node type shares: the config base (with error handling) and the spec interface.

A node type is a ``NodeSpec`` subclass registered under a name and a version. The spec describes the
node for validation: its config model, the outputs it declares, and its outgoing handles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import Field, JsonValue, ValidationInfo, field_validator

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import NodeContext, NodeResult, node_error
from builder.engine.values import VERBATIM, ModelChoice, StrictModel, field_error, value_matches_type

# Types a node output, input or parameter can declare. Outputs may also be "any".
DataType = Literal[
    "string",
    "number",
    "integer",
    "boolean",
    "object",
    "array",
    "array[string]",
    "array[number]",
    "array[object]",
    "file",
    "array[file]",
]
ERROR_HANDLE = "error"
# On the error branch, the failure as {"code", "message", "details"}.
ERROR_OUTPUT = "error"


class ErrorPolicy(StrictModel):
    """What happens when the node fails: retry, then fail the run, use defaults, or branch."""

    retries: int = Field(default=0, ge=0, le=10)
    backoff_s: float = Field(default=0, ge=0, le=600)
    timeout_s: float | None = Field(default=None, gt=0, le=3600)
    on_error: Literal["fail", "default", "error_branch"] = "fail"
    # Literals only: defaults must not depend on the nodes that may have failed upstream.
    default_outputs: dict[str, JsonValue] | None = Field(default=None, validate_default=True)

    @field_validator("default_outputs")
    @classmethod
    def _defaults_when_needed(cls, value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        if value is None and info.data.get("on_error") == "default":
            raise field_error("missing_field", gettext_noop("Give the default outputs to use when the node fails."))
        return value


class NodeConfig(StrictModel):
    """Base of every node's ``data``: UI labels plus the error policy."""

    title: Annotated[str, VERBATIM, Field(max_length=200)] = ""
    description: Annotated[str, VERBATIM, Field(max_length=2000)] = ""
    error: Annotated[ErrorPolicy, VERBATIM] = Field(default_factory=ErrorPolicy)


class ModelNodeConfig(NodeConfig):
    """A node that calls a chat model. Without ``model`` the bot's ``settings.model`` is used."""

    model: ModelChoice | None = None
    fallback_model: ModelChoice | None = None


@dataclasses.dataclass(frozen=True)
class ConfigIssue:
    """A problem in one node's config found after pydantic validation (``field`` is under ``data``)."""

    code: str
    template: str
    field: str
    params: dict[str, str | int] = dataclasses.field(default_factory=dict)


ConfigT = TypeVar("ConfigT", bound=NodeConfig)


class NodeSpec(Generic[ConfigT]):
    """Describes one version of one node type. Subclasses set the class attributes and override hooks."""

    name: ClassVar[str]
    version: ClassVar[int]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    config_model: ClassVar[type[NodeConfig]]
    # None when outputs depend on the config; then ``outputs()`` is overridden.
    static_outputs: ClassVar[Mapping[str, str] | None] = {}
    # Loop and iteration: their body nodes have ``parentId`` set to them.
    is_container: ClassVar[bool] = False
    # start: the one node a run begins at.
    is_entry: ClassVar[bool] = False
    # answer and end: a graph needs at least one of them.
    is_output: ClassVar[bool] = False
    # end: no outgoing edges at all (except the error branch).
    is_terminal: ClassVar[bool] = False
    # The branch an edge without ``sourceHandle`` leaves from, for nodes with named branches.
    default_branch: ClassVar[str | None] = None
    handles_doc: ClassVar[str] = gettext_noop("One outgoing handle.")

    def outputs(self, config: ConfigT) -> dict[str, str]:
        """Output name → type name, as seen by nodes downstream."""
        return dict(self.static_outputs or {})

    def body_outputs(self, config: ConfigT) -> dict[str, str]:
        """For containers: what nodes inside the body may reference on the container (item, index)."""
        return {}

    def branches(self, config: ConfigT) -> list[str]:
        """Named outgoing handles. Empty means the node has the single default handle."""
        return []

    def check(self, config: ConfigT) -> list[ConfigIssue]:
        """Cross-field checks pydantic cannot point at precisely (e.g. duplicate ids in a list)."""
        return []

    async def run(self, config: ConfigT, ctx: NodeContext) -> NodeResult:
        """Execute the node (see runtime/contract.py). Container nodes are run by the compiler."""
        raise node_error("not_implemented", gettext_noop("The %(type)s node cannot run yet."), type=self.name)

    def unfilled(self, config: ConfigT) -> list[ConfigIssue]:
        """Values still to fill in before the graph can run (e.g. a credential blanked by an export).

        Unlike ``check``, these do not make the document invalid: a draft may be saved (or a bot
        imported) with them, and ``find_problems`` reports them so publishing waits for them.
        """
        return []

    # Not meant to be overridden --------------------------------------------------------------------

    def source_handles(self, config: ConfigT) -> set[str | None]:
        """Every accepted ``sourceHandle``; ``None`` is React Flow's default handle."""
        named = self.branches(config)
        handles: set[str | None] = set(named)
        if not self.is_terminal and (not named or self.default_branch is not None):
            handles.add(None)
        if config.error.on_error == "error_branch":
            handles.add(ERROR_HANDLE)
        return handles

    def effective_handle(self, handle: str | None) -> str | None:
        return self.default_branch if handle is None else handle

    def referable_outputs(self, config: ConfigT) -> dict[str, str]:
        """What other nodes may reference: the outputs, plus ``error`` when failures take the error branch."""
        outputs = self.outputs(config)
        if config.error.on_error == "error_branch":
            outputs = {**outputs, ERROR_OUTPUT: "object"}
        return outputs

    def issues(self, config: ConfigT) -> list[ConfigIssue]:
        """All post-validation issues: the node's own checks plus the default outputs of its error policy."""
        issues = self.check(config)
        defaults = config.error.default_outputs or {}
        declared = self.outputs(config)
        for name, value in defaults.items():
            where = f"error.default_outputs.{name}"
            if name not in declared:
                issues.append(
                    ConfigIssue(
                        "invalid_field",
                        gettext_noop("%(name)s is not an output of this node."),
                        where,
                        {"name": name},
                    )
                )
            elif not value_matches_type(value, declared[name]):
                issues.append(
                    ConfigIssue(
                        "invalid_field",
                        gettext_noop("The default for %(name)s must be of type %(type)s."),
                        where,
                        {"name": name, "type": declared[name]},
                    )
                )
        return issues


def duplicate_issues(
    items: Iterable[Any], key: Callable[[Any], str], list_field: str, item_field: str
) -> list[ConfigIssue]:
    """One issue per item whose key was already used by an earlier item of the same list."""
    seen: set[str] = set()
    issues = []
    for index, item in enumerate(items):
        value = key(item)
        if value in seen:
            issues.append(
                ConfigIssue(
                    "duplicate_name",
                    gettext_noop("%(name)s is used more than once."),
                    f"{list_field}.{index}.{item_field}",
                    {"name": value},
                )
            )
        seen.add(value)
    return issues


def reserved_issues(
    items: Iterable[Any], key: Callable[[Any], str], reserved: set[str], list_field: str, item_field: str
) -> list[ConfigIssue]:
    """One issue per item whose key collides with a handle or output the node uses itself."""
    return [
        ConfigIssue(
            "invalid_field",
            gettext_noop("%(name)s is reserved; choose another name."),
            f"{list_field}.{index}.{item_field}",
            {"name": key(item)},
        )
        for index, item in enumerate(items)
        if key(item) in reserved
    ]
