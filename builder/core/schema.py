"""The API schema's error responses, documented for every operation from here.

Every error has one shape (``builder/core/exception_handler.py``), the ``Error`` component. Which
statuses an operation can answer mostly follows from how its view is built, so it is derived:

- 401: the view authenticates (a wrong, expired or revoked API key) or requires a signed-in actor.
- 403: it requires one: roles and bot-scoped keys are checked by the services, and session
  clients need a CSRF token on writes.
- 404: a path parameter names something (outsiders get 404, not 403), or the list is paginated
  (a page past the end).
- 400: it reads a request body or query parameters.
- 415: it parses a request body and no parser takes any media type.
- 429: it is throttled.

What only the services know (a stale revision, a duplicate name, a file over the limit) is listed
per view in ``SERVICE_ERRORS``. A plain Django view described by an APIView (see
``documented_by``) states its statuses itself in ``error_statuses``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.drainage import has_override
from drf_spectacular.plumbing import ComponentRegistry
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Any JSON value but null. drf-spectacular writes a JSONField as {} (anything, null included), while
# DRF refuses null unless the field allows it: a request schema must say so.
ANY_BUT_NULL: dict[str, Any] = {
    "anyOf": [
        {"type": "object", "additionalProperties": {}},
        {"type": "array", "items": {}},
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
    ]
}

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: `fields` names each invalid field (or query parameter) and why.",
    401: "No credentials, or an API key that is wrong, expired or revoked.",
    403: "The actor may not do this (role, an API key limited to another bot), or a session client "
    "sent no CSRF token.",
    404: "Not found, or not visible to the actor.",
    409: "Conflicts with the current state: `code` says which (e.g. stale_revision, not_published).",
    413: "The upload is over the size limit.",
    415: "The request's Content-Type is not one the operation accepts.",
    429: "Too many requests: wait and try again.",
}

# Statuses the services raise that the view's shape does not show: "module.View.method" → statuses.
# tests/core/test_api_schema.py checks every entry names a view method that exists.
SERVICE_ERRORS: dict[str, tuple[int, ...]] = {
    # Signing in with a wrong password is a 401 from a view that authenticates nobody.
    "builder.accounts.apis.LoginApi.post": (401,),
    # An invitation is found by its token, not its path.
    "builder.accounts.apis.InvitationAcceptApi.post": (404, 409),
    # accounts: a workspace keeps an owner; an invitation is pending once; a member is invited once.
    "builder.accounts.apis.MemberDetailApi.patch": (409,),
    "builder.accounts.apis.MemberDetailApi.delete": (409,),
    "builder.accounts.apis.InvitationListApi.post": (409,),
    "builder.accounts.apis.InvitationDetailApi.delete": (409,),
    # bots: optimistic locking of the draft; import size limit.
    "builder.bots.apis.BotDraftApi.put": (409,),
    "builder.bots.apis.BotRestoreApi.post": (409,),
    "builder.bots.apis.BotImportApi.post": (413,),
    # conversations: unpublished bots, a run still answering, a run already over or not paused.
    "builder.conversations.apis.ConversationCreateApi.post": (409,),
    "builder.conversations.apis.RunCancelApi.post": (409,),
    "builder.conversations.apis.RunAnswerApi.post": (409,),
    # knowledge: duplicate names; chunks of a document being indexed; upload size limit.
    "builder.knowledge.apis.KnowledgeBaseListApi.post": (409,),
    "builder.knowledge.apis.KnowledgeBaseDetailApi.patch": (409,),
    "builder.knowledge.apis.ChunkDetailApi.patch": (409,),
    "builder.knowledge.apis.DocumentListApi.post": (413,),
    # pluginhost: a plugin is enabled once its settings are complete.
    "builder.pluginhost.apis.PluginEnableApi.post": (400,),
}


class ErrorBodyOut(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable, for programs: invalid, not_found, stale_revision…")
    message = serializers.CharField(help_text="For people, in the request's language.")
    # DRF pops declared fields off the class, so this name does not shadow Serializer.fields at run time.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text='Field (or query parameter) → reasons, e.g. {"graph.nodes.0.id": ["…"]}; empty when none.',
    )

    class Meta:
        ref_name = "ErrorBody"


class ErrorOut(serializers.Serializer[Any]):
    """Every error answer: ``{"error": {"code", "message", "fields"}}`` (some codes add keys)."""

    error = ErrorBodyOut()

    class Meta:
        ref_name = "Error"


def documented_by(api_class: type[APIView]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Describe a plain Django view (an async streaming one, say) in the schema by an APIView.

    The schema generator takes a URL's view for an API view when it carries ``cls``, as
    ``APIView.as_view()`` leaves it; ``api_class`` is only read by the schema, never served.
    """

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.cls = api_class  # type: ignore[attr-defined]
        view.initkwargs = {}  # type: ignore[attr-defined]
        return view

    return mark


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema plus each operation's error responses (module docstring)."""

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: ComponentRegistry
    ) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses: dict[str, Any] = operation["responses"]
        for status in sorted(self.error_statuses(operation)):
            declared = responses.get(str(status), {})
            if "content" in declared:
                continue  # the view documents this error's body itself
            response = self._get_response_for_code(ErrorOut, str(status), media_types=["application/json"])
            response["description"] = declared.get("description") or ERROR_DESCRIPTIONS[status]
            responses[str(status)] = response
        return operation

    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        json_field = isinstance(field, serializers.JSONField) and not has_override(field, "field")
        if json_field and direction == "request" and not field.allow_null:
            return {**ANY_BUT_NULL, **schema}
        return schema

    def error_statuses(self, operation: dict[str, Any]) -> set[int]:
        declared = getattr(self.view, "error_statuses", None)
        if declared is not None:
            return set(declared)
        statuses = {int(code) for code in operation["responses"] if code in {str(s) for s in ERROR_DESCRIPTIONS}}
        authenticators = self.view.get_authenticators()
        if authenticators:
            statuses.add(401)
        if any(not isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            statuses |= {401, 403}
        if self.method not in SAFE_METHODS and any(isinstance(a, SessionAuthentication) for a in authenticators):
            statuses.add(403)
        parameters = operation.get("parameters", [])
        paginated = self.method == "GET" and self._is_list_view() and self._get_paginator() is not None
        if paginated or any(parameter["in"] == "path" for parameter in parameters):
            statuses.add(404)
        if "requestBody" in operation or any(parameter["in"] == "query" for parameter in parameters):
            statuses.add(400)
        if "requestBody" in operation and not any(p.media_type == "*/*" for p in self.view.get_parsers()):
            statuses.add(415)
        if self.view.get_throttles():
            statuses.add(429)
        statuses.update(SERVICE_ERRORS.get(self._view_method_name(), ()))
        return statuses

    def _view_method_name(self) -> str:
        view_class = type(self.view)
        return f"{view_class.__module__}.{view_class.__qualname__}.{self.method.lower()}"
