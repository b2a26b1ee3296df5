from __future__ import annotations

import pytest
from django.conf import settings


@pytest.fixture(autouse=True)
def _ingestion_worker(request: pytest.FixtureRequest) -> None:
    """Documents are indexed by whatever runs background work in this mode: a thread of this
    process (embedded) or the real Celery worker (production)."""
    if not settings.EMBEDDED:
        request.getfixturevalue("celery_worker")
