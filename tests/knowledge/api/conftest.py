from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.knowledge.loading.page_server import PageServer, serve_pages

# Documents are indexed by whatever runs background work in this mode (one definition, shared).
from tests.knowledge.services.conftest import _ingestion_worker  # noqa: F401


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    with serve_pages() as server:
        yield server
