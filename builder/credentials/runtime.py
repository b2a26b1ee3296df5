"""The engine's ``CredentialStore`` for one run: the run's workspace credentials, decrypted on use.

Only the workspace of the bot that runs is searched, so a graph that names another workspace's
credential (a file imported by hand, a credential deleted since) fails its node with a typed
error, never a 500 and never another workspace's secret.
"""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import sync_to_async

from builder.core.crypto import SecretUnreadable, decrypt_secret
from builder.credentials.models import Credential
from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import node_error

MISSING = gettext_noop("The credential this node uses (%(credential)s) does not exist in this workspace any more.")
UNREADABLE = gettext_noop("The credential %(name)s cannot be decrypted. Enter its value again.")


class WorkspaceCredentials:
    def __init__(self, workspace_id: Any) -> None:
        self.workspace_id = workspace_id

    async def reveal(self, credential_id: str) -> str:
        return await sync_to_async(self._reveal)(credential_id)

    def _reveal(self, credential_id: str) -> str:
        try:
            key = uuid.UUID(credential_id)
        except ValueError:
            key = None
        rows = Credential.objects.filter(workspace_id=self.workspace_id, pk=key) if key else Credential.objects.none()
        row = rows.values_list("name", "value_encrypted").first()
        if row is None:
            raise node_error("credential_missing", MISSING, credential=credential_id)
        name, token = row
        try:
            return decrypt_secret(token)
        except SecretUnreadable:
            raise node_error("credential_unreadable", UNREADABLE, name=name) from None
