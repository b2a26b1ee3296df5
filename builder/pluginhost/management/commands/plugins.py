"""``manage.py plugins scaffold <id> [--dir DIR] | validate [PATH] | list``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from builder.pluginhost.manager import PluginHost, get_host
from builder.pluginhost.scaffold import ScaffoldError, scaffold_plugin
from builder.pluginhost.validation import NotAPlugin, validate_path


class Command(BaseCommand):
    help = "Create a plugin package, check plugins as the server loads them, or list the installed ones."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="{scaffold,validate,list}")
        scaffold = commands.add_parser("scaffold", help="Write a new plugin package with a passing test.")
        scaffold.add_argument("plugin_id", help="The plugin id: lowercase letters, digits, underscores.")
        scaffold.add_argument("--dir", default=".", help="Where to create the <id>/ folder (default: here).")
        validate = commands.add_parser("validate", help="Load plugins as the server would and report problems.")
        validate.add_argument(
            "path", nargs="?", help="A plugin package folder or a project folder; default: every installed plugin."
        )
        commands.add_parser("list", help="The installed plugins, their tools, and those the server refuses.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "scaffold":
            self._scaffold(options["plugin_id"], Path(options["dir"]))
        elif action == "validate":
            self._validate(Path(options["path"]) if options["path"] else None)
        else:
            self._report(get_host())

    def _scaffold(self, plugin_id: str, directory: Path) -> None:
        try:
            root = scaffold_plugin(plugin_id, directory)
        except ScaffoldError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"Created {root}"))
        self.stdout.write(f"Next: cd {root} && python -m pytest, then pip install -e {root}")

    def _validate(self, path: Path | None) -> None:
        try:
            host = validate_path(path)
        except NotAPlugin as error:
            raise CommandError(str(error)) from None
        self._report(host)
        if host.problems:
            raise CommandError(f"{len(host.problems)} plugin(s) would be refused")
        if not host.plugins:
            raise CommandError("no plugin found")

    def _report(self, host: PluginHost) -> None:
        for plugin in host.sorted_plugins():
            manifest = plugin.manifest
            self.stdout.write(self.style.SUCCESS(f"ok  {plugin.id} {manifest.version}") + f"  {manifest.name}")
            self.stdout.write(f"    from {plugin.source}")
            for name, spec in sorted(plugin.tools.items()):
                kind = "long-running, " if spec.long_running else ""
                self.stdout.write(f"    tool {name} ({kind}timeout {spec.timeout_s:g} s)")
            for name, toolset in sorted(plugin.toolsets.items()):
                self.stdout.write(f"    tool set {name} (tools listed per workspace: {toolset.description})")
            for kind in sorted(plugin.providers):
                self.stdout.write(f"    model provider {kind}")
            for node_type in plugin.node_types:
                self.stdout.write(f"    node type {node_type.name}@{node_type.version}")
            for route in sorted(plugin.routes):
                self.stdout.write(f"    webhook {route}")
        for _key, problem in sorted(host.problems.items()):
            self.stdout.write(self.style.ERROR(f"ERR {problem.plugin_id}") + f"  {problem.message}")
            self.stdout.write(f"    from {problem.source}")
        if not host.plugins and not host.problems:
            self.stdout.write("No plugins installed.")
