"""The DSL contract for the canvas: the graph's JSON Schema and the node-type catalogue."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.engine.schema import graph_json_schema, node_types_catalog
from builder.pluginhost.node_types import ensure_loaded

# The engine marks these English texts with gettext_noop; the request's language is applied here.
TRANSLATED_CATALOG_KEYS = ("title", "description", "handles")


def translated_catalog() -> list[dict[str, Any]]:
    ensure_loaded()  # plugins' node types are in the catalogue
    return [
        {key: _(value) if key in TRANSLATED_CATALOG_KEYS and value else value for key, value in entry.items()}
        for entry in node_types_catalog()
    ]


class DslSchemaApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="JSON Schema of a bot graph document")
    def get(self, request: Request) -> Response:
        ensure_loaded()  # plugins' node types are in the schema
        return Response(graph_json_schema())


class NodeTypesApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="Every node type with its config schema")
    def get(self, request: Request) -> Response:
        return Response({"results": translated_catalog()})
