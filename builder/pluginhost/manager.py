"""The plugin host: finds plugins through their entry points, checks them, and holds what they register.

Built-in plugins (``plugins/<id>``, declared in Agentloom's own pyproject) and third-party
packages are found the same way: every entry point of the group ``agentloom.plugins`` names a
module whose ``manifest.json`` sits next to it. Loading one plugin:

1. import the module (the entry point's name must be the manifest's id);
2. read and validate ``manifest.json``, including the SDK version it was written for;
3. register the module with pluggy (unknown hook names and bad signatures are refused);
4. call its ``register_*`` hooks and check every item's type;
5. compare what was registered with the manifest's ``provides``, and with its ``permissions``.

Any failure leaves that plugin out, with a problem the admin sees (``plugins list``, the plugin
API); the server and the other plugins carry on. Nothing here imports Django: the SDK's test
harness loads a plugin through this very code.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from builder.engine.nodes import registry as node_registry
from builder.engine.nodes.base import NodeSpec
from builder.pluginhost import hookspecs
from builder.pluginhost.manifest import MANIFEST_FILE, Manifest, ManifestError, load_manifest
from builder.pluginhost.toolsets import ToolSetCache
from builder.sdk.context import CredentialCheck, PluginContext
from builder.sdk.markers import ENTRY_POINT_GROUP, PROJECT_NAME
from builder.sdk.providers import ModelProviderSpec
from builder.sdk.routes import WebhookRoute
from builder.sdk.tools import ToolSpec
from builder.sdk.toolsets import ToolSet

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin that passed every check, with what its hooks registered."""

    id: str
    manifest: Manifest
    module: ModuleType
    source: str
    tools: Mapping[str, ToolSpec[Any, Any]] = field(default_factory=dict)
    providers: Mapping[str, ModelProviderSpec] = field(default_factory=dict)
    node_types: tuple[type[NodeSpec[Any]], ...] = ()
    routes: Mapping[str, WebhookRoute] = field(default_factory=dict)
    # Tools listed per workspace (register_toolsets); see builder/pluginhost/toolsets.py.
    toolsets: Mapping[str, ToolSet] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return _module_directory(self.module)


@dataclass(frozen=True)
class PluginProblem:
    """Why a plugin was left out. ``message`` is English, for the developer and the admin."""

    plugin_id: str
    source: str
    message: str


class PluginLoadError(Exception):
    pass


def _module_directory(module: ModuleType) -> Path:
    filename = getattr(module, "__file__", None)
    if not filename:
        raise PluginLoadError(f"{module!r} is not a module with a file: the entry point must name a module")
    return Path(filename).resolve().parent


