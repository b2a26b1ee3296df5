"""Thin views over knowledge services and selectors: knowledge bases, documents, chunks, hit testing.

Indexing runs in the background; the builder watches it on ``ws/knowledge/<kb id>/``
(``builder.realtime.consumers.KnowledgeConsumer``) or by reading the document again.
"""

from __future__ import annotations

from typing import Any, get_args

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.accounts import selectors as account_selectors
from builder.accounts.authentication import request_actor
from builder.core.api_views import validated
from builder.engine.nodes.knowledge_retrieval import KnowledgeRetrievalConfig
from builder.knowledge import selectors, services
from builder.knowledge.messages import document_failure
from builder.knowledge.models import Chunk, Document, KnowledgeBase
from builder.knowledge.selectors import status_count_name


def _node_limit(field: str, bound: str) -> Any:
    """A limit of the knowledge_retrieval node's settings: hit testing accepts what the node accepts."""
    for constraint in KnowledgeRetrievalConfig.model_fields[field].metadata:
        if hasattr(constraint, bound):
            return getattr(constraint, bound)
    raise LookupError(f"{field} has no {bound} bound")


# --- serializers -------------------------------------------------------------------------------
class DocumentCountsOut(serializers.Serializer[Any]):
    """How many documents of the knowledge base are in each status."""

    queued = serializers.IntegerField(source=status_count_name(Document.Status.QUEUED))
    parsing = serializers.IntegerField(source=status_count_name(Document.Status.PARSING))
    chunking = serializers.IntegerField(source=status_count_name(Document.Status.CHUNKING))
    embedding = serializers.IntegerField(source=status_count_name(Document.Status.EMBEDDING))
    ready = serializers.IntegerField(source=status_count_name(Document.Status.READY))
    failed = serializers.IntegerField(source=status_count_name(Document.Status.FAILED))


class KnowledgeBaseOut(serializers.ModelSerializer[KnowledgeBase]):
    document_count = serializers.IntegerField()
    documents_by_status = DocumentCountsOut(source="*")

    class Meta:
        model = KnowledgeBase
        fields = [
            "id",
            "workspace",
            "name",
            "description",
            "index_mode",
            "chunking",
            "embedding",
            "document_count",
            "documents_by_status",
            "created_at",
            "updated_at",
        ]


class KnowledgeBaseCreateIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    index_mode = serializers.ChoiceField(choices=KnowledgeBase.IndexMode.choices, default="economical")
    chunking = serializers.DictField(
        required=False,
        default=None,
        help_text='{"mode": "general", "chunk_size", "chunk_overlap", "separators"} or {"mode": "parent_child", …}.',
    )
    embedding = serializers.DictField(
        required=False,
        default=None,
        help_text='High quality: {"kind": "local"} (default) or {"provider": <model provider id>, "model": "…"}.',
    )


class KnowledgeBaseUpdateIn(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    chunking = serializers.DictField(required=False, help_text="Applies to documents indexed from now on.")
    index_mode = serializers.ChoiceField(
        required=False, choices=KnowledgeBase.IndexMode.choices, help_text="Fixed once there are documents."
    )
    embedding = serializers.DictField(required=False, help_text="Fixed once there are documents.")


class DocumentErrorOut(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable: empty_file, unsupported_type, corrupt_file, fetch_failed…")
    message = serializers.CharField(help_text="In the request's language.")


class DocumentOut(serializers.ModelSerializer[Document]):
    error = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "knowledge_base",
            "name",
            "source",
            "url",
            "content_type",
            "size_bytes",
            "kind",
            "status",
            "progress",
            "error",
            "enabled",
            "chunk_count",
            "indexed_at",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(DocumentErrorOut(allow_null=True))
    def get_error(self, document: Document) -> dict[str, str] | None:
        return document_failure(document.error)


class DocumentUploadIn(serializers.Serializer[Any]):
    # Empty files are refused by the service, with the same reason as a failed ingestion gives.
    file = serializers.FileField(allow_empty_file=True)
    name = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="Default: the file's name."
    )


class DocumentUrlIn(serializers.Serializer[Any]):
    url = serializers.CharField(max_length=2000, help_text="An http(s) address; fetched by the server.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")


class DocumentUpdateIn(serializers.Serializer[Any]):
    enabled = serializers.BooleanField(help_text="A disabled document is kept but never answers a search.")


class ChunkOut(serializers.ModelSerializer[Chunk]):
    class Meta:
        model = Chunk
        fields = ["id", "document", "position", "text", "context", "metadata", "edited", "updated_at"]
        extra_kwargs = {"context": {"help_text": "Parent-child mode: the parent chunk a search returns."}}


class ChunkUpdateIn(serializers.Serializer[Any]):
    # Length and emptiness are the service's to judge (it strips the text first).
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)


