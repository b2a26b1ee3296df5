from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from builder.core.apis import HealthApi
from builder.core.dsl_apis import DslSchemaApi, NodeTypesApi
from builder.pluginhost.job_files import FILES_ROOT
from builder.pluginhost.media import job_file

api_v1: list[URLPattern | URLResolver] = [
    path("health", HealthApi.as_view(), name="health"),
    path("dsl/schema", DslSchemaApi.as_view(), name="dsl-schema"),
    path("dsl/node-types", NodeTypesApi.as_view(), name="dsl-node-types"),
    path("", include("builder.accounts.urls")),
    path("", include("builder.bots.urls")),
    path("", include("builder.llm.urls")),
    path("", include("builder.conversations.urls")),
    path("", include("builder.pluginhost.urls")),
    path("", include("builder.memory.urls")),
    path("", include("builder.knowledge.urls")),
    path("", include("builder.credentials.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

if settings.SERVE_PLUGIN_JOB_FILES:
    # The files plugin jobs produced (a rendered video), in any mode: builder/pluginhost/media.py.
    urlpatterns.append(
        path(f"{settings.MEDIA_URL.strip('/')}/{FILES_ROOT}/<path:path>", job_file, name="plugin-job-file")
    )

handler404 = "builder.core.exception_handler.json_not_found"
handler500 = "builder.core.exception_handler.json_server_error"
