"""Secrets in a graph: which config fields hold credentials, and the reference that stands for one.

A secret field (``Secret``: an http node's token, password, API key) holds ``""`` (not set), a
template that reads the secret at run time (``{{ conv.token }}``: not a secret itself), or a
reference ``{"credential": "<id>"}`` to a workspace credential the host keeps encrypted. In a field
marked ``SECRET_NAMES`` (headers, query parameters, a JSON or form body, a tool's inputs) a text is
secret when its name says so (``Authorization``, ``X-Api-Key``, ``password``, ``access_token``…),
and any value, at any depth, may be a credential reference.

The engine accepts a raw value in a secret slot (tests and scripts run graphs directly), but the
host never stores one: saving a draft or importing a file moves it into a credential and keeps the
reference (``graph_secrets.replace_secrets``), so every read shows the reference only. Node types
mark their secret fields once, with these types; ``secret_slots`` finds them in any config, and the
JSON Schema the canvas reads carries ``"x-secret": true`` / ``"x-secret-names"`` so it knows them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import NodeContext, node_error
from builder.engine.values import (
    _REF_SCHEMA,
    MAX_VALUE_DEPTH,
    Marker,
    StrictModel,
    _dump_value,
    _parse_value,
    field_error,
)

# A secret field: its value is a credential (or a template that reads one).
SECRET: Final = Marker("secret")
# A field of named values where a text is secret when its name says so (``is_secret_name``) and
# any value may be a credential reference, at any depth.
SECRET_NAMES: Final = Marker("secret_names")

MAX_SECRET_LENGTH: Final = 100_000
# What a trace shows in place of a secret the node sent.
MASK: Final = "******"
_UUID: Final = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
# Names that carry credentials: one of these words ends the name ("X-Api-Key", "access_token",
# "clientSecret", "new_password"), so "max_tokens" or "token_type" are not secrets.
_SECRET_WORDS: Final = re.compile(
    r"(?:^|[^a-z0-9])(?:authorization|cookie|password|passwd|passphrase|secret|token|credentials?"
    r"|api[-_ ]?key|apikey|(?:access|private|secret|signing)[-_ ]?key)$",
    re.IGNORECASE,
)
_CAMEL_HUMP: Final = re.compile(r"([a-z0-9])([A-Z])")
# What clients are shown instead of a secret: the trace's "******", bullets, or a credential's
# hint ("sk-…3456"). Sent back in a secret slot it means "keep what is stored", never a new value.
_MASKED: Final = re.compile(r"^(?:[•*]{3,}|[^…\s]{0,12}…[^…\s]{0,12})$")


class CredentialRef(StrictModel):
    """``{"credential": "<id>"}``: a workspace credential, decrypted by the host when the node runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    credential: Annotated[str, StringConstraints(pattern=_UUID)]


_CREDENTIAL_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "title": "Credential reference",
    "properties": {"credential": {"type": "string", "format": "uuid"}},
    "required": ["credential"],
    "additionalProperties": False,
}
_SECRET_SCHEMA: Final[dict[str, Any]] = {
    "title": "Secret",
    "x-secret": True,
    "anyOf": [{"type": "string", "maxLength": MAX_SECRET_LENGTH, "x-template": True}, _CREDENTIAL_SCHEMA],
}
_SECRET_OR_VALUE_SCHEMA: Final[dict[str, Any]] = {
    "title": "Value or credential",
    "anyOf": [_CREDENTIAL_SCHEMA, _REF_SCHEMA, {"title": "Literal"}],
}


def is_credential_ref(raw: Any) -> bool:
    return isinstance(raw, CredentialRef) or (isinstance(raw, Mapping) and set(raw) == {"credential"})


def parse_credential(raw: Any) -> CredentialRef:
    if isinstance(raw, CredentialRef):
        return raw
    try:
        return CredentialRef.model_validate(raw)
    except ValidationError:
        raise field_error(
            "invalid_field", gettext_noop('A credential reference is {"credential": "<credential id>"}.')
        ) from None


def _parse_secret(raw: Any) -> str | CredentialRef:
    if isinstance(raw, str):
        if len(raw) > MAX_SECRET_LENGTH:
            template = gettext_noop("Enter at most %(count)s characters.")
            raise field_error("invalid_field", template, count=MAX_SECRET_LENGTH)
        return raw
    if isinstance(raw, Mapping | CredentialRef):
        return parse_credential(raw)
    raise field_error("invalid_field", gettext_noop("A secret is text or a credential reference."))


def _parse_secret_or_value(raw: Any, depth: int = 0) -> Any:
    """A ``Value`` in which any ``{"credential": id}`` object, at any depth, is a credential reference."""
    if is_credential_ref(raw):
        return parse_credential(raw)
    if isinstance(raw, dict) and "ref" not in raw and depth <= MAX_VALUE_DEPTH:
        if not all(isinstance(key, str) for key in raw):
            raise field_error("invalid_field", gettext_noop("Object keys must be text."))
        return {key: _parse_secret_or_value(item, depth + 1) for key, item in raw.items()}
    if isinstance(raw, list) and depth <= MAX_VALUE_DEPTH:
        return [_parse_secret_or_value(item, depth + 1) for item in raw]
    return _parse_value(raw, depth)


