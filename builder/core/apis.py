"""HTTP interface of the core app."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.core.health import (
    CHECK_STATUSES,
    OVERALL_STATUSES,
    RUN_MODES,
    WORKER_MODES,
    HealthReport,
    health_report,
)


class DatabaseCheckOut(serializers.Serializer[object]):
    status = serializers.ChoiceField(choices=CHECK_STATUSES)
    latency_ms = serializers.FloatField()
    vendor = serializers.CharField(help_text="postgresql or sqlite.")
    error = serializers.CharField(allow_null=True)


class ChannelLayerCheckOut(serializers.Serializer[object]):
    status = serializers.ChoiceField(choices=CHECK_STATUSES)
    latency_ms = serializers.FloatField()
    backend = serializers.CharField(help_text="RedisChannelLayer or LocalChannelLayer (in-process).")
    error = serializers.CharField(allow_null=True)


class ProbeTaskOut(serializers.Serializer[object]):
    status = serializers.ChoiceField(choices=CHECK_STATUSES)
    latency_ms = serializers.FloatField()
    task_id = serializers.CharField()
    error = serializers.CharField(allow_null=True)


class WorkerCheckOut(serializers.Serializer[object]):
    status = serializers.ChoiceField(choices=CHECK_STATUSES)
    mode = serializers.ChoiceField(
        choices=WORKER_MODES,
        help_text="inline: no broker, background work runs in the web process (the embedded default).",
    )
    latency_ms = serializers.FloatField()
    workers = serializers.ListField(child=serializers.CharField(), help_text="Celery workers that answered a ping.")
    probe = ProbeTaskOut(allow_null=True, help_text="A real task sent through the broker and back.")
    error = serializers.CharField(allow_null=True)


class SandboxCheckOut(serializers.Serializer[object]):
    status = serializers.ChoiceField(choices=CHECK_STATUSES)
    isolation = serializers.CharField(help_text="How code nodes are isolated here, e.g. mount+network+pid.")
    error = serializers.CharField(allow_null=True)


class HealthChecksOut(serializers.Serializer[HealthReport]):
    database = DatabaseCheckOut()
    channel_layer = ChannelLayerCheckOut()
    worker = WorkerCheckOut()
    sandbox = SandboxCheckOut()


class HealthOut(serializers.Serializer[HealthReport]):
    status = serializers.ChoiceField(
        choices=OVERALL_STATUSES,
        help_text="down (HTTP 503): the database fails. degraded: realtime or background work fails.",
    )
    mode = serializers.ChoiceField(choices=RUN_MODES)
    checks = HealthChecksOut(source="*")


class HealthApi(APIView):
    """Readiness of this process and the services it needs, for load balancers and operators.

    No authentication (so no session or API-key lookup): it must answer while the database is down.
    """

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        operation_id="health",
        summary="Check the database, the channel layer and the workers",
        tags=["health"],
        responses={200: HealthOut, 503: HealthOut},
    )
    def get(self, request: Request) -> Response:
        report = health_report()
        http_status = status.HTTP_503_SERVICE_UNAVAILABLE if report.status == "down" else status.HTTP_200_OK
        # A cached "ok" would hide an outage.
        return Response(HealthOut(report).data, status=http_status, headers={"Cache-Control": "no-store"})
