"""Per-bot sharing: a grant raises or lowers a member's workspace role on one bot."""

import pytest

from builder.accounts.roles import Role
from tests.factories import client_for, error_of, make_bot, make_user, make_workspace, member, owner_of

pytestmark = pytest.mark.django_db


def grant(client, bot, user, role):
    return client.put(f"/api/v1/bots/{bot.pk}/grants/{user.pk}", {"role": role})


def test_a_viewer_granted_editor_edits_that_bot_only() -> None:
    workspace = make_workspace()
    shared, other = make_bot(workspace, name="Shared"), make_bot(workspace, name="Other")
    viewer = member(workspace, Role.VIEWER)
    as_viewer = client_for(viewer)
    assert as_viewer.patch(f"/api/v1/bots/{shared.pk}/", {"name": "x"}).status_code == 403
    assert grant(client_for(owner_of(workspace)), shared, viewer, "editor").status_code == 200
    assert as_viewer.patch(f"/api/v1/bots/{shared.pk}/", {"name": "Edited"}).status_code == 200
    assert as_viewer.post(f"/api/v1/bots/{shared.pk}/publish", {}).status_code == 201
    assert as_viewer.patch(f"/api/v1/bots/{other.pk}/", {"name": "x"}).status_code == 403


def test_an_editor_granted_viewer_is_held_back_on_that_bot() -> None:
    workspace = make_workspace()
    sensitive = make_bot(workspace, name="Payroll")
    editor = member(workspace, Role.EDITOR)
    grant(client_for(owner_of(workspace)), sensitive, editor, "viewer")
    as_editor = client_for(editor)
    assert as_editor.get(f"/api/v1/bots/{sensitive.pk}/").status_code == 200
    assert (
        as_editor.put(
            f"/api/v1/bots/{sensitive.pk}/draft", {"revision": 1, "draft": sensitive.draft}, format="json"
        ).status_code
        == 403
    )


def test_private_bots_are_visible_to_admins_the_creator_and_grantees_only() -> None:
    workspace = make_workspace()
    creator = member(workspace, Role.EDITOR)
    colleague, grantee, admin = (
        member(workspace, Role.EDITOR),
        member(workspace, Role.VIEWER),
        member(workspace, Role.ADMIN),
    )
    created = client_for(creator).post(
        f"/api/v1/workspaces/{workspace.pk}/bots/", {"name": "Secret", "visibility": "private"}
    )
    bot_id = created.json()["id"]
    url = f"/api/v1/workspaces/{workspace.pk}/bots/"
    names = lambda user: [b["name"] for b in client_for(user).get(url).json()["results"]]  # noqa: E731
    assert names(creator) == ["Secret"] and names(admin) == ["Secret"]
    assert names(colleague) == [] and names(grantee) == []
    assert client_for(colleague).get(f"/api/v1/bots/{bot_id}/").status_code == 404
    from builder.bots.models import Bot

    grant(client_for(admin), Bot.objects.get(pk=bot_id), grantee, "viewer")
    assert names(grantee) == ["Secret"]
    assert client_for(grantee).get(f"/api/v1/bots/{bot_id}/grants/").json()["count"] == 1


def test_only_admins_share_and_only_with_members() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    editor, viewer = member(workspace, Role.EDITOR), member(workspace, Role.VIEWER)
    assert grant(client_for(editor), bot, viewer, "editor").status_code == 403
    outsider = make_user()
    assert grant(client_for(owner_of(workspace)), bot, outsider, "editor").status_code == 404
    bad_role = grant(client_for(owner_of(workspace)), bot, viewer, "owner")
    assert "role" in error_of(bad_role)["fields"]
    owner = client_for(owner_of(workspace))
    assert owner.delete(f"/api/v1/bots/{bot.pk}/grants/{viewer.pk}").status_code == 404
    grant(owner, bot, viewer, "editor")
    assert owner.delete(f"/api/v1/bots/{bot.pk}/grants/{viewer.pk}").status_code == 204
    assert client_for(viewer).patch(f"/api/v1/bots/{bot.pk}/", {"name": "x"}).status_code == 403


def test_editors_cannot_make_a_bot_private_but_admins_can() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    assert (
        client_for(member(workspace, Role.EDITOR))
        .patch(f"/api/v1/bots/{bot.pk}/", {"visibility": "private"})
        .status_code
        == 403
    )
    assert (
        client_for(member(workspace, Role.ADMIN))
        .patch(f"/api/v1/bots/{bot.pk}/", {"visibility": "private"})
        .status_code
        == 200
    )


def test_services_check_permissions_themselves() -> None:
    """The API, websocket and admin cannot disagree: the service refuses on its own."""
    from builder.bots.services import bot_publish
    from builder.core.exceptions import NotFound, PermissionDenied

    workspace = make_workspace()
    bot = make_bot(workspace)
    with pytest.raises(PermissionDenied):
        bot_publish(actor=member(workspace, Role.VIEWER), bot=bot)
    with pytest.raises(NotFound):
        bot_publish(actor=make_user(), bot=bot)
