"""Small helpers for the knowledge API tests: one knowledge base, one upload, one search."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from builder.accounts.models import User, Workspace
from builder.knowledge.models import Document
from tests.factories import client_for, make_workspace, owner_of
from tests.support.knowledge import wait_for_document


def kb_url(kb_id: Any, tail: str = "") -> str:
    return f"/api/v1/knowledge-bases/{kb_id}/{tail}"


def new_kb(workspace: Workspace | None = None, **fields: Any) -> tuple[dict[str, Any], APIClient, User]:
    """A knowledge base made through the API by its workspace's owner."""
    workspace = workspace or make_workspace()
    owner = owner_of(workspace)
    client = client_for(owner)
    created = client.post(f"/api/v1/workspaces/{workspace.pk}/knowledge-bases/", {"name": "Manuals", **fields})
    assert created.status_code == 201, created.content
    return created.json(), client, owner


def upload(
    client: APIClient, kb_id: Any, filename: str, content: bytes, content_type: str = "text/plain", **extra: Any
) -> Any:
    file = SimpleUploadedFile(filename, content, content_type=content_type)
    return client.post(kb_url(kb_id, "documents/"), {"file": file, **extra}, format="multipart")


def upload_ready(client: APIClient, kb_id: Any, filename: str, content: bytes) -> dict[str, Any]:
    """Upload a document and wait until it is indexed; its API representation."""
    response = upload(client, kb_id, filename, content)
    assert response.status_code == 201, response.content
    document = wait_for_document(Document.objects.get(pk=response.json()["id"]))
    assert document.status == Document.Status.READY, document.error
    body: dict[str, Any] = client.get(f"/api/v1/documents/{document.pk}/").json()
    return body


def retrieve(client: APIClient, kb_id: Any, query: str, **options: Any) -> list[dict[str, Any]]:
    response = client.post(kb_url(kb_id, "retrieve"), {"query": query, **options})
    assert response.status_code == 200, response.content
    hits: list[dict[str, Any]] = response.json()["hits"]
    return hits
