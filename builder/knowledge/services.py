"""Writes for knowledge bases, documents and chunks. Indexing itself is ``ingestion.py``'s."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import IO, Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from pydantic import ValidationError

from builder.accounts.models import Workspace
from builder.accounts.permissions import Actor, actor_user, check_workspace_permission
from builder.accounts.roles import Action
from builder.core.exceptions import Conflict, PayloadTooLarge, ValidationFailed
from builder.knowledge.dispatch import dispatch_ingestion
from builder.knowledge.embedders import embedder_for
from builder.knowledge.index_store import knowledge_index
from builder.knowledge.ingestion import index_chunk, publish_progress, upload_limits
from builder.knowledge.loading import DocumentError, check_size, parse_chunking_settings
from builder.knowledge.loading.detect import declared_kind
from builder.knowledge.messages import document_error_message
from builder.knowledge.models import Chunk, Document, KnowledgeBase

MAX_NAME = 100
MAX_CHUNK_CHARS = 20_000


def _check_edit(actor: Actor, kb: KnowledgeBase) -> None:
    check_workspace_permission(actor=actor, workspace=kb.workspace, action=Action.KNOWLEDGE_EDIT)


def _clean_chunking(chunking: Any) -> dict[str, Any]:
    try:
        cleaned: dict[str, Any] = parse_chunking_settings(chunking or {"mode": "general"}).model_dump(mode="json")
        return cleaned
    except ValidationError as error:
        fields = {".".join(["chunking", *(str(p) for p in item["loc"])]): [str(item["msg"])] for item in error.errors()}
        raise ValidationFailed(fields=fields) from None


def _clean_embedding(index_mode: str, embedding: Any) -> dict[str, Any]:
    if index_mode != KnowledgeBase.IndexMode.HIGH_QUALITY:
        return {}
    if embedding and not isinstance(embedding, Mapping):
        raise ValidationFailed(fields={"embedding": [_("An object is expected here.")]})
    spec: dict[str, Any] = dict(embedding or {"kind": "local"})
    if "provider" in spec and not str(spec.get("model") or "").strip():
        raise ValidationFailed(fields={"embedding.model": [_("Name the embedding model of this provider.")]})
    return spec


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise ValidationFailed(fields={"name": [_("Give the knowledge base a name of at most 100 characters.")]})
    return name


def _clean_index_mode(index_mode: str) -> str:
    if index_mode not in KnowledgeBase.IndexMode.values:
        raise ValidationFailed(fields={"index_mode": [_("Choose economical or high_quality.")]})
    return index_mode


def _prepare_space(kb: KnowledgeBase) -> None:
    if kb.index_mode == KnowledgeBase.IndexMode.ECONOMICAL:
        # High-quality spaces are made by the first ingestion, once the embedder's dimension is known.
        knowledge_index().create_space(str(kb.pk), dimension=None)


def _duplicate_name() -> Conflict:
    return Conflict(_("A knowledge base with this name already exists."), code="duplicate_name")


def knowledge_base_create(
    *,
    actor: Actor,
    workspace: Workspace,
    name: str,
    description: str = "",
    index_mode: str = KnowledgeBase.IndexMode.ECONOMICAL,
    chunking: Any = None,
    embedding: Any = None,
) -> KnowledgeBase:
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.KNOWLEDGE_EDIT)
    name = _clean_name(name)
    index_mode = _clean_index_mode(index_mode)
    try:
        with transaction.atomic():
            kb = KnowledgeBase.objects.create(
                workspace=workspace,
                name=name,
                description=description or "",
                index_mode=index_mode,
                chunking=_clean_chunking(chunking),
                embedding=_clean_embedding(index_mode, embedding),
                created_by=actor_user(actor),
            )
    except IntegrityError:
        raise _duplicate_name() from None
    _prepare_space(kb)
    return kb


def knowledge_base_update(
    *,
    actor: Actor,
    knowledge_base: KnowledgeBase,
    name: str | None = None,
    description: str | None = None,
    chunking: Any = None,
    index_mode: str | None = None,
    embedding: Any = None,
) -> KnowledgeBase:
    """Change what is given (``None``: unchanged). New chunking applies to documents indexed from
    now on (index a document again to re-chunk it). The index mode and the embedding model are
    fixed once the knowledge base has documents: their vectors could not be mixed or compared."""
    _check_edit(actor, knowledge_base)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _clean_name(name)
    if description is not None:
        changes["description"] = description
    if chunking is not None:
        changes["chunking"] = _clean_chunking(chunking)
    if index_mode is not None:
        _clean_index_mode(index_mode)
    try:
        with transaction.atomic():
            kb = KnowledgeBase.objects.select_for_update().get(pk=knowledge_base.pk)
            indexing = _indexing_changes(kb, index_mode, embedding)
            if indexing and kb.documents.exists():
                field = "index_mode" if "index_mode" in indexing else "embedding"
                message = _("This cannot change once the knowledge base has documents; create a new one instead.")
                raise ValidationFailed(fields={field: [message]})
            for attribute, value in (changes | indexing).items():
                setattr(kb, attribute, value)
            kb.save()
    except IntegrityError:
        raise _duplicate_name() from None
    if indexing:
        # It is empty, so nothing is lost: its space is made again for the new mode (economical),
        # or by the first ingestion once the new embedder's dimension is known (high quality).
        transaction.on_commit(lambda: _reset_space(kb))
    return kb


def _indexing_changes(kb: KnowledgeBase, index_mode: str | None, embedding: Any) -> dict[str, Any]:
    if index_mode is None and embedding is None:
        return {}
    mode = index_mode or kb.index_mode
    spec = _clean_embedding(mode, kb.embedding if embedding is None else embedding)
    return {
        attribute: value
        for attribute, value in (("index_mode", mode), ("embedding", spec))
        if value != getattr(kb, attribute)
    }


def _reset_space(kb: KnowledgeBase) -> None:
    knowledge_index().drop_space(str(kb.pk))
    _prepare_space(kb)


@transaction.atomic
def knowledge_base_delete(*, actor: Actor, knowledge_base: KnowledgeBase) -> None:
    """Delete it with its documents, chunks, files and index entries."""
    _check_edit(actor, knowledge_base)
    _forget_on_commit(KnowledgeBase.objects.filter(pk=knowledge_base.pk))
    knowledge_base.delete()


def workspace_knowledge_forget(*, workspace_id: Any) -> None:
    """Before a workspace's rows go: its knowledge bases' index entries and files, once committed."""
    _forget_on_commit(KnowledgeBase.objects.filter(workspace_id=workspace_id))


def _forget_on_commit(knowledge_bases: QuerySet[KnowledgeBase]) -> None:
    """The database drops the chunks with the rows; the index and the storage are told after the
    commit, so a rolled-back deletion loses nothing."""
    kb_ids = [str(pk) for pk in knowledge_bases.values_list("pk", flat=True)]
    files = list(
        Document.objects.filter(knowledge_base__in=knowledge_bases).exclude(file="").values_list("file", flat=True)
    )
    transaction.on_commit(lambda: _forget(kb_ids, files))


def _forget(kb_ids: list[str], files: list[str]) -> None:
    index = knowledge_index()
    for kb_id in kb_ids:
        index.drop_space(kb_id)
    for name in files:
        default_storage.delete(name)


def document_upload(
    *, actor: Actor, knowledge_base: KnowledgeBase, name: str, content: IO[bytes] | bytes, content_type: str = ""
) -> Document:
    """Keep the file and queue it for indexing. Size is checked before anything is read or stored."""
    _check_edit(actor, knowledge_base)
    size = len(content) if isinstance(content, bytes) else int(getattr(content, "size", 0) or 0)
    name = (name or "").strip()[:255] or _("Untitled document")
    try:
        check_size(size, upload_limits())
        # unsupported_type at once, as load_document would later; whether the content is what it
        # claims to be is the ingestion's to find out (it fails the document with the reason).
        declared_kind(name, content_type)
    except DocumentError as error:
        exc = PayloadTooLarge if error.code == "too_large" else ValidationFailed
        raise exc(fields={"file": [document_error_message(error)]}, code=str(error.code)) from None
    stored = default_storage.save(
        f"knowledge/{knowledge_base.pk}/{uuid.uuid4().hex}",
        ContentFile(content) if isinstance(content, bytes) else File(content),
    )
    with transaction.atomic():
        document = Document.objects.create(
            knowledge_base=knowledge_base,
            name=name,
            source=Document.Source.UPLOAD,
            file=stored,
            content_type=content_type[:200],
            size_bytes=size,
            created_by=actor_user(actor),
        )
        transaction.on_commit(lambda: dispatch_ingestion(str(document.pk)))
    return document


def document_add_url(*, actor: Actor, knowledge_base: KnowledgeBase, url: str, name: str = "") -> Document:
    _check_edit(actor, knowledge_base)
    url = (url or "").strip()
    if not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise ValidationFailed(fields={"url": [_("Enter an http(s) address.")]})
    with transaction.atomic():
        document = Document.objects.create(
            knowledge_base=knowledge_base,
            name=(name or url)[:255],
            source=Document.Source.URL,
            url=url,
            created_by=actor_user(actor),
        )
        transaction.on_commit(lambda: dispatch_ingestion(str(document.pk)))
    return document


def document_reindex(*, actor: Actor, document: Document) -> Document:
    """Index it again from its source (a newer generation: any ingestion still running gives up)."""
    _check_edit(actor, document.knowledge_base)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        locked.generation += 1
        locked.status, locked.progress, locked.error = Document.Status.QUEUED, 0, None
        locked.save(update_fields=["generation", "status", "progress", "error", "updated_at"])
        transaction.on_commit(lambda: dispatch_ingestion(str(locked.pk)))
    return locked


def document_set_enabled(*, actor: Actor, document: Document, enabled: bool) -> Document:
    """A disabled document keeps its index entries but is never returned by a search."""
    _check_edit(actor, document.knowledge_base)
    document.enabled = bool(enabled)
    document.save(update_fields=["enabled", "updated_at"])
    return document


def document_delete(*, actor: Actor, document: Document) -> None:
    """The document goes with its chunks, vectors and file."""
    _check_edit(actor, document.knowledge_base)
    kb_id, doc_id, stored = str(document.knowledge_base_id), str(document.pk), document.file
    document.delete()

    def forget() -> None:
        index = knowledge_index()
        if index.has_space(kb_id):
            index.delete_document(kb_id, doc_id)
        if stored:
            default_storage.delete(stored)

    transaction.on_commit(forget)


def chunk_update(*, actor: Actor, chunk: Chunk, text: str) -> Chunk:
    """Edit a chunk's text; the index (and its vector) follows before this returns."""
    kb = chunk.knowledge_base
    _check_edit(actor, kb)
    text = (text or "").strip()
    if not text or len(text) > MAX_CHUNK_CHARS:
        raise ValidationFailed(fields={"text": [_("A chunk needs between 1 and 20000 characters.")]})
    if chunk.document.status != Document.Status.READY:
        raise Conflict(_("The document is being indexed; edit its chunks once it is ready."), code="not_ready")
    embedder = embedder_for(kb)
    vector = embedder.embed_documents([text])[0] if embedder is not None else None
    chunk.text, chunk.edited = text, True
    with transaction.atomic():
        chunk.save(update_fields=["text", "edited", "updated_at"])
        knowledge_index().upsert([index_chunk(chunk, vector)])
    publish_progress(chunk.document)
    return chunk
