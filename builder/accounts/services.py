"""Writes for users, workspaces, memberships, invitations and API keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from builder.accounts.models import ApiKey, Invitation, InvitationStatus, Membership, User, Workspace
from builder.accounts.permissions import Actor, actor_user, check_workspace_permission, workspace_role
from builder.accounts.roles import API_KEY_ROLES, ROLE_RANK, Action, Role
from builder.accounts.signals import workspace_deleting
from builder.accounts.tokens import hashes_match, new_api_key, new_invitation_token, sha256_hex, split_api_key
from builder.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed

# A key's last_used_at is written at most this often, so authentication is not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def user_create(*, username: str, email: str, password: str | None, display_name: str = "") -> User:
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationFailed(fields={"email": [_("A user with this email already exists.")]})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed(fields={"username": [_("This username is taken.")]})
    user = User(username=username, email=email, display_name=display_name)
    if password:
        from django.contrib.auth.password_validation import validate_password

        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


def user_signup(*, username: str, email: str, password: str, display_name: str = "") -> User:
    """Create an account for whoever asks, where the operator allows it (``ALLOW_SIGNUP``)."""
    if not settings.ALLOW_SIGNUP:
        raise PermissionDenied(
            _("Sign-up is closed on this server: ask an administrator for an account."), code="signup_disabled"
        )
    return user_create(username=username, email=email, password=password, display_name=display_name)


def _unique_slug(name: str) -> str:
    base = slugify(name, allow_unicode=False)[:48] or "workspace"
    slug, counter = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        counter += 1
        slug = f"{base}-{counter}"
    return slug


@transaction.atomic
def workspace_create(*, actor: Actor, name: str, description: str = "") -> Workspace:
    """A new workspace; its creator becomes the owner. API keys live inside one workspace."""
    if isinstance(actor, ApiKey):
        raise PermissionDenied(_("API keys cannot create workspaces."))
    if not name.strip():
        raise ValidationFailed(fields={"name": [_("This field may not be blank.")]})
    workspace = Workspace.objects.create(
        name=name.strip(), slug=_unique_slug(name), description=description, created_by=actor
    )
    Membership.objects.create(workspace=workspace, user=actor, role=Role.OWNER)
    return workspace


def workspace_update(
    *, actor: Actor, workspace: Workspace, name: str | None = None, description: str | None = None
) -> Workspace:
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.WORKSPACE_UPDATE)
    if name is not None:
        if not name.strip():
            raise ValidationFailed(fields={"name": [_("This field may not be blank.")]})
        workspace.name = name.strip()
    if description is not None:
        workspace.description = description
    workspace.save()
    return workspace


@transaction.atomic
def workspace_delete(*, actor: Actor, workspace: Workspace) -> None:
    check_workspace_permission(actor=actor, workspace=workspace, action=Action.WORKSPACE_DELETE)
    workspace_deleting.send(sender=Workspace, workspace=workspace)
    workspace.delete()


def _owner_count(workspace: Workspace) -> int:
    return Membership.objects.filter(workspace=workspace, role=Role.OWNER).count()


def _check_can_manage_role(*, actor_role: str, target_role: str) -> None:
    """Admins manage editors and viewers; only owners touch admins and owners."""
    if ROLE_RANK[target_role] >= ROLE_RANK[Role.ADMIN] and actor_role != Role.OWNER:
        raise PermissionDenied(_("Only an owner can manage admins and owners."))


@transaction.atomic
def member_role_change(*, actor: Actor, workspace: Workspace, user: User, role: str) -> Membership:
    actor_role = check_workspace_permission(actor=actor, workspace=workspace, action=Action.MEMBERS_MANAGE)
    if role not in Role.values:
        raise ValidationFailed(fields={"role": [_("Unknown role.")]})
    membership = Membership.objects.select_for_update().filter(workspace=workspace, user=user).first()
    if membership is None:
        raise NotFound(_("Member not found."))
    _check_can_manage_role(actor_role=actor_role, target_role=membership.role)
    _check_can_manage_role(actor_role=actor_role, target_role=role)
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(workspace) == 1:
        raise Conflict(_("A workspace needs at least one owner."), code="last_owner")
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    return membership


@transaction.atomic
def member_remove(*, actor: Actor, workspace: Workspace, user: User) -> None:
    """Remove a member (or leave, when the actor is that member). Their bot grants and API keys go too."""
    leaving = actor_user(actor).pk == user.pk and not isinstance(actor, ApiKey)
    membership = Membership.objects.select_for_update().filter(workspace=workspace, user=user).first()
    if leaving:
        if membership is None:
            raise NotFound(_("Member not found."))
    else:
        actor_role = check_workspace_permission(actor=actor, workspace=workspace, action=Action.MEMBERS_MANAGE)
        if membership is None:
            raise NotFound(_("Member not found."))
        _check_can_manage_role(actor_role=actor_role, target_role=membership.role)
    if membership.role == Role.OWNER and _owner_count(workspace) == 1:
        raise Conflict(_("A workspace needs at least one owner."), code="last_owner")
    from builder.bots.models import BotGrant

    BotGrant.objects.filter(bot__workspace=workspace, user=user).delete()
    ApiKey.objects.filter(workspace=workspace, created_by=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    membership.delete()


def _check_pending(invitation: Invitation) -> None:
    status = invitation.status
    if status != InvitationStatus.PENDING:
        raise Conflict(
            _("This invitation is %(status)s.") % {"status": status.label}, code=f"invitation_{status.value}"
        )


def invitation_create(*, actor: Actor, workspace: Workspace, email: str, role: str) -> tuple[Invitation, str]:
    """Invite someone by email. Returns the invitation and its token (shown once, also emailed)."""
    actor_role = check_workspace_permission(actor=actor, workspace=workspace, action=Action.MEMBERS_MANAGE)
    if role not in Role.values:
        raise ValidationFailed(fields={"role": [_("Unknown role.")]})
    _check_can_manage_role(actor_role=actor_role, target_role=role)
    email = User.objects.normalize_email(email).lower()
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise Conflict(_("This person is already a member."), code="already_member")
    token = new_invitation_token()
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        token_hash=sha256_hex(token),
        invited_by=actor_user(actor),
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    send_mail(
        subject=_("You are invited to %(workspace)s on Agentloom") % {"workspace": workspace.name},
        message=_("Accept the invitation with this token: %(token)s") % {"token": token},
        from_email=None,
        recipient_list=[email],
        fail_silently=True,
    )
    return invitation, token


@transaction.atomic
def invitation_accept(*, user: User, token: str) -> Membership:
    invitation = Invitation.objects.select_for_update().filter(token_hash=sha256_hex(token)).first()
    if invitation is None:
        raise NotFound(_("Invitation not found."))
    _check_pending(invitation)
    if invitation.email.lower() != user.email.lower():
        raise PermissionDenied(_("This invitation was sent to another email address."))
    try:
        with transaction.atomic():
            membership = Membership.objects.create(workspace=invitation.workspace, user=user, role=invitation.role)
    except IntegrityError as exc:
        raise Conflict(_("This person is already a member."), code="already_member") from exc
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    return membership


def invitation_revoke(*, actor: Actor, invitation: Invitation) -> Invitation:
    check_workspace_permission(actor=actor, workspace=invitation.workspace, action=Action.MEMBERS_MANAGE)
    _check_pending(invitation)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    return invitation


def invitations_purge_stale() -> int:
    """Delete invitations dead for 30 days (expiry itself is derived from ``expires_at``)."""
    cutoff = timezone.now() - timedelta(days=30)
    deleted, _detail = Invitation.objects.filter(expires_at__lt=cutoff, accepted_at__isnull=True).delete()
    return deleted


def api_key_create(
    *,
    actor: Actor,
    workspace: Workspace,
    name: str,
    role: str = Role.VIEWER,
    bot_id: UUID | str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the raw secret is returned once and never stored."""
    actor_role = check_workspace_permission(actor=actor, workspace=workspace, action=Action.API_KEYS_MANAGE)
    if role not in dict(API_KEY_ROLES):
        raise ValidationFailed(fields={"role": [_("An API key can be admin, editor or viewer.")]})
    if ROLE_RANK[role] > ROLE_RANK[actor_role]:
        raise PermissionDenied(_("An API key cannot have more power than its creator."))
    if not name.strip():
        raise ValidationFailed(fields={"name": [_("This field may not be blank.")]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(fields={"expires_at": [_("The expiry must be in the future.")]})
    bot = None
    if bot_id is not None:
        from builder.bots.models import Bot

        bot = Bot.objects.filter(pk=bot_id, workspace=workspace).first()
        if bot is None:
            raise ValidationFailed(fields={"bot": [_("No such bot in this workspace.")]})
    prefix, raw_key = new_api_key()
    key = ApiKey.objects.create(
        workspace=workspace,
        bot=bot,
        name=name.strip(),
        role=role,
        prefix=prefix,
        key_hash=sha256_hex(raw_key),
        created_by=actor_user(actor),
        expires_at=expires_at,
    )
    return key, raw_key


def api_key_revoke(*, actor: Actor, key: ApiKey) -> ApiKey:
    check_workspace_permission(actor=actor, workspace=key.workspace, action=Action.API_KEYS_MANAGE)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
    return key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key`` (recording its use), or None."""
    prefix = split_api_key(raw_key)
    if prefix is None:
        return None
    key = ApiKey.objects.select_related("created_by", "workspace").filter(prefix=prefix).first()
    if key is None or not hashes_match(raw_key, key.key_hash) or not key.is_active:
        return None
    if not key.created_by.is_active or workspace_role(actor=key, workspace=key.workspace) is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def user_update_profile(*, user: User, display_name: str | None = None, locale: str | None = None) -> User:
    if display_name is not None:
        user.display_name = display_name
    if locale is not None:
        user.locale = locale
    user.save(update_fields=["display_name", "locale"])
    return user
