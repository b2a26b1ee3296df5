"""The DSL contract for the canvas: the graph's JSON Schema and the node-type catalogue."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.engine.schema import graph_json_schema, node_types_catalog


class DslSchemaApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="JSON Schema of a bot graph document")
    def get(self, request: Request) -> Response:
        return Response(graph_json_schema())


class NodeTypesApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="Every node type with its config schema")
    def get(self, request: Request) -> Response:
        return Response({"results": node_types_catalog()})
