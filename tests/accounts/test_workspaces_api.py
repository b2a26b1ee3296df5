import pytest

from builder.accounts.models import ApiKey, Membership
from builder.accounts.roles import Role
from builder.bots.models import BotGrant
from tests.factories import client_for, error_of, make_bot, make_user, make_workspace, member

pytestmark = pytest.mark.django_db


def test_creator_owns_the_new_workspace_and_outsiders_cannot_see_it() -> None:
    ada = make_user()
    created = client_for(ada).post("/api/v1/workspaces/", {"name": "Acme 研发"})
    assert created.status_code == 201
    workspace_id = created.json()["id"]
    assert Membership.objects.get(workspace_id=workspace_id, user=ada).role == Role.OWNER
    assert client_for(ada).get("/api/v1/workspaces/").json()["count"] == 1
    outsider = client_for(make_user())
    assert outsider.get("/api/v1/workspaces/").json()["count"] == 0
    assert outsider.get(f"/api/v1/workspaces/{workspace_id}/").status_code == 404


def test_workspace_list_is_paginated_searchable_and_ordered() -> None:
    ada = make_user()
    for name in ["Zeta", "Alpha", "Beta"]:
        make_workspace(ada, name=name)
    client = client_for(ada)
    page = client.get("/api/v1/workspaces/?page_size=2&ordering=name").json()
    assert [w["name"] for w in page["results"]] == ["Alpha", "Beta"]
    assert page["count"] == 3 and page["next"]
    assert [w["name"] for w in client.get("/api/v1/workspaces/?search=zet").json()["results"]] == ["Zeta"]
    assert client.get("/api/v1/workspaces/?page=9").status_code == 404


@pytest.mark.parametrize(
    ("role", "can_rename", "can_delete"),
    [(Role.VIEWER, False, False), (Role.EDITOR, False, False), (Role.ADMIN, True, False), (Role.OWNER, True, True)],
)
def test_roles_decide_who_renames_and_deletes(role: str, can_rename: bool, can_delete: bool) -> None:
    workspace = make_workspace()
    client = client_for(member(workspace, role))
    rename = client.patch(f"/api/v1/workspaces/{workspace.pk}/", {"name": "Renamed"})
    assert rename.status_code == (200 if can_rename else 403)
    delete = client.delete(f"/api/v1/workspaces/{workspace.pk}/")
    assert delete.status_code == (204 if can_delete else 403)


def test_members_list_filters_by_role() -> None:
    workspace = make_workspace()
    member(workspace, Role.VIEWER)
    member(workspace, Role.EDITOR)
    client = client_for(member(workspace, Role.VIEWER))
    listing = client.get(f"/api/v1/workspaces/{workspace.pk}/members/?role=viewer").json()
    assert listing["count"] == 2
    assert {m["role"] for m in listing["results"]} == {"viewer"}


def test_admin_manages_editors_but_not_owners_and_the_last_owner_stays() -> None:
    workspace = make_workspace()
    owner = Membership.objects.get(workspace=workspace).user
    admin = member(workspace, Role.ADMIN)
    editor = member(workspace, Role.EDITOR)
    as_admin = client_for(admin)
    url = f"/api/v1/workspaces/{workspace.pk}/members/"
    assert as_admin.patch(f"{url}{editor.pk}", {"role": "viewer"}).status_code == 200
    assert as_admin.patch(f"{url}{editor.pk}", {"role": "admin"}).status_code == 403
    assert as_admin.patch(f"{url}{owner.pk}", {"role": "viewer"}).status_code == 403
    demote_self = client_for(owner).patch(f"{url}{owner.pk}", {"role": "admin"})
    assert demote_self.status_code == 409
    assert error_of(demote_self)["code"] == "last_owner"
    assert client_for(owner).patch(f"{url}{editor.pk}", {"role": "superuser"}).status_code == 400


def test_removing_a_member_takes_their_grants_and_keys_with_them() -> None:
    workspace = make_workspace()
    owner = Membership.objects.get(workspace=workspace).user
    leaving = member(workspace, Role.ADMIN)
    bot = make_bot(workspace)
    BotGrant.objects.create(bot=bot, user=leaving, role="editor")
    from builder.accounts.services import api_key_create

    key, _raw = api_key_create(actor=leaving, workspace=workspace, name="k", role=Role.EDITOR)
    response = client_for(owner).delete(f"/api/v1/workspaces/{workspace.pk}/members/{leaving.pk}")
    assert response.status_code == 204
    assert not BotGrant.objects.filter(user=leaving).exists()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


def test_a_member_can_leave_but_the_last_owner_cannot() -> None:
    workspace = make_workspace()
    owner = Membership.objects.get(workspace=workspace).user
    viewer = member(workspace, Role.VIEWER)
    assert client_for(viewer).delete(f"/api/v1/workspaces/{workspace.pk}/members/{viewer.pk}").status_code == 204
    assert client_for(owner).delete(f"/api/v1/workspaces/{workspace.pk}/members/{owner.pk}").status_code == 409
