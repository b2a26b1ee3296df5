"""Signals the accounts app sends to the apps that keep data outside the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

# Sent by ``workspace_delete`` inside its transaction, before the rows go (``workspace=``). The
# database drops everything of the workspace by cascade; receivers forget what it cannot reach
# (search index entries, stored files), deferred with ``transaction.on_commit`` so a rolled-back
# deletion loses nothing.
workspace_deleting = Signal()


def on_workspace_deleting(forget: Callable[..., None]) -> None:
    """Call ``forget(workspace_id=…)`` when a workspace is being deleted (from an app's ready())."""

    def receiver(sender: Any, *, workspace: Any, **_: Any) -> None:
        forget(workspace_id=workspace.pk)

    workspace_deleting.connect(receiver, weak=False, dispatch_uid=f"{forget.__module__}.{forget.__qualname__}")
