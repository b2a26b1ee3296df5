from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from builder.accounts.models import Invitation, Membership
from builder.accounts.roles import Role
from tests.factories import client_for, error_of, make_user, make_workspace, member

pytestmark = pytest.mark.django_db


def invite(client, workspace, email="new@example.com", role="editor"):
    return client.post(f"/api/v1/workspaces/{workspace.pk}/invitations/", {"email": email, "role": role})


def test_invitation_flow_email_token_accept() -> None:
    workspace = make_workspace()
    admin = member(workspace, Role.ADMIN)
    created = invite(client_for(admin), workspace, email="New@Example.com")
    assert created.status_code == 201, created.content
    token = created.json()["token"]
    assert created.json()["status"] == "pending"
    assert len(mail.outbox) == 1 and token in mail.outbox[0].body
    # Only the hash is stored.
    assert not Invitation.objects.filter(token_hash=token).exists()

    invitee = make_user(email="new@example.com")
    accepted = client_for(invitee).post("/api/v1/invitations/accept", {"token": token})
    assert accepted.status_code == 200
    assert Membership.objects.get(workspace=workspace, user=invitee).role == Role.EDITOR
    again = client_for(invitee).post("/api/v1/invitations/accept", {"token": token})
    assert again.status_code == 409 and error_of(again)["code"] == "invitation_accepted"


def test_invitation_for_someone_else_or_expired_or_revoked_is_refused() -> None:
    workspace = make_workspace()
    admin = client_for(member(workspace, Role.ADMIN))
    token = invite(admin, workspace, email="right@example.com").json()["token"]
    wrong = client_for(make_user(email="wrong@example.com")).post("/api/v1/invitations/accept", {"token": token})
    assert wrong.status_code == 403

    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    right = make_user(email="right@example.com")
    expired = client_for(right).post("/api/v1/invitations/accept", {"token": token})
    assert error_of(expired)["code"] == "invitation_expired"

    second = invite(admin, workspace, email="right@example.com").json()
    assert admin.delete(f"/api/v1/workspaces/{workspace.pk}/invitations/{second['id']}").json()["status"] == "revoked"
    revoked = client_for(right).post("/api/v1/invitations/accept", {"token": second["token"]})
    assert error_of(revoked)["code"] == "invitation_revoked"
    assert not Membership.objects.filter(user=right).exists()
    unknown = client_for(right).post("/api/v1/invitations/accept", {"token": "made-up"})
    assert unknown.status_code == 404


def test_who_may_invite_whom() -> None:
    workspace = make_workspace()
    editor = client_for(member(workspace, Role.EDITOR))
    assert invite(editor, workspace).status_code == 403
    admin = client_for(member(workspace, Role.ADMIN))
    assert invite(admin, workspace, role="admin").status_code == 403
    owner = client_for(Membership.objects.get(workspace=workspace, role=Role.OWNER).user)
    assert invite(owner, workspace, role="admin").status_code == 201
    existing = member(workspace, Role.VIEWER)
    duplicate = invite(owner, workspace, email=existing.email)
    assert duplicate.status_code == 409 and error_of(duplicate)["code"] == "already_member"
    bad = invite(owner, workspace, email="nope", role="king")
    assert set(error_of(bad)["fields"]) == {"email", "role"}


def test_invitation_errors_read_naturally_in_chinese() -> None:
    workspace = make_workspace()
    admin = client_for(member(workspace, Role.ADMIN))
    created = invite(admin, workspace, email="late@example.com").json()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    late = client_for(make_user(email="late@example.com"))
    response = late.post("/api/v1/invitations/accept", {"token": created["token"]}, HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert error_of(response)["message"] == "此邀请已过期。"
