from django.urls import path

from builder.knowledge import apis

urlpatterns = [
    path(
        "workspaces/<uuid:workspace_id>/knowledge-bases/",
        apis.KnowledgeBaseListApi.as_view(),
        name="knowledge-base-list",
    ),
    path(
        "knowledge-bases/<uuid:knowledge_base_id>/", apis.KnowledgeBaseDetailApi.as_view(), name="knowledge-base-detail"
    ),
    path(
        "knowledge-bases/<uuid:knowledge_base_id>/retrieve",
        apis.KnowledgeRetrieveApi.as_view(),
        name="knowledge-base-retrieve",
    ),
    path("knowledge-bases/<uuid:knowledge_base_id>/documents/", apis.DocumentListApi.as_view(), name="document-list"),
    path("knowledge-bases/<uuid:knowledge_base_id>/documents/url", apis.DocumentUrlApi.as_view(), name="document-url"),
    path("documents/<uuid:document_id>/", apis.DocumentDetailApi.as_view(), name="document-detail"),
    path("documents/<uuid:document_id>/reindex", apis.DocumentReindexApi.as_view(), name="document-reindex"),
    path("documents/<uuid:document_id>/chunks/", apis.ChunkListApi.as_view(), name="chunk-list"),
    path("chunks/<uuid:chunk_id>", apis.ChunkDetailApi.as_view(), name="chunk-detail"),
]
