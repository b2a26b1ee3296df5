"""The Celery app. Tasks live in each app's ``tasks.py`` and are found by autodiscovery.

All options come from Django settings under the ``CELERY_`` prefix, so the embedded default
(``CELERY_TASK_ALWAYS_EAGER``: tasks run inline) and production (Redis broker) are one switch
in ``builder/config/settings.py``. Start a worker with ``celery -A builder.config worker``.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder.config.settings")

app = Celery("agentloom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Workers load the plugins as they start, before their first task: runs need the plugins' node
# types registered (builder/pluginhost/node_types.py). Celery's Django fixup has set Django up by then.
@signals.worker_init.connect
def _load_plugins_in_worker(sender: Any, **kwargs: Any) -> None:
    from celery.concurrency import get_implementation
    from celery.concurrency.prefork import TaskPool as PreforkPool

    if issubclass(get_implementation(sender.pool_cls), PreforkPool):
        return  # each child process loads its own (below), so plugins' startup hooks run where tasks do
    _load_plugins()


@signals.worker_process_init.connect
def _load_plugins_in_pool_process(**kwargs: Any) -> None:
    _load_plugins()


def _load_plugins() -> None:
    from builder.core.long_lived import freeze_loaded_objects
    from builder.pluginhost.node_types import ensure_loaded

    ensure_loaded()
    # What a worker loaded stays out of full garbage collections, which would pause its runs.
    freeze_loaded_objects()
