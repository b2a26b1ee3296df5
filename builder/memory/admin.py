from typing import Any

from django.contrib import admin

from builder.memory.models import EndUser, Fact


class ReadOnlyAdmin(admin.ModelAdmin):
    """Inspect only: changes go through the services, which validate user variables against the
    bot's declarations and keep the search index in step with the facts."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(EndUser)
class EndUserAdmin(ReadOnlyAdmin):
    list_display = ["end_user_id", "bot", "last_seen_at"]
    search_fields = ["end_user_id", "bot__name"]


@admin.register(Fact)
class FactAdmin(ReadOnlyAdmin):
    list_display = ["text", "bot", "end_user_id", "kind", "superseded_by", "observed_at"]
    list_filter = ["kind"]
    search_fields = ["text", "end_user_id", "bot__name"]
