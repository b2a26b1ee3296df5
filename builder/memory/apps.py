from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MemoryConfig(AppConfig):
    name = "builder.memory"
    label = "memory"
    verbose_name = _("Memory")

    def ready(self) -> None:
        from builder.accounts.signals import on_workspace_deleting
        from builder.memory.services import workspace_memory_forget

        on_workspace_deleting(workspace_memory_forget)