def _dump_secret(value: Any) -> Any:
    if isinstance(value, CredentialRef):
        return {"credential": value.credential}
    if isinstance(value, dict):
        return {key: _dump_secret(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dump_secret(item) for item in value]
    return _dump_value(value)


# An http node's token, password or API key: text (a template) or a credential reference.
Secret = Annotated[
    str | CredentialRef,
    PlainValidator(_parse_secret),
    PlainSerializer(_dump_secret),
    WithJsonSchema(_SECRET_SCHEMA),
    SECRET,
]
# A value that may be, or contain, credential references (mark its field ``SECRET_NAMES``).
SecretOrValue = Annotated[
    Any,
    PlainValidator(_parse_secret_or_value),
    PlainSerializer(_dump_secret),
    WithJsonSchema(_SECRET_OR_VALUE_SCHEMA),
]


def secret_names_schema() -> dict[str, Any]:
    """``json_schema_extra`` of a ``SECRET_NAMES`` field: tells the canvas which names hold secrets."""
    return {"x-secret-names": _SECRET_WORDS.pattern}


def is_secret_name(name: str) -> bool:
    """Whether a header, parameter, body field or input of this name carries a credential."""
    return bool(_SECRET_WORDS.search(_CAMEL_HUMP.sub(r"\1_\2", name)))


def secret_kind(name: str) -> str:
    """What kind of credential a slot of this name holds: token, password, api_key or secret."""
    lowered = _CAMEL_HUMP.sub(r"\1_\2", name).lower()
    if "pass" in lowered:
        return "password"
    if re.search(r"key$", lowered):
        return "api_key"
    if re.search(r"token$|authorization$", lowered):
        return "token"
    return "secret"


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def looks_masked(text: str) -> bool:
    """Whether a client sent back a masked secret it was shown rather than a secret."""
    return bool(_MASKED.match(text.strip()))


@dataclasses.dataclass(frozen=True)
class SecretSlot:
    """One place in a node's ``data`` that holds a secret, and what it holds now."""

    path: tuple[str | int, ...]  # under ``data``: ("auth", "token"), ("headers", "Authorization")
    value: Any  # "" / text / a template, or a CredentialRef
    kind: str  # what the credential is (``secret_kind``)

    @property
    def field(self) -> str:
        """Where it is, as problems and errors name fields: ``data.auth.token``."""
        return ".".join(["data", *(str(part) for part in self.path)])

    @property
    def credential_id(self) -> str | None:
        return self.value.credential if isinstance(self.value, CredentialRef) else None

    @property
    def inline(self) -> str | None:
        """The raw secret typed into the slot: text that is neither empty nor a template."""
        if isinstance(self.value, str) and self.value.strip() and not is_template(self.value):
            return self.value
        return None


def secret_slots(config: BaseModel) -> list[SecretSlot]:
    """Every secret slot of a validated node config: its ``Secret`` fields (set or not), and in its
    ``SECRET_NAMES`` fields every credential reference and every secret-named text, at any depth."""
    slots: list[SecretSlot] = []
    _walk_model(config, (), slots)
    return slots


def _walk_model(model: BaseModel, path: tuple[str | int, ...], slots: list[SecretSlot]) -> None:
    if isinstance(model, CredentialRef):
        return
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        here = (*path, name)
        if SECRET in info.metadata:
            slots.append(SecretSlot(here, value, secret_kind(name)))
        elif SECRET_NAMES in info.metadata:
            _walk_named(value, here, "", slots)
        else:
            _walk_value(value, here, slots)


def _walk_named(value: Any, path: tuple[str | int, ...], name: str, slots: list[SecretSlot]) -> None:
    if isinstance(value, CredentialRef) or (isinstance(value, str) and is_secret_name(name)):
        slots.append(SecretSlot(path, value, secret_kind(name)))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _walk_named(item, (*path, key), str(key), slots)
    elif isinstance(value, list):
        for index, item in enumerate(value):  # a list's items go by the list's name
            _walk_named(item, (*path, index), name, slots)


def _walk_value(value: Any, path: tuple[str | int, ...], slots: list[SecretSlot]) -> None:
    if isinstance(value, BaseModel):
        _walk_model(value, path, slots)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _walk_value(item, (*path, key), slots)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk_value(item, (*path, index), slots)


# --- at run time ----------------------------------------------------------------------------------


async def reveal(value: Any, ctx: NodeContext) -> Any:
    """What a node sends for a secret-capable value: each credential decrypted by the host's store,
    the rest resolved as usual (templates rendered, ``{"ref": [...]}`` looked up). Never put the
    result in a trace: show ``masked(value, result)`` instead."""
    if isinstance(value, CredentialRef):
        store = ctx.services.credentials
        if store is None:
            raise node_error("not_configured", gettext_noop("Credentials are not available in this run."))
        return await store.reveal(value.credential)
    if isinstance(value, dict):
        return {key: await reveal(item, ctx) for key, item in value.items()}
    if isinstance(value, list):
        return [await reveal(item, ctx) for item in value]
    return ctx.resolve(value)


def masked(configured: Any, sent: Any, name: str = "") -> Any:
    """What a trace shows of a value a node sent (``sent = reveal(configured)``): what came from a
    credential, and every text under a secret name, as ``MASK``."""
    if isinstance(configured, CredentialRef) or (isinstance(sent, str) and name and is_secret_name(name)):
        return MASK
    if isinstance(configured, Mapping) and isinstance(sent, Mapping):
        return {key: masked(configured.get(key), item, str(key)) for key, item in sent.items()}
    if isinstance(configured, list) and isinstance(sent, list) and len(configured) == len(sent):
        return [masked(inner, item, name) for inner, item in zip(configured, sent, strict=True)]
    return sent
