from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    name = "builder.knowledge"
    label = "knowledge"
    verbose_name = _("Knowledge")

    def ready(self) -> None:
        from builder.accounts.signals import on_workspace_deleting
        from builder.knowledge.services import workspace_knowledge_forget

        on_workspace_deleting(workspace_knowledge_forget)
