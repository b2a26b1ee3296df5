"""Create a demo admin, a demo workspace and the example bots; print how to log in. Idempotent."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from builder.accounts.models import User, Workspace
from builder.accounts.services import workspace_create
from builder.bots.models import Bot
from builder.bots.transfer import bot_import, parse_bot_file

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "bots" / "examples"


class Command(BaseCommand):
    help = "Create the demo admin user, the demo workspace and the example bots."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@example.com")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        credentials_file = Path(settings.VAR_DIR) / "demo-login.txt"
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(options["username"], options["email"], password)
            credentials_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created 0600, never readable by others even for a moment: it holds the admin's password.
            descriptor = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(descriptor, 0o600)  # a file an older version left readable
            with os.fdopen(descriptor, "w") as handle:
                handle.write(f"{options['username']}\n{password}\n")
        workspace = Workspace.objects.filter(memberships__user=user, name="Demo").first()
        if workspace is None:
            workspace = workspace_create(actor=user, name="Demo", description="Example bots to start from.")
        for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
            raw = path.read_bytes()
            if not Bot.objects.filter(workspace=workspace, name=parse_bot_file(raw)["bot"]["name"]).exists():
                bot_import(actor=user, workspace=workspace, raw=raw)
        self._print_login(user, credentials_file)

    def _print_login(self, user: User, credentials_file: Path) -> None:
        lines = credentials_file.read_text().split() if credentials_file.exists() else []
        password = lines[1] if len(lines) > 1 else "(the password you set)"
        self.stdout.write(self.style.SUCCESS("Agentloom demo is ready."))
        self.stdout.write(f"  Admin:    http://127.0.0.1:8000/admin/   user: {user.username}   password: {password}")
        self.stdout.write("  API docs: http://127.0.0.1:8000/api/docs/")
        self.stdout.write(f"  (credentials saved in {credentials_file})")
