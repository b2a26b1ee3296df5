"""A knowledge base's chunking and embedding settings are JSON objects: anything else is a 400
naming the field (found by tests/api/test_schemathesis.py: a number was a 500)."""

from __future__ import annotations

from typing import Any

import pytest

from builder.core.exceptions import ValidationFailed
from builder.knowledge.models import KnowledgeBase
from builder.knowledge.services import knowledge_base_create
from tests.factories import client_for, error_of, make_workspace, owner_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", [1.5, "local", [["kind", "local"]], True])
@pytest.mark.parametrize("field", ["chunking", "embedding"])
def test_settings_that_are_not_objects_are_refused_with_the_field(field: str, value: Any) -> None:
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    url = f"/api/v1/workspaces/{workspace.pk}/knowledge-bases/"
    body = {"name": "Manuals", "index_mode": "high_quality", field: value}
    response = client.post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert field in error_of(response)["fields"]
    assert not KnowledgeBase.objects.exists()


def test_the_service_refuses_an_embedding_that_is_not_an_object() -> None:
    workspace = make_workspace()
    with pytest.raises(ValidationFailed) as refused:
        knowledge_base_create(
            actor=owner_of(workspace), workspace=workspace, name="Manuals", index_mode="high_quality", embedding=1.5
        )
    assert list(refused.value.fields) == ["embedding"]
