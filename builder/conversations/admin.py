from typing import Any

from django.contrib import admin

from builder.conversations.models import Conversation, Message, Run, RunEvent, RunStep


class ReadOnlyAdmin(admin.ModelAdmin):
    """Chats and traces are records: inspect them, never edit them."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["id", "bot", "source", "user", "api_key", "end_user_id", "updated_at"]
    list_filter = ["source"]
    search_fields = ["bot__name", "end_user_id", "title"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["conversation", "role", "content", "created_at"]
    list_filter = ["role"]


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["id", "bot", "status", "created_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["bot__name", "query"]


@admin.register(RunStep)
class RunStepAdmin(ReadOnlyAdmin):
    list_display = ["run", "node_id", "node_type", "status", "latency_ms"]
    list_filter = ["status", "node_type"]


@admin.register(RunEvent)
class RunEventAdmin(ReadOnlyAdmin):
    list_display = ["run", "seq", "type", "created_at"]
    list_filter = ["type"]
