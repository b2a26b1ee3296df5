"""Schemathesis against ``/api/schema/``: every operation, as an API key of a scratch workspace.

A real server (uvicorn in a thread, as the chat tests use) answers requests generated from the
schema the server itself serves: schema-valid ones and schema-breaking ones, with path parameters
that either name the scratch workspace's things or are random. Checked for every answer: no 5xx,
the status is documented, the body and headers match the schema, and a request that breaks the
schema is refused (4xx). All operations run (destructive ones last, see ``_run_order``), and every
failure is reported at once.

The key is an admin key of the workspace's owner (API keys cannot be owners). Each operation gets
``MAX_EXAMPLES`` valid and ``MAX_NEGATIVE_EXAMPLES`` invalid requests, derandomized so CI reruns
the same requests; the whole test takes about a minute on two cores.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from django.core.files.base import ContentFile
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from requests import PreparedRequest
from requests.auth import AuthBase
from schemathesis.auths import AuthStorage
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err, Ok
from schemathesis.generation import GenerationMode
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from builder.accounts.roles import Role
from builder.accounts.services import api_key_create, invitation_create
from builder.bots.services import bot_grant_set, bot_publish
from builder.core.background import wait_for_background
from builder.credentials.services import credential_create
from builder.knowledge.models import Chunk
from builder.knowledge.services import document_upload, knowledge_base_create
from builder.llm.services import model_provider_create
from builder.memory.models import EndUser, Fact
from builder.memory.services import user_variables_save
from tests.conversations.conftest import ThreadedServer, asgi_live_server, run_executor  # noqa: F401  (fixtures)
from tests.conversations.graphs import echo_bot
from tests.factories import make_bot, make_workspace, member, owner_of
from tests.support.fake_openai import FakeOpenAI
from tests.support.knowledge import wait_for_document

pytestmark = pytest.mark.django_db(transaction=True)

POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
MAX_EXAMPLES = 15
MAX_NEGATIVE_EXAMPLES = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

@dataclass(frozen=True)
class Scratch:
    key: str
    path_parameters: dict[str, str]


def _scratch_workspace(server: ThreadedServer, fake_openai: FakeOpenAI) -> Scratch:
    """A workspace with one of everything a path parameter can name."""
    workspace = make_workspace(name="Scratch")
    owner = owner_of(workspace)
    viewer = member(workspace, Role.VIEWER)
    bot = make_bot(workspace, draft=echo_bot())
    bot_publish(actor=owner, bot=bot)
    bot_grant_set(actor=owner, bot=bot, user=viewer, role="editor")
    _key, raw_key = api_key_create(actor=owner, workspace=workspace, name="schemathesis", role=Role.ADMIN)
    other_key, _raw = api_key_create(actor=owner, workspace=workspace, name="to revoke", role=Role.VIEWER)
    invitation, _token = invitation_create(actor=owner, workspace=workspace, email="new@example.com", role=Role.EDITOR)
    kb = knowledge_base_create(actor=owner, workspace=workspace, name="Handbook")
    document = document_upload(
        actor=owner,
        knowledge_base=kb,
        name="handbook.txt",
        content=ContentFile(b"Refunds take five days.\n\nShipping is free.", name="handbook.txt"),
        content_type="text/plain",
    )
    wait_for_document(document, "ready")
    provider = model_provider_create(
        actor=owner,
        workspace=workspace,
        name="Fake",
        kind="openai_compatible",
        base_url=fake_openai.base_url,
        models=[{"name": "gpt-4o-mini"}],
    )
    chat = httpx.post(
        f"{server.http}/api/v1/bots/{bot.pk}/chat",
        json={"query": "hello", "stream": False, "user": "alice"},
        headers={"Authorization": f"Bearer {raw_key}"},
        timeout=60,
    )
    assert chat.status_code == 200, chat.text
    user_variables_save(bot_id=bot.pk, end_user_id="alice", changes={})
    now = timezone.now()
    credential = credential_create(actor=owner, workspace=workspace, name="Support desk", value="s3cret-token")
    fact = Fact.objects.create(
        bot=bot, end_user_id="alice", text="Alice lives in Paris.", kind="profile", observed_at=now, updated_at=now
    )
    return Scratch(
        key=raw_key,
        path_parameters={
            "workspace_id": str(workspace.pk),
            "bot_id": str(bot.pk),
            "number": "1",
            "user_id": str(viewer.pk),
            "key_id": str(other_key.pk),
            "invitation_id": str(invitation.pk),
            "knowledge_base_id": str(kb.pk),
            "document_id": str(document.pk),
            "chunk_id": str(Chunk.objects.filter(document=document).values_list("pk", flat=True)[0]),
            "provider_id": str(provider.pk),
            "plugin_id": "web_search",
            "conversation_id": chat.json()["conversation_id"],
            "run_id": chat.json()["run_id"],
            "end_user": str(EndUser.objects.get(bot=bot, end_user_id="alice").pk),
            "fact_id": str(fact.pk),
            "credential_id": str(credential.pk),
        },
    )


class _BearerKey(AuthBase):
    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.key}"
        return request


def _run_order(operation: Any) -> tuple[int, int, str]:
    """Reads and writes first, then deletions, the deepest first (a fact before its end user, a
    member before the workspace): each still finds what it deletes, and no deletion takes away what
    a later operation needs. Deleting the workspace comes last of all."""
    if operation.method.upper() != "DELETE":
        return (0, 0, operation.label)
    return (1, -operation.path.count("/"), operation.label)


def _loaded(result: Ok[APIOperation[Any, Any, Any, Any]] | Err[InvalidSchema]) -> APIOperation[Any, Any, Any, Any]:
    assert isinstance(result, Ok), f"an operation the schema describes wrongly: {result.err()}"
    return result.ok()


def _failure_titles(error: BaseException) -> Iterator[str]:
    failures = error.exceptions if isinstance(error, FailureGroup) else [error]
    for failure in failures:
        yield getattr(failure, "title", type(failure).__name__)


def test_every_operation_answers_as_the_schema_says(asgi_live_server: ThreadedServer, fake_openai: FakeOpenAI) -> None:  # noqa: F811
    scratch = _scratch_workspace(asgi_live_server, fake_openai)
    document = httpx.get(
        f"{asgi_live_server.http}/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}
    ).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = sorted((_loaded(result) for result in schema.get_all_operations()), key=_run_order)
    methods = {"get", "post", "put", "patch", "delete"}
    assert len(operations) == sum(1 for item in document["paths"].values() for method in item if method in methods)
    named = {name for path in document["paths"] for name in re.findall(r"{(\w+)}", path)}
    assert named <= set(scratch.path_parameters), f"seed something for {named - set(scratch.path_parameters)}"
    failures: dict[tuple[str, str], str] = {}
    # Through schemathesis' auth, so a request that leaves out the credentials on purpose (a negative
    # case) goes without them.
    auth: AuthStorage[Any] = AuthStorage()
    auth.set_from_requests(_BearerKey(scratch.key))
    try:
        for operation in operations:
            known = {name: value for name, value in scratch.path_parameters.items() if f"{{{name}}}" in operation.path}
            for mode, examples in ((POSITIVE, MAX_EXAMPLES), (NEGATIVE, MAX_NEGATIVE_EXAMPLES)):
                # Random path parameters (a 404) or the scratch workspace's things.
                strategy = operation.as_strategy(generation_mode=mode, auth_storage=auth)
                if known:
                    seeded = operation.as_strategy(generation_mode=mode, auth_storage=auth, path_parameters=known)
                    strategy = st.one_of(strategy, seeded)
                _fuzz(operation.label, strategy, examples, asgi_live_server.http, failures)
    finally:
        wait_for_background()
    report = "\n\n".join(f"{label}: {title}\n{detail}" for (label, title), detail in sorted(failures.items()))
    assert not failures, f"{len(failures)} schemathesis failures:\n\n{report}"


def _fuzz(
    label: str,
    strategy: Any,
    examples: int,
    base_url: str,
    failures: dict[tuple[str, str], str],
) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def call(case: Any) -> None:
        try:
            case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=60)
        except (Failure, FailureGroup) as error:
            for title in _failure_titles(error):
                failures.setdefault((label, title), str(error)[:3000])

    # An operation without parameters or body (GET /auth/csrf) has no invalid request to make.
    with contextlib.suppress(Unsatisfiable):
        call()
