"""The scripted petstore, the SDK's harness, and the OpenAPI plugin's settings for a source."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from builder.sdk.testing import plugin_config, plugin_harness  # noqa: F401  (fixtures)
from plugins.openapi.auth import forget_tokens
from tests.plugins.openapi.fake_petstore import SPECS, FakePetstore

PLUGIN = "plugins.openapi"
PETSTORE_YAML = (SPECS / "petstore.yaml").read_text(encoding="utf-8")


def source(name: str = "petstore", **settings: Any) -> dict[str, Any]:
    return {"name": name, **settings}


@pytest.fixture
def api() -> Iterator[FakePetstore]:
    fake = FakePetstore()
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    """OAuth2 tokens are cached per process: each test starts without any."""
    forget_tokens()
    yield
    forget_tokens()
