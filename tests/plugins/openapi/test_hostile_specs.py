"""A pasted spec nested to exhaust the parser is a 400 naming the field and the limit, in JSON as in YAML."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from django.conf import LazySettings

from builder.accounts.roles import Role
from builder.core.untrusted import MAX_NESTING_DEPTH
from builder.pluginhost.manager import PluginHost
from tests.factories import client_for, error_of, make_workspace, member
from tests.plugins.openapi.conftest import source
from tests.support.plugin_hosts import host_with

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def openapi_host(settings: LazySettings) -> Iterator[PluginHost]:
    with host_with(importlib.import_module("plugins.openapi")) as host:
        yield host


@pytest.mark.parametrize(
    "spec",
    ['{"openapi": "3.0.3", "x": ' + "[" * 5_000 + "]" * 5_000 + "}", "openapi: 3.0.3\nx: " + "[" * 500 + "]" * 500],
    ids=["json", "yaml"],
)
def test_a_deeply_nested_spec_is_refused_naming_the_field(spec: str) -> None:
    workspace = make_workspace()
    client = client_for(member(workspace, Role.ADMIN))
    response = client.put(
        f"/api/v1/workspaces/{workspace.pk}/plugins/openapi/config",
        {"config": {"sources": [source(spec=spec)]}},
        format="json",
    )
    assert response.status_code == 400
    reasons = error_of(response)["fields"]["sources.0.spec"]
    assert str(MAX_NESTING_DEPTH) in reasons[0], reasons
