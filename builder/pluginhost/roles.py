"""Which workspace actions govern plugins.

Seeing the plugins (to pick their tools on the canvas) is part of seeing the workspace; enabling
them and holding their credentials is what managing model providers already means (admins and
owners). Dedicated ``plugins.*`` actions in ``builder/accounts/roles.py`` can replace these two
names without touching the services.
"""

from __future__ import annotations

from typing import Final

from builder.accounts.roles import Action

PLUGINS_VIEW: Final = Action.WORKSPACE_VIEW
PLUGINS_MANAGE: Final = Action.MODEL_PROVIDERS_MANAGE
