from django.contrib import admin

from builder.pluginhost.models import PluginInstallation, PluginJob


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


@admin.register(PluginJob)
class PluginJobAdmin(admin.ModelAdmin):
    """Read-only: a job changes only as the host follows it (builder/pluginhost/jobs.py)."""

    list_display = ["plugin_id", "tool", "job_id", "status", "percent", "workspace", "created_at"]
    list_filter = ["status", "plugin_id"]
    search_fields = ["job_id", "run_id", "plugin_id"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
