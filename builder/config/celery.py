"""The Celery app. Tasks live in each app's ``tasks.py`` and are found by autodiscovery.

All options come from Django settings under the ``CELERY_`` prefix, so the embedded default
(``CELERY_TASK_ALWAYS_EAGER``: tasks run inline) and production (Redis broker) are one switch
in ``builder/config/settings.py``. Start a worker with ``celery -A builder.config worker``.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder.config.settings")

app = Celery("agentloom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