class RetrieveIn(serializers.Serializer[Any]):
    query = serializers.CharField(max_length=2000)
    top_k = serializers.IntegerField(
        min_value=_node_limit("top_k", "ge"),
        max_value=_node_limit("top_k", "le"),
        default=KnowledgeRetrievalConfig.model_fields["top_k"].default,
    )
    score_threshold = serializers.FloatField(
        min_value=_node_limit("score_threshold", "ge"),
        max_value=_node_limit("score_threshold", "le"),
        required=False,
        allow_null=True,
        default=None,
        help_text="Drop hits scoring below it (in the mode's scale).",
    )
    mode = serializers.ChoiceField(
        choices=list(get_args(KnowledgeRetrievalConfig.model_fields["mode"].annotation)),
        default=KnowledgeRetrievalConfig.model_fields["mode"].default,
        help_text="An economical knowledge base is always searched by full text.",
    )


class HitOut(serializers.Serializer[Any]):
    content = serializers.CharField(help_text="The chunk's text (its parent's in parent-child mode).")
    score = serializers.FloatField()
    document_id = serializers.CharField()
    document_name = serializers.CharField()
    knowledge_base_id = serializers.CharField()
    chunk_id = serializers.CharField()
    metadata = serializers.DictField()


class RetrieveOut(serializers.Serializer[Any]):
    query = serializers.CharField()
    hits = HitOut(many=True)


# --- knowledge bases ---------------------------------------------------------------------------
def _knowledge_base_body(request: Request, knowledge_base_id: Any) -> dict[str, Any]:
    kb = selectors.knowledge_base_get(
        actor=request_actor(request), knowledge_base_id=knowledge_base_id, with_counts=True
    )
    return dict(KnowledgeBaseOut(kb).data)


class KnowledgeBaseListApi(generics.ListAPIView[KnowledgeBase]):
    # Only for the OpenAPI schema (filter fields); requests go through get_queryset and its selector.
    queryset = KnowledgeBase.objects.none()
    serializer_class = KnowledgeBaseOut
    filterset_fields = ["index_mode"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at", "document_count"]

    def get_queryset(self) -> QuerySet[KnowledgeBase]:
        actor = request_actor(self.request)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=self.kwargs["workspace_id"])
        return selectors.knowledge_base_list(actor=actor, workspace=workspace)

    @extend_schema(request=KnowledgeBaseCreateIn, responses={201: KnowledgeBaseOut})
    def post(self, request: Request, workspace_id: str) -> Response:
        actor = request_actor(request)
        data = validated(KnowledgeBaseCreateIn, request.data)
        workspace = account_selectors.workspace_get(actor=actor, workspace_id=workspace_id)
        kb = services.knowledge_base_create(actor=actor, workspace=workspace, **data)
        return Response(_knowledge_base_body(request, kb.pk), status=status.HTTP_201_CREATED)


class KnowledgeBaseDetailApi(APIView):
    @extend_schema(responses={200: KnowledgeBaseOut})
    def get(self, request: Request, knowledge_base_id: str) -> Response:
        return Response(_knowledge_base_body(request, knowledge_base_id))

    @extend_schema(
        request=KnowledgeBaseUpdateIn,
        responses={200: KnowledgeBaseOut},
        description="`index_mode` and `embedding` can change only while the knowledge base has no documents.",
    )
    def patch(self, request: Request, knowledge_base_id: str) -> Response:
        actor = request_actor(request)
        data = validated(KnowledgeBaseUpdateIn, request.data)
        kb = selectors.knowledge_base_get(actor=actor, knowledge_base_id=knowledge_base_id)
        services.knowledge_base_update(actor=actor, knowledge_base=kb, **data)
        return Response(_knowledge_base_body(request, kb.pk))

    @extend_schema(responses={204: None}, description="With its documents, chunks, files and index entries.")
    def delete(self, request: Request, knowledge_base_id: str) -> Response:
        actor = request_actor(request)
        kb = selectors.knowledge_base_get(actor=actor, knowledge_base_id=knowledge_base_id)
        services.knowledge_base_delete(actor=actor, knowledge_base=kb)
        return Response(status=status.HTTP_204_NO_CONTENT)


class KnowledgeRetrieveApi(APIView):
    @extend_schema(
        request=RetrieveIn,
        responses={200: RetrieveOut},
        summary="Hit testing",
        description="What a knowledge_retrieval node with these settings finds in this knowledge base.",
    )
    def post(self, request: Request, knowledge_base_id: str) -> Response:
        actor = request_actor(request)
        data = validated(RetrieveIn, request.data)
        kb = selectors.knowledge_base_get(actor=actor, knowledge_base_id=knowledge_base_id)
        hits = selectors.knowledge_base_retrieve(actor=actor, knowledge_base=kb, **data)
        return Response(RetrieveOut({"query": data["query"], "hits": hits}).data)


