"""Factories and small helpers shared by the API tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import factory
from django.db import transaction
from rest_framework.test import APIClient

from builder.accounts.models import Membership, User, Workspace
from builder.accounts.roles import Role
from builder.accounts.services import api_key_create, workspace_create
from builder.bots.models import Bot
from builder.bots.services import bot_create

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)


def make_user(**fields: Any) -> User:
    return cast(User, UserFactory(**fields))


def make_workspace(owner: User | None = None, name: str = "Acme") -> Workspace:
    return workspace_create(actor=owner or make_user(), name=name)


def owner_of(workspace: Workspace) -> User:
    return Membership.objects.filter(workspace=workspace, role=Role.OWNER).select_related("user").first().user  # type: ignore[union-attr]


def member(workspace: Workspace, role: str, **user_fields: Any) -> User:
    user = make_user(**user_fields)
    Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


def make_bot(workspace: Workspace, *, by: User | None = None, **fields: Any) -> Bot:
    fields.setdefault("name", "Support bot")
    bot, _problems = bot_create(actor=by or owner_of(workspace), workspace=workspace, **fields)
    return bot


def client_for(user: User | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def key_client(
    workspace: Workspace, *, role: str = Role.EDITOR, by: User | None = None, **kwargs: Any
) -> tuple[APIClient, str]:
    _key, raw = api_key_create(actor=by or owner_of(workspace), workspace=workspace, name="ci", role=role, **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client, raw


def error_of(response: Any) -> dict[str, Any]:
    """The one error shape; fails loudly when a response does not follow it."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "fields"} <= set(body["error"]), body
    return body["error"]  # type: ignore[no-any-return]


class _RolledBack(Exception):
    pass


def rolled_back(action: Callable[[], object]) -> None:
    """Run ``action`` in a transaction that is then rolled back (what a failed request does)."""
    try:
        with transaction.atomic():
            action()
            raise _RolledBack
    except _RolledBack:
        pass
