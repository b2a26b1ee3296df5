"""The Agentloom plugin SDK: everything a plugin author imports (docs/plugins.md).

No Django here (an import-linter contract checks it): a plugin is plain Python that the host
loads through the ``agentloom.plugins`` entry points, and its tests run without a server
(``builder.sdk.testing``).

    from builder.sdk import PluginContext, ToolError, ToolSpec, hookimpl
"""

from builder.sdk.context import (
    CredentialCheck,
    HttpClient,
    HttpResponse,
    PluginContext,
    ProgressReporter,
    UrlVetting,
)
from builder.sdk.errors import ToolError
from builder.sdk.execution import run_tool
from builder.sdk.jobs import JobCallback, JobFile, JobStatus
from builder.sdk.langchain import from_langchain_tool, to_langchain_tool
from builder.sdk.markers import ENTRY_POINT_GROUP, PROJECT_NAME, SDK_VERSION, hookimpl, hookspec
from builder.sdk.providers import ModelProviderSpec, ProviderSettings
from builder.sdk.routes import WebhookRequest, WebhookResponse, WebhookRoute
from builder.sdk.tools import JobHandle, ToolSpec
from builder.sdk.toolsets import ListedTools, ToolSet, json_schema_model, source_problems, unique_tool_name

__all__ = [
    "ENTRY_POINT_GROUP",
    "PROJECT_NAME",
    "SDK_VERSION",
    "CredentialCheck",
    "HttpClient",
    "HttpResponse",
    "JobCallback",
    "JobFile",
    "JobHandle",
    "JobStatus",
    "ListedTools",
    "ModelProviderSpec",
    "PluginContext",
    "ProgressReporter",
    "ProviderSettings",
    "ToolError",
    "ToolSet",
    "ToolSpec",
    "UrlVetting",
    "WebhookRequest",
    "WebhookResponse",
    "WebhookRoute",
    "from_langchain_tool",
    "hookimpl",
    "hookspec",
    "json_schema_model",
    "run_tool",
    "source_problems",
    "to_langchain_tool",
    "unique_tool_name",
]
