from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PluginhostConfig(AppConfig):
    name = "builder.pluginhost"
    label = "pluginhost"
    verbose_name = _("Plugins")
    # Plugins are loaded on first use (``manager.get_host()``), not here: ready() runs for every
    # management command, and plugin code has no business running during a migration.

    def ready(self) -> None:
        from builder.accounts.signals import on_workspace_deleting
        from builder.pluginhost.services import workspace_job_files_forget

        on_workspace_deleting(workspace_job_files_forget)
