"""Plug the host's implementations into the engine for one run (DESIGN.md §4).

Chat models come from the workspace's model providers; HTTP goes through the SSRF-safe client
(allow-list from settings); code runs in the sandbox; memory reads this conversation's messages.
Sub-bots run in the caller's process (``sub_bots.py``); knowledge bases are searched by
``builder/knowledge/retriever.py``; plugin tools run through ``builder/pluginhost/invoker.py``, and
long-running ones wait for their jobs in ``builder/pluginhost/job_runner.py``.

Compiling a graph and building model clients cost more than a whole instant run, so both are
cached: runners by graph fingerprint (a runner is safe for concurrent runs; per-run services are
passed to each run), chat models by the workspace's provider set and its last change. Compiling
(validation included) is CPU work proportional to the graph, about half a second for one of 2,000
nodes, so it happens in a worker thread, never on the event loop that serves every other request
and run; runs that need a graph being compiled wait for that one compile.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from django.conf import settings

from builder.bots.drafts import graph_checksum
from builder.bots.models import BotVersion
from builder.conversations.memory import ConversationWindow
from builder.conversations.models import Run
from builder.conversations.run_rights import RunRights
from builder.conversations.sub_bots import PublishedBotRunner
from builder.core.ssrf import SsrfSafeHttpClient
from builder.credentials.runtime import WorkspaceCredentials
from builder.engine.dsl import parse_graph
from builder.engine.runtime.contract import RuntimeServices
from builder.engine.runtime.limits import RunLimits
from builder.engine.runtime.runner import GraphRunner
from builder.engine.sandbox.runner import SandboxCodeRunner
from builder.engine.values import ModelChoice
from builder.knowledge.retriever import WorkspaceKnowledge
from builder.llm.chat_models import WorkspaceChatModels
from builder.llm.models import ModelProvider
from builder.memory.models import end_user_id_of
from builder.memory.recall import EndUserMemory
from builder.pluginhost.invoker import PluginToolInvoker
from builder.pluginhost.job_runner import PluginJobRunner

CACHE_SIZE = 256
_runners: OrderedDict[tuple[str, int], GraphRunner] = OrderedDict()
_version_graphs: OrderedDict[Any, dict[str, Any]] = OrderedDict()
# Graph compiles, off the event loop (two: a big graph's compile must not queue every other one).
_compiler = ThreadPoolExecutor(max_workers=2, thread_name_prefix="agentloom-compile")
_compiling: dict[tuple[str, int], Future[GraphRunner]] = {}
_compiling_lock = threading.Lock()
# Model clients hold connections that belong to one event loop: one cache per loop.
_chat_models: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, OrderedDict[tuple[Any, ...], WorkspaceChatModels]
] = weakref.WeakKeyDictionary()


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> Any:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
    return value


@lru_cache(maxsize=4)
def _http_client(allow: tuple[str, ...]) -> SsrfSafeHttpClient:
    return SsrfSafeHttpClient(allow=allow)


@lru_cache(maxsize=1)
def _code_runner() -> SandboxCodeRunner:
    return SandboxCodeRunner()


def _workspace_chat_models(
    workspace_id: Any, providers: list[ModelProvider], bot_model: dict[str, Any] | None
) -> WorkspaceChatModels:
    cache = _chat_models.setdefault(asyncio.get_running_loop(), OrderedDict())
    # plugin_enabled: a plugin kind's models stop working in the run after its plugin is disabled.
    versions = sorted((str(p.pk), p.updated_at.isoformat(), p.plugin_enabled) for p in providers)
    key = (workspace_id, repr(bot_model), tuple(versions))
    cached = cache.get(key)
    if cached is not None:
        cache.move_to_end(key)
        return cached
    choice = ModelChoice.model_validate(bot_model) if bot_model else None
    return _remember(cache, key, WorkspaceChatModels(providers, bot_model=choice))  # type: ignore[no-any-return]


def runtime_services(
    run: Run,
    runner: GraphRunner,
    providers: list[ModelProvider],
    *,
    end_user_memory: bool = False,
    rights: RunRights | None = None,
) -> RuntimeServices:
    """The services of one run; ``providers`` are the workspace's model providers, loaded with the run.

    ``end_user_memory``: ``runner`` runs the run's own bot, whose long-term memory of the end user
    nodes may recall (never for a sub-bot: what one bot remembers is not another's). ``rights``:
    what the graph ``runner`` runs may reach (default: the run's own, ``RunRights.of``).
    """
    rights = rights if rights is not None else RunRights.of(run)
    bot_model = runner.graph.settings.model
    end_user = end_user_id_of(run.conversation) if end_user_memory else ""
    http = _http_client(tuple(settings.AGENTLOOM_HTTP_ALLOWLIST))
    return RuntimeServices(
        chat_models=_workspace_chat_models(
            run.bot.workspace_id, providers, bot_model.model_dump(mode="json") if bot_model else None
        ),
        http=http,
        tools=PluginToolInvoker(
            workspace_id=run.bot.workspace_id, run_id=run.pk, http=http, job_runner=PluginJobRunner()
        ),
        code=_code_runner(),
        memory=ConversationWindow(run.conversation_id, run.pk),
        knowledge=WorkspaceKnowledge(run.bot.workspace_id, acting_for=rights.principal, vetted=rights.vetted),
        sub_bots=PublishedBotRunner(run, providers, rights=rights),
        long_term_memory=EndUserMemory.for_bot(run.bot_id, end_user, runner.graph.settings),
        credentials=WorkspaceCredentials(run.bot.workspace_id),
    )


def run_limits() -> RunLimits:
    """What one run may spend, from settings (0 = no limit)."""
    return RunLimits(
        max_steps=settings.RUN_MAX_STEPS or None,
        max_seconds=settings.RUN_MAX_SECONDS or None,
        max_cpu_seconds=settings.RUN_MAX_CPU_SECONDS or None,
    )


async def runner_for(
    document: dict[str, Any], checkpointer: Any = None, *, fingerprint: str | None = None
) -> GraphRunner:
    """The compiled runner of a graph document, compiled once per fingerprint and checkpointer
    (the document's checksum unless the caller knows a cheaper one, such as an immutable version's id)."""
    loop = asyncio.get_running_loop()
    if fingerprint is None:
        fingerprint = await loop.run_in_executor(_compiler, graph_checksum, document)
    key = (fingerprint, id(checkpointer))
    with _compiling_lock:
        cached = _cached_runner(key, checkpointer)
    if cached is not None:
        return cached
    return await asyncio.wrap_future(_compile(key, document, checkpointer), loop=loop)


def _cached_runner(key: tuple[str, int], checkpointer: Any) -> GraphRunner | None:
    cached = _runners.get(key)
    if cached is None or cached.checkpointer is not checkpointer:
        return None
    _runners.move_to_end(key)
    return cached


def _compile(key: tuple[str, int], document: dict[str, Any], checkpointer: Any) -> Future[GraphRunner]:
    """The compile of ``key`` in the compiler's threads, shared by whoever asks before it is done
    (from any event loop: a Celery worker has one per thread). The runner is cached before the
    compile stops being pending, so a caller arriving in between finds one or the other."""
    with _compiling_lock:
        cached = _cached_runner(key, checkpointer)
        if cached is not None:
            done: Future[GraphRunner] = Future()
            done.set_result(cached)
            return done
        pending = _compiling.get(key)
        if pending is None:
            pending = _compiling[key] = _compiler.submit(_compile_and_remember, key, document, checkpointer)
    return pending


def _compile_and_remember(key: tuple[str, int], document: dict[str, Any], checkpointer: Any) -> GraphRunner:
    runner = GraphRunner(parse_graph(document), RuntimeServices(), checkpointer=checkpointer)
    with _compiling_lock:
        _remember(_runners, key, runner)
        _compiling.pop(key, None)
    return runner


async def graph_runner(run: Run) -> GraphRunner:
    if run.graph is not None:  # a draft run's own copy
        return await runner_for(run.graph, await checkpointer_for(run.graph))
    # Versions never change: their graph is read once per process.
    assert run.bot_version_id is not None
    document = _version_graphs.get(run.bot_version_id)
    if document is None:
        graph = await BotVersion.objects.values_list("graph", flat=True).aget(pk=run.bot_version_id)
        document = _remember(_version_graphs, run.bot_version_id, graph)
    return await runner_for(
        document, await checkpointer_for(document), fingerprint=f"version:{run.bot_version_id}"
    )


async def checkpointer_for(document: dict[str, Any]) -> Any:
    """A durable checkpointer for graphs that can pause (question nodes), else none (faster)."""
    if not any(str(node.get("type", "")).split("@")[0] == "question" for node in document.get("nodes", [])):
        return None
    from builder.conversations.checkpoints import durable_checkpointer

    return await durable_checkpointer()
