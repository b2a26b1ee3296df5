"""How a source authenticates its calls: an API key (header or query), a bearer token, or OAuth2
client credentials, chosen in the settings or (``auto``) from the spec's ``securitySchemes``.

OAuth2 access tokens are fetched from the token URL (the settings', else the spec's
``clientCredentials`` flow's), kept in this process until shortly before they expire, and fetched
again once when the API answers 401 (a token revoked or expired early).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import quote, urljoin

from builder.engine.i18n import gettext_noop
from builder.sdk import PluginContext, ToolError
from builder.sdk.errors import MISSING_CREDENTIALS
from plugins.openapi.settings import Source
from plugins.openapi.spec import Spec

EXPIRY_MARGIN_S: Final = 30.0
DEFAULT_TOKEN_LIFETIME_S: Final = 3600.0
MAX_TOKENS: Final = 1000
UNAUTHORIZED: Final = "unauthorized"


class AuthSettingsError(ValueError):
    """The source's auth settings cannot work with its spec; the message says what to set."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AuthPlan:
    kind: Literal["none", "api_key", "bearer", "oauth2"]
    key_name: str = ""
    key_in: Literal["header", "query"] = "header"
    token_url: str = ""
    scopes: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "api_key":
            return f"API key in the {self.key_in} {self.key_name}"
        if self.kind == "bearer":
            return "bearer token"
        if self.kind == "oauth2":
            return "OAuth2 client credentials"
        return "no authentication"


def _schemes(spec: Spec) -> dict[str, dict[str, Any]]:
    raw = (spec.document.get("components") or {}).get("securitySchemes") or {}
    schemes = {name: spec.follow(scheme) for name, scheme in raw.items()}
    return {name: scheme for name, scheme in schemes.items() if isinstance(scheme, dict)}


def _client_credentials_url(spec: Spec, scheme: dict[str, Any]) -> str:
    flow = (scheme.get("flows") or {}).get("clientCredentials")
    return str(flow.get("tokenUrl", "")) if isinstance(flow, dict) else ""


def _plan_for(spec: Spec, scheme: dict[str, Any]) -> AuthPlan | None:
    kind = scheme.get("type")
    if kind == "apiKey" and scheme.get("in") in ("header", "query") and scheme.get("name"):
        return AuthPlan(kind="api_key", key_name=str(scheme["name"]), key_in=scheme["in"])
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
        return AuthPlan(kind="bearer")
    if kind == "oauth2" and _client_credentials_url(spec, scheme):
        return AuthPlan(kind="oauth2", token_url=_client_credentials_url(spec, scheme))
    return None


def auth_plan(spec: Spec, source: Source, base_url: str = "") -> AuthPlan:
    """The source's plan; ``AuthSettingsError`` when a needed detail is neither set nor in the spec."""
    schemes = _schemes(spec)
    if source.auth == "none":
        return AuthPlan(kind="none")
    if source.auth == "bearer":
        return AuthPlan(kind="bearer")
    if source.auth == "api_key":
        declared = next((s for s in schemes.values() if s.get("type") == "apiKey"), {})
        name = source.api_key_name or str(declared.get("name") or "")
        if not name:
            raise AuthSettingsError("api_key_name", "The spec declares no API key: give the API key's name.")
        where = source.api_key_in or (declared.get("in") if declared.get("in") in ("header", "query") else "header")
        return AuthPlan(kind="api_key", key_name=name, key_in=where)  # type: ignore[arg-type]
    if source.auth == "oauth2_client_credentials":
        declared_url = next((url for s in schemes.values() if (url := _client_credentials_url(spec, s))), "")
        token_url = source.token_url or declared_url
        if not token_url:
            raise AuthSettingsError("token_url", "The spec declares no client-credentials flow: give the token URL.")
        return AuthPlan(kind="oauth2", token_url=_absolute(token_url, base_url or spec.url), scopes=source.scope_list)
    # auto: the first scheme the API asks for (its global security first) that this plugin can use.
    required = [name for requirement in spec.document.get("security") or [] for name in requirement]
    for name in [*required, *schemes]:
        plan = _plan_for(spec, schemes[name]) if name in schemes else None
        if plan is not None:
            if plan.kind == "oauth2":
                token_url = _absolute(source.token_url or plan.token_url, base_url or spec.url)
                return AuthPlan(kind="oauth2", token_url=token_url, scopes=source.scope_list)
            return plan
    return AuthPlan(kind="none")


