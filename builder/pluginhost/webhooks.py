"""Serving plugins' webhook routes (``register_routes``): ``/api/v1/plugins/<id>/webhooks/<path>``.

A plain async Django view, not DRF: the caller is another service with no Agentloom credentials,
so there is no authentication or CSRF here. Each handler verifies its caller (a signature, a
token in the path) before trusting the body; the route exists only while its plugin is loaded.
The jobs a handler reports (``WebhookResponse.job_updates``) are updated before it is answered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from builder.core.exception_handler import error_body
from builder.pluginhost.jobs import job_report
from builder.pluginhost.manager import get_host
from builder.sdk.jobs import JobCallback
from builder.sdk.routes import WebhookRequest, WebhookResponse

logger = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_S: Final = 30.0


def _failed() -> JsonResponse:
    return JsonResponse(error_body("plugin_error", _("The plugin could not handle this request.")), status=500)


@csrf_exempt
async def plugin_webhook(request: HttpRequest, plugin_id: str, path: str) -> HttpResponse:
    route = get_host().route(plugin_id, path)
    if route is None:
        return JsonResponse(error_body("not_found", _("Not found.")), status=404)
    method = (request.method or "GET").upper()
    if method not in route.methods:
        response = JsonResponse(error_body("method_not_allowed", _("Method not allowed.")), status=405)
        response["Allow"] = ", ".join(sorted(route.methods))
        return response
    incoming = WebhookRequest(
        method=method,
        path=path,
        headers={name.lower(): value for name, value in request.headers.items()},
        query={name: request.GET[name] for name in request.GET},
        body=request.body,
    )
    try:
        async with asyncio.timeout(WEBHOOK_TIMEOUT_S):
            answer = await route.handler(incoming)
    except Exception:
        logger.exception("the webhook %s of the plugin %s raised", path, plugin_id)
        return _failed()
    if not isinstance(answer, WebhookResponse):
        logger.error("the webhook %s of the plugin %s returned %s", path, plugin_id, type(answer).__name__)
        return _failed()
    if answer.job_updates:
        updates = list(answer.job_updates)
        if not all(isinstance(update, JobCallback) for update in updates):
            logger.error(
                "the webhook %s of the plugin %s reported job updates that are not JobCallback", path, plugin_id
            )
            return _failed()
        try:
            await job_report(plugin_id=plugin_id, updates=updates)
        except Exception:  # the provider may call again; a 500 tells it to
            logger.exception(
                "the jobs reported by the webhook %s of the plugin %s could not be updated", path, plugin_id
            )
            return _failed()
    reply: HttpResponse
    if answer.json is None:
        reply = HttpResponse(status=answer.status)
    else:
        reply = JsonResponse(answer.json, status=answer.status, safe=False)
    for name, value in answer.headers.items():
        reply[name] = value
    return reply
