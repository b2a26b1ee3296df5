from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.knowledge.loading.page_server import PageServer, serve_pages


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    with serve_pages() as server:
        yield server