# What a source lacks: one whole sentence per credential, so that each translates as a whole.
_MISSING_KEY: Final = {
    "header": gettext_noop(
        "The %(source)s API needs its API key in the header %(key)s: an administrator of the workspace "
        "sets it in the OpenAPI plugin's settings."
    ),
    "query": gettext_noop(
        "The %(source)s API needs its API key in the query %(key)s: an administrator of the workspace "
        "sets it in the OpenAPI plugin's settings."
    ),
}
_MISSING_TOKEN: Final = gettext_noop(
    "The %(source)s API needs its bearer token: an administrator of the workspace sets it in the "
    "OpenAPI plugin's settings."
)
_MISSING_CLIENT_SECRET: Final = gettext_noop(
    "The %(source)s API needs its OAuth2 client credentials: an administrator of the workspace sets it "
    "in the OpenAPI plugin's settings."
)
_MISSING_CLIENT_ID: Final = gettext_noop(
    "The %(source)s API needs its OAuth2 client id: an administrator of the workspace sets it in the "
    "OpenAPI plugin's settings."
)


def _missing_secret(source: Source, plan: AuthPlan) -> ToolError:
    if plan.kind == "api_key":
        return _missing(source, "secret", _MISSING_KEY[plan.key_in], key=plan.key_name)
    return _missing(source, "secret", _MISSING_TOKEN if plan.kind == "bearer" else _MISSING_CLIENT_SECRET)


def _missing(source: Source, field: str, template: str, **params: Any) -> ToolError:
    return ToolError.from_template(
        MISSING_CREDENTIALS,
        template,
        details={"field": f"sources[{source.name}].{field}"},
        source=source.name,
        **params,
    )


def _absolute(url: str, base: str) -> str:
    return urljoin(base, url) if base and "://" not in url else url


async def authenticate(
    plan: AuthPlan,
    source: Source,
    ctx: PluginContext,
    headers: dict[str, str],
    query: list[tuple[str, str]],
    *,
    fresh_token: bool = False,
) -> None:
    """Add the source's credentials to a request being built. With ``auto``, a source without a
    secret calls the API without credentials (a public API); otherwise a missing secret is a
    ``missing_credentials`` error."""
    if plan.kind == "none":
        return
    if not source.secret:
        if source.auth == "auto":
            return
        raise _missing_secret(source, plan)
    if plan.kind == "api_key":
        if plan.key_in == "query":
            query.append((plan.key_name, source.secret))
        else:
            headers[plan.key_name] = source.secret
    elif plan.kind == "bearer":
        headers["Authorization"] = f"Bearer {source.secret}"
    else:
        headers["Authorization"] = f"Bearer {await access_token(plan, source, ctx, fresh=fresh_token)}"


_tokens: OrderedDict[str, tuple[str, float]] = OrderedDict()
# Token cache keys cover the client secret: keyed with a per-process random key, they reveal nothing.
_cache_key = secrets.token_bytes(32)


def _token_key(plan: AuthPlan, source: Source) -> str:
    material = json.dumps([plan.token_url, source.client_id, source.secret, plan.scopes, source.client_auth])
    return hmac.new(_cache_key, material.encode(), hashlib.sha256).hexdigest()


def forget_tokens() -> None:
    _tokens.clear()


async def access_token(plan: AuthPlan, source: Source, ctx: PluginContext, *, fresh: bool = False) -> str:
    """An OAuth2 access token for the source's client (cached until shortly before it expires)."""
    key = _token_key(plan, source)
    cached = _tokens.get(key)
    if cached is not None and not fresh and cached[1] > time.monotonic():
        return cached[0]
    if not source.client_id:
        raise _missing(source, "client_id", _MISSING_CLIENT_ID)
    form = {"grant_type": "client_credentials"}
    if plan.scopes:
        form["scope"] = " ".join(plan.scopes)
    headers = {"Accept": "application/json"}
    if source.client_auth == "basic":  # RFC 6749 §2.3.1: both parts form-encoded, then Basic
        pair = f"{quote(source.client_id, safe='')}:{quote(source.secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form.update(client_id=source.client_id, client_secret=source.secret)
    response = await ctx.http.request(
        "POST", plan.token_url, data=form, headers=headers, timeout_s=min(source.timeout_s, 30.0)
    )
    try:
        body = json.loads(response.body) if response.body.strip() else {}
    except json.JSONDecodeError:
        body = {}
    token = body.get("access_token") if isinstance(body, dict) else None
    if response.status_code != 200 or not isinstance(token, str) or not token:
        reason = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
        if reason:  # the token endpoint's own words
            raise ToolError.from_template(
                UNAUTHORIZED,
                gettext_noop(
                    "The token endpoint of %(source)s refused the client credentials (%(status)s: %(reason)s)."
                ),
                source=source.name,
                status=response.status_code,
                reason=str(reason)[:200],
            )
        raise ToolError.from_template(
            UNAUTHORIZED,
            gettext_noop("The token endpoint of %(source)s refused the client credentials (%(status)s)."),
            source=source.name,
            status=response.status_code,
        )
    lifetime = body.get("expires_in")
    seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else DEFAULT_TOKEN_LIFETIME_S
    _tokens[key] = (token, time.monotonic() + max(seconds - EXPIRY_MARGIN_S, 0.0))
    _tokens.move_to_end(key)
    while len(_tokens) > MAX_TOKENS:
        _tokens.popitem(last=False)
    return token
