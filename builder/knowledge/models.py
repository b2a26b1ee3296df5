"""Knowledge bases, their documents and chunks: the source of truth the search index mirrors.

The index (``builder/knowledge/index``) holds a searchable copy of the chunks; what a search may
return is decided here: only chunks of documents that are ``ready`` and enabled.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from builder.accounts.models import User, Workspace
from builder.core.models import BaseModel


class KnowledgeBase(BaseModel):
    class IndexMode(models.TextChoices):
        # BM25 only: needs no model, handles Chinese (jieba) and exact terms well.
        ECONOMICAL = "economical", _("Economical (full text)")
        # BM25 + dense embeddings, fused (never worse than the better half).
        HIGH_QUALITY = "high_quality", _("High quality (full text + embeddings)")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="knowledge_bases")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    index_mode = models.CharField(max_length=16, choices=IndexMode.choices, default=IndexMode.ECONOMICAL)
    # builder.knowledge.loading chunking settings (general or parent_child), validated by the services.
    chunking: models.JSONField[Any, Any] = models.JSONField(default=dict)
    # {"kind": "local"} (all-MiniLM-L6-v2) or {"provider": <model provider id>, "model": "..."}.
    embedding: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="knowledge_base_name_unique")]
        verbose_name = _("knowledge base")
        verbose_name_plural = _("knowledge bases")

    def __str__(self) -> str:
        return self.name


class Document(BaseModel):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PARSING = "parsing", _("Parsing")
        CHUNKING = "chunking", _("Chunking")
        EMBEDDING = "embedding", _("Embedding")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    IN_PROGRESS = (Status.QUEUED, Status.PARSING, Status.CHUNKING, Status.EMBEDDING)

    class Source(models.TextChoices):
        UPLOAD = "upload", _("Upload")
        URL = "url", _("Web page")

    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="documents")
    name = models.CharField(max_length=255)
    source = models.CharField(max_length=8, choices=Source.choices)
    url = models.URLField(max_length=2000, blank=True)
    # Where the uploaded bytes are kept (default storage), so a document can be indexed again.
    file = models.CharField(max_length=500, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    kind = models.CharField(max_length=8, blank=True)  # detected: pdf, docx, md…
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)  # percent of the current stage
    error: models.JSONField[Any, Any] = models.JSONField(null=True, blank=True)  # {"code", "message"}
    enabled = models.BooleanField(default=True)
    chunk_count = models.PositiveIntegerField(default=0)
    indexed_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every (re)index: an ingestion that finds a newer one started gives up.
    generation = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return self.name


class Chunk(BaseModel):
    """One indexed piece of a document (a child chunk in parent-child mode, with its parent's text)."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    text = models.TextField()
    # What retrieval returns in parent-child mode (the parent chunk); empty in general mode.
    context = models.TextField(blank=True)
    metadata: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    edited = models.BooleanField(default=False)

    class Meta:
        ordering = ["document", "position"]
        constraints = [models.UniqueConstraint(fields=["document", "position"], name="chunk_position_unique")]
        verbose_name = _("chunk")
        verbose_name_plural = _("chunks")

    def __str__(self) -> str:
        return f"{self.document_id}#{self.position}"
