from django.contrib import admin

from builder.pluginhost.models import PluginInstallation


@admin.register(PluginInstallation)
class PluginInstallationAdmin(admin.ModelAdmin):
    """Read-mostly: settings are validated against the plugin's schema by the service, so they are
    changed through the API (or the builder), and secrets are shown only as their hints."""

    list_display = ["plugin_id", "workspace", "enabled", "updated_at"]
    list_filter = ["enabled", "plugin_id"]
    search_fields = ["plugin_id", "workspace__name"]
    fields = ["workspace", "plugin_id", "enabled", "config", "secret_hints", "updated_by", "created_at", "updated_at"]
    readonly_fields = ["workspace", "plugin_id", "config", "secret_hints", "updated_by", "created_at", "updated_at"]

    def has_add_permission(self, request: object) -> bool:
        return False
