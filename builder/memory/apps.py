from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MemoryConfig(AppConfig):
    name = "builder.memory"
    label = "memory"
    verbose_name = _("Memory")
