from typing import Any

from django.contrib import admin

from builder.bots.models import Bot, BotGrant, BotVersion


class BotGrantInline(admin.TabularInline):
    model = BotGrant
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "visibility", "draft_revision", "live_version", "updated_at"]
    list_filter = ["visibility"]
    search_fields = ["name", "description", "workspace__name"]
    readonly_fields = ["draft_revision", "draft_updated_at", "draft_updated_by", "live_version"]
    inlines = [BotGrantInline]


@admin.register(BotVersion)
class BotVersionAdmin(admin.ModelAdmin):
    """Versions are immutable: viewable, never editable."""

    list_display = ["bot", "number", "note", "created_by", "created_at"]
    search_fields = ["bot__name", "note"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(BotGrant)
class BotGrantAdmin(admin.ModelAdmin):
    list_display = ["bot", "user", "role", "granted_by", "created_at"]
    list_filter = ["role"]
    search_fields = ["bot__name", "user__username", "user__email"]
