"""Write the bot graph's JSON Schema (the frontend/backend contract) to stdout or a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from builder.engine.schema import graph_json_schema


class Command(BaseCommand):
    help = "Print the JSON Schema of a bot graph document (DESIGN.md §3)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--output", type=Path, help="Write to this file instead of stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        text = json.dumps(graph_json_schema(), indent=2, ensure_ascii=False) + "\n"
        if options["output"]:
            options["output"].write_text(text)
        else:
            self.stdout.write(text, ending="")
