"""An API key acts as a key, never as the person who made it (issue 11, defect 6).

Self-service account endpoints (me, logout, sign-up, accepting an invitation, creating a
workspace) are for signed-in people: a key gets 403 with a reason. A key reads the members and
their emails only with the right to manage them, and never when it is limited to one bot.
"""

from __future__ import annotations

import pytest

from builder.accounts.models import User
from builder.accounts.roles import Role
from builder.accounts.services import invitation_create
from tests.factories import error_of, key_client, make_bot, make_workspace, owner_of

pytestmark = pytest.mark.django_db


def test_a_key_cannot_read_or_change_its_creators_account() -> None:
    workspace = make_workspace()
    owner = owner_of(workspace)
    bot = make_bot(workspace)
    other = make_workspace(name="Elsewhere")
    _invitation, token = invitation_create(
        actor=owner_of(other), workspace=other, email=owner.email, role=Role.VIEWER
    )
    viewer_key, _raw = key_client(workspace, role=Role.VIEWER, bot_id=bot.pk)
    admin_key, _raw = key_client(workspace, role=Role.ADMIN)

    for key in (viewer_key, admin_key):
        for response in (
            key.get("/api/v1/auth/me"),
            key.patch("/api/v1/auth/me", {"display_name": "Pwned"}, format="json"),
            key.post("/api/v1/auth/logout"),
            key.post("/api/v1/invitations/accept", {"token": token}, format="json"),
            key.post("/api/v1/workspaces/", {"name": "Mine now"}, format="json"),
            key.post(
                "/api/v1/auth/signup",
                {"username": "sock", "email": "sock@example.com", "password": "a long fresh passphrase"},
                format="json",
            ),
        ):
            assert response.status_code == 403, response.content
            assert error_of(response)["message"]
    owner.refresh_from_db()
    assert owner.display_name != "Pwned" and not other.memberships.filter(user=owner).exists()
    assert not User.objects.filter(username="sock").exists()


def test_a_key_lists_members_only_with_the_right_to_manage_them() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    url = f"/api/v1/workspaces/{workspace.pk}/members/"
    owner_email = owner_of(workspace).email

    for role in (Role.VIEWER, Role.EDITOR):
        key, _raw = key_client(workspace, role=role)
        refused = key.get(url)
        assert refused.status_code == 403 and owner_email not in refused.content.decode()
    bot_admin, _raw = key_client(workspace, role=Role.ADMIN, bot_id=bot.pk)
    assert bot_admin.get(url).status_code == 403
    assert bot_admin.get(f"/api/v1/workspaces/{workspace.pk}/invitations/").status_code == 403

    admin, _raw = key_client(workspace, role=Role.ADMIN)
    listed = admin.get(url)
    assert listed.status_code == 200 and listed.json()["results"][0]["user"]["email"] == owner_email
