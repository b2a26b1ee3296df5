from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from builder.accounts.models import ApiKey, Invitation, Membership, User, Workspace


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "display_name", "is_staff", "is_active"]
    fieldsets = (*(DjangoUserAdmin.fieldsets or ()), ("Agentloom", {"fields": ("display_name", "locale")}))


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "workspace__name"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "workspace", "role", "status", "expires_at"]
    search_fields = ["email", "workspace__name"]
    exclude = ["token_hash"]
    readonly_fields = ["accepted_at", "accepted_by"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created through the API (the secret is shown once); the admin can only inspect and revoke."""

    list_display = ["name", "prefix", "workspace", "bot", "role", "last_used_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["name", "prefix", "workspace__name"]
    exclude = ["key_hash"]
    readonly_fields = ["prefix", "workspace", "bot", "created_by", "last_used_at", "role"]

    def has_add_permission(self, request: object) -> bool:
        return False