# --- documents ---------------------------------------------------------------------------------
class DocumentListApi(generics.ListAPIView[Document]):
    # Only for the OpenAPI schema (filter fields); requests go through get_queryset and its selector.
    queryset = Document.objects.none()
    serializer_class = DocumentOut
    parser_classes = [parsers.MultiPartParser]
    filterset_fields = ["status", "enabled", "source"]
    search_fields = ["name"]
    ordering_fields = ["name", "status", "created_at", "updated_at"]

    def get_queryset(self) -> QuerySet[Document]:
        actor = request_actor(self.request)
        kb = selectors.knowledge_base_get(actor=actor, knowledge_base_id=self.kwargs["knowledge_base_id"])
        return selectors.document_list(actor=actor, knowledge_base=kb)

    @extend_schema(
        request={"multipart/form-data": DocumentUploadIn},
        responses={201: DocumentOut, 413: OpenApiResponse(description="The file is over the upload limit.")},
        summary="Upload a document",
        description="Queued for indexing: follow its `status` here or on `ws/knowledge/<knowledge base id>/`.",
    )
    def post(self, request: Request, knowledge_base_id: str) -> Response:
        actor = request_actor(request)
        data = validated(DocumentUploadIn, request.data)
        kb = selectors.knowledge_base_get(actor=actor, knowledge_base_id=knowledge_base_id)
        upload = data["file"]
        document = services.document_upload(
            actor=actor,
            knowledge_base=kb,
            name=data.get("name") or upload.name or "",
            content=upload,
            content_type=upload.content_type or "",
        )
        return Response(DocumentOut(document).data, status=status.HTTP_201_CREATED)


class DocumentUrlApi(APIView):
    @extend_schema(request=DocumentUrlIn, responses={201: DocumentOut}, summary="Add a web page")
    def post(self, request: Request, knowledge_base_id: str) -> Response:
        actor = request_actor(request)
        data = validated(DocumentUrlIn, request.data)
        kb = selectors.knowledge_base_get(actor=actor, knowledge_base_id=knowledge_base_id)
        document = services.document_add_url(actor=actor, knowledge_base=kb, **data)
        return Response(DocumentOut(document).data, status=status.HTTP_201_CREATED)


class DocumentDetailApi(APIView):
    @extend_schema(responses={200: DocumentOut})
    def get(self, request: Request, document_id: str) -> Response:
        return Response(DocumentOut(selectors.document_get(actor=request_actor(request), document_id=document_id)).data)

    @extend_schema(request=DocumentUpdateIn, responses={200: DocumentOut}, summary="Enable or disable a document")
    def patch(self, request: Request, document_id: str) -> Response:
        actor = request_actor(request)
        data = validated(DocumentUpdateIn, request.data)
        document = selectors.document_get(actor=actor, document_id=document_id)
        document = services.document_set_enabled(actor=actor, document=document, enabled=data["enabled"])
        return Response(DocumentOut(document).data)

    @extend_schema(responses={204: None}, description="With its chunks, index entries and file.")
    def delete(self, request: Request, document_id: str) -> Response:
        actor = request_actor(request)
        services.document_delete(actor=actor, document=selectors.document_get(actor=actor, document_id=document_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentReindexApi(APIView):
    @extend_schema(request=None, responses={202: DocumentOut}, summary="Index the document again from its source")
    def post(self, request: Request, document_id: str) -> Response:
        actor = request_actor(request)
        document = selectors.document_get(actor=actor, document_id=document_id)
        document = services.document_reindex(actor=actor, document=document)
        return Response(DocumentOut(document).data, status=status.HTTP_202_ACCEPTED)


# --- chunks ------------------------------------------------------------------------------------
class ChunkListApi(generics.ListAPIView[Chunk]):
    # Only for the OpenAPI schema (filter fields); requests go through get_queryset and its selector.
    queryset = Chunk.objects.none()
    serializer_class = ChunkOut
    search_fields = ["text"]
    ordering_fields = ["position"]

    def get_queryset(self) -> QuerySet[Chunk]:
        actor = request_actor(self.request)
        document = selectors.document_get(actor=actor, document_id=self.kwargs["document_id"])
        return selectors.chunk_list(actor=actor, document=document)


class ChunkDetailApi(APIView):
    @extend_schema(
        request=ChunkUpdateIn,
        responses={200: ChunkOut},
        summary="Edit a chunk's text",
        description="Indexed again (with its vector) before the answer; 409 `not_ready` while the document is indexed.",
    )
    def patch(self, request: Request, chunk_id: str) -> Response:
        actor = request_actor(request)
        data = validated(ChunkUpdateIn, request.data)
        chunk = services.chunk_update(
            actor=actor, chunk=selectors.chunk_get(actor=actor, chunk_id=chunk_id), text=data["text"]
        )
        return Response(ChunkOut(chunk).data)