def _names(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def _check_provides(what: str, declared: Iterable[str], registered: Iterable[str], hook: str) -> None:
    declared_set, registered_set = set(declared), set(registered)
    if declared_set == registered_set:
        return
    message = (
        f"manifest.json provides.{what} does not match what {hook} registers: "
        f"listed but not registered: {_names(declared_set - registered_set)}; "
        f"registered but not listed: {_names(registered_set - declared_set)}"
    )
    if not registered_set:
        message += f" (is {hook} decorated with @hookimpl from builder.sdk?)"
    raise PluginLoadError(message)


def _items(results: list[Any], hook: str, expected: str) -> list[Any]:
    items: list[Any] = []
    for result in results:
        if result is None:
            continue
        if isinstance(result, str | bytes | Mapping) or not isinstance(result, Iterable):
            raise PluginLoadError(f"{hook} must return a list of {expected}, not {type(result).__name__}")
        items.extend(result)
    return items


class PluginHost:
    """The loaded plugins of one process (``get_host()``), or of one test (``builder.sdk.testing``).

    ``activate_node_types``: also add the plugins' node types to the engine's registry (the
    process-wide host does; a throwaway host for validation or a test does not).
    """

    def __init__(self, *, activate_node_types: bool = False) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.activate_node_types = activate_node_types
        self.plugins: dict[str, LoadedPlugin] = {}
        self.problems: dict[str, PluginProblem] = {}
        self._started = False
        # The tools each tool set listed, per state of a workspace's settings.
        self.toolset_cache = ToolSetCache()

    # --- loading ------------------------------------------------------------------------------
    def discover(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every plugin installed under the entry-point group (built-ins included)."""
        for entry_point in sorted(entry_points(group=group), key=lambda ep: (ep.name, ep.value)):
            self.load_entry_point(entry_point)

    def load_entry_point(self, entry_point: EntryPoint) -> LoadedPlugin | None:
        dist = entry_point.dist
        source = f"entry point {entry_point.name} = {entry_point.value}"
        if dist is not None:
            source += f" ({dist.name} {dist.version})"
        try:
            loaded = entry_point.load()
        except Exception as error:  # an import error in a plugin must not stop the server
            logger.exception("cannot import the plugin %s", entry_point.name)
            self.refuse(entry_point.name, source, f"cannot import {entry_point.value}: {type(error).__name__}: {error}")
            return None
        if not isinstance(loaded, ModuleType):
            self.refuse(
                entry_point.name, source, f"{entry_point.value} must name a module, not {type(loaded).__name__}"
            )
            return None
        return self.load(loaded, plugin_id=entry_point.name, source=source)

    def load(
        self,
        module: ModuleType,
        *,
        plugin_id: str | None = None,
        manifest_path: Path | None = None,
        source: str = "",
    ) -> LoadedPlugin | None:
        """Check and register one plugin module; None (and a problem recorded) when it is refused."""
        source = source or f"module {module.__name__}"
        name = plugin_id or module.__name__
        try:
            path = manifest_path or _module_directory(module) / MANIFEST_FILE
            manifest = load_manifest(path)
            name = plugin_id or manifest.id
            if plugin_id is not None and plugin_id != manifest.id:
                raise PluginLoadError(f"the entry point is named {plugin_id} but manifest.json has id {manifest.id}")
            if manifest.id in self.plugins:
                raise PluginLoadError(
                    f"a plugin with id {manifest.id} is already loaded from {self.plugins[manifest.id].source}"
                )
            plugin = self._register(module, manifest, source)
        except (PluginLoadError, ManifestError) as error:
            self.refuse(name, source, str(error))
            return None
        self.plugins[plugin.id] = plugin
        self.problems.pop(plugin.id, None)
        return plugin

    def refuse(self, plugin_id: str, source: str, message: str) -> None:
        """Record why a plugin is left out (logged, and listed for the admin)."""
        logger.error("plugin %s left out (%s): %s", plugin_id, source, message)
        # A second plugin with a loaded plugin's id is listed under its source, not over the first.
        key = plugin_id if plugin_id not in self.plugins else f"{plugin_id} ({source})"
        self.problems[key] = PluginProblem(plugin_id=plugin_id, source=source, message=message)

    def _register(self, module: ModuleType, manifest: Manifest, source: str) -> LoadedPlugin:
        try:
            self.pm.register(module, name=manifest.id)
        except ValueError as error:  # the same module under two ids
            raise PluginLoadError(f"cannot register the module: {error}") from None
        except pluggy.PluginValidationError as error:
            raise PluginLoadError(f"invalid hook implementation: {error}") from None
        try:
            self.pm.check_pending()
            plugin = self._collect(module, manifest, source)
            if self.activate_node_types:
                self._activate_node_types(plugin)
        except pluggy.PluginValidationError as error:
            self.pm.unregister(module)
            raise PluginLoadError(f"invalid hook implementation: {error}") from None
        except PluginLoadError:
            self.pm.unregister(module)
            raise
        except Exception as error:  # a hook that raises while registering
            self.pm.unregister(module)
            logger.exception("a hook of the plugin %s raised while loading", manifest.id)
            raise PluginLoadError(f"a hook raised while loading: {type(error).__name__}: {error}") from None
        return plugin

    def call_hook(self, plugin_id: str, hook: str, /, **kwargs: Any) -> Any:
        """Call ``hook`` on one plugin only (a list of results, or the first for firstresult hooks)."""
        others = [plugin for name, plugin in self.pm.list_name_plugin() if name != plugin_id]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs)

    def _collect(self, module: ModuleType, manifest: Manifest, source: str) -> LoadedPlugin:
        plugin_id = manifest.id
        tools: dict[str, ToolSpec[Any, Any]] = {}
        for item in _items(self.call_hook(plugin_id, "register_tools"), "register_tools", "ToolSpec"):
            if not isinstance(item, ToolSpec):
                raise PluginLoadError(f"register_tools returned a {type(item).__name__}, not a ToolSpec")
            if item.name in tools:
                raise PluginLoadError(f"register_tools registers two tools named {item.name}")
            tools[item.name] = item
        providers: dict[str, ModelProviderSpec] = {}
        hook = "register_model_providers"
        for item in _items(self.call_hook(plugin_id, hook), hook, "ModelProviderSpec"):
            if not isinstance(item, ModelProviderSpec):
                raise PluginLoadError(f"{hook} returned a {type(item).__name__}, not a ModelProviderSpec")
            if item.kind in providers:
                raise PluginLoadError(f"{hook} registers two providers of kind {item.kind}")
            providers[item.kind] = item
        node_types: list[type[NodeSpec[Any]]] = []
        for item in _items(self.call_hook(plugin_id, "register_node_types"), "register_node_types", "NodeSpec"):
            if not (isinstance(item, type) and issubclass(item, NodeSpec)):
                raise PluginLoadError(f"register_node_types returned {item!r}, not a NodeSpec subclass")
            node_types.append(item)
        routes: dict[str, WebhookRoute] = {}
        for item in _items(self.call_hook(plugin_id, "register_routes"), "register_routes", "WebhookRoute"):
            if not isinstance(item, WebhookRoute):
                raise PluginLoadError(f"register_routes returned a {type(item).__name__}, not a WebhookRoute")
            if item.path in routes:
                raise PluginLoadError(f"register_routes registers {item.path} twice")
            routes[item.path] = item
        toolsets: dict[str, ToolSet] = {}
        for item in _items(self.call_hook(plugin_id, "register_toolsets"), "register_toolsets", "ToolSet"):
            if not isinstance(item, ToolSet):
                raise PluginLoadError(f"register_toolsets returned a {type(item).__name__}, not a ToolSet")
            if item.name in toolsets:
                raise PluginLoadError(f"register_toolsets registers two tool sets named {item.name}")
            toolsets[item.name] = item

        provides = manifest.provides
        _check_provides("tools", provides.tools, tools, "register_tools")
        _check_provides("providers", provides.providers, providers, "register_model_providers")
        _check_provides("node_types", provides.node_types, {spec.name for spec in node_types}, "register_node_types")
        _check_provides("toolsets", provides.toolsets, toolsets, "register_toolsets")
        long_running = sorted(name for name, spec in tools.items() if spec.long_running)
        if long_running and not manifest.permissions.long_running:
            raise PluginLoadError(
                f"the tools {', '.join(long_running)} are long-running: manifest.json needs "
                '"permissions": {"long_running": true}'
            )
        if routes and not manifest.permissions.webhooks:
            raise PluginLoadError(
                'register_routes serves webhooks: manifest.json needs "permissions": {"webhooks": true}'
            )
        return LoadedPlugin(
            id=plugin_id,
            manifest=manifest,
            module=module,
            source=source,
            tools=tools,
            providers=providers,
            node_types=tuple(node_types),
            routes=routes,
            toolsets=toolsets,
        )

    def _activate_node_types(self, plugin: LoadedPlugin) -> None:
        fresh: list[type[NodeSpec[Any]]] = []
        for spec in plugin.node_types:
            try:
                existing = node_registry.get_spec(spec.name, spec.version)
            except KeyError:
                fresh.append(spec)
                continue
            if type(existing) is not spec:
                raise PluginLoadError(f"the node type {spec.name}@{spec.version} exists already")
        for spec in fresh:
            node_registry.register(spec)

    # --- running ------------------------------------------------------------------------------
    def start(self) -> None:
        """Call every plugin's ``startup`` hook once; a plugin whose startup raises is left out."""
        if self._started:
            return
        self._started = True
        for plugin_id in list(self.plugins):
            try:
                self.call_hook(plugin_id, "startup")
            except Exception as error:
                logger.exception("the startup hook of the plugin %s raised", plugin_id)
                self.remove(plugin_id, f"startup raised {type(error).__name__}: {error}")

    def remove(self, plugin_id: str, reason: str) -> None:
        plugin = self.plugins.pop(plugin_id)
        self.pm.unregister(plugin.module)
        self.refuse(plugin_id, plugin.source, reason)

    def get(self, plugin_id: str) -> LoadedPlugin | None:
        return self.plugins.get(plugin_id)

    def tool(self, plugin_id: str, tool: str) -> ToolSpec[Any, Any] | None:
        plugin = self.plugins.get(plugin_id)
        return plugin.tools.get(tool) if plugin is not None else None

    def route(self, plugin_id: str, path: str) -> WebhookRoute | None:
        plugin = self.plugins.get(plugin_id)
        return plugin.routes.get(path) if plugin is not None else None

    def check_config(self, plugin_id: str, config: Mapping[str, Any]) -> Mapping[str, Sequence[str]]:
        """The plugin's offline ``check_config`` problems with ``config`` (field path → messages)."""
        problems = self.call_hook(plugin_id, "check_config", plugin_id=plugin_id, config=config)
        if problems is None:
            return {}
        if not isinstance(problems, Mapping):
            raise TypeError(f"check_config of the plugin {plugin_id} returned {type(problems).__name__}, not a dict")
        return {
            str(where): [messages] if isinstance(messages, str) else [str(message) for message in messages]
            for where, messages in problems.items()
        }

    def validate_config(self, plugin_id: str, config: Mapping[str, Any], ctx: PluginContext) -> Any:
        """The plugin's ``validate_config`` answer: a ``CredentialCheck``, an awaitable of one, or None."""
        return self.call_hook(plugin_id, "validate_config", plugin_id=plugin_id, config=config, ctx=ctx)

    def sorted_plugins(self) -> Sequence[LoadedPlugin]:
        return [self.plugins[plugin_id] for plugin_id in sorted(self.plugins)]


_host: PluginHost | None = None
_host_lock = threading.Lock()


def get_host() -> PluginHost:
    """The process's plugin host: every installed plugin, loaded and started on first use."""
    global _host
    with _host_lock:
        if _host is None:
            host = PluginHost(activate_node_types=True)
            host.discover()
            host.start()
            _host = host
        return _host


def set_host(host: PluginHost | None) -> PluginHost | None:
    """Replace the process's host (tests); None makes the next ``get_host()`` discover again."""
    global _host
    with _host_lock:
        previous, _host = _host, host
    return previous


__all__ = ["CredentialCheck", "LoadedPlugin", "PluginHost", "PluginProblem", "get_host", "set_host"]
