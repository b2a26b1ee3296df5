"""The HTTP client a plugin gets: the SSRF-safe client, limited to the hosts its manifest lists.

A manifest lists fixed host patterns, and ``config:<field>`` for an endpoint the user chooses: the
host of the URL in that field of the workspace's settings (``permitted_hosts``). The SSRF checks
are the inner client's and stay as they are: a configured URL on a private address still needs
the server's ``AGENTLOOM_HTTP_ALLOWLIST``.

Python plugins run in the server's process, so this is not a sandbox (a plugin could import httpx
itself); it makes the declared permissions true for the client the SDK hands out, so a plugin that
calls an undeclared host fails in its own tests rather than surprising the admin who enabled it.
Redirects are followed by the inner client, each hop SSRF-checked again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import HttpClient, HttpResponse
from builder.pluginhost.manifest import CONFIG_HOST
from builder.sdk.context import UrlVetting
from builder.sdk.errors import ToolError

NOT_PERMITTED = "network_not_permitted"


def permitted_hosts(network: Sequence[str], config: Mapping[str, Any]) -> list[str]:
    """The manifest's ``network`` for one workspace: each ``config:<field>`` replaced by the host of
    the URL in ``config[field]`` (nothing when the field is empty or not a URL)."""
    hosts: list[str] = []
    for entry in network:
        if not entry.startswith(CONFIG_HOST):
            hosts.append(entry)
        elif (host := _url_host(config.get(entry.removeprefix(CONFIG_HOST)))) is not None:
            hosts.append(host)
    return hosts


def _url_host(value: object) -> str | None:
    """The host of a configured URL, taken literally: never a pattern (``*`` in a setting allows nothing)."""
    if not isinstance(value, str):
        return None
    try:
        host = httpx.URL(value.strip()).host.lower().rstrip(".")
    except (httpx.InvalidURL, TypeError):
        return None
    return host if host and "*" not in host else None


def host_permitted(host: str, patterns: Sequence[str]) -> bool:
    """``patterns`` from the manifest: exact host names, ``*.example.com`` (subdomains), or ``*``."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        if pattern == "*" or pattern == host:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


class PermittedHttpClient:
    """Implements ``HttpClient`` (and ``UrlVetting``): refuses hosts outside ``hosts``, then delegates
    to ``inner``."""

    def __init__(self, inner: HttpClient, hosts: Sequence[str], *, plugin_id: str) -> None:
        self.inner = inner
        self.hosts = tuple(hosts)
        self.plugin_id = plugin_id

    async def vet_url(self, url: str) -> str:
        """``UrlVetting``: the manifest's hosts, then the inner client's SSRF check of ``url``."""
        self._check_host(url)
        if not isinstance(self.inner, UrlVetting):
            raise ToolError(
                f"The {self.plugin_id} plugin cannot open its own connections on this server.", code=NOT_PERMITTED
            )
        return await self.inner.vet_url(url)

    def _check_host(self, url: str) -> None:
        try:
            host = httpx.URL(url).host
        except (httpx.InvalidURL, TypeError):
            host = ""  # the inner client reports an invalid URL in its own words
        if host and not host_permitted(host, self.hosts):
            raise ToolError.from_template(
                NOT_PERMITTED,
                gettext_noop(
                    "The %(plugin)s plugin may not connect to %(host)s: its manifest does not list that host."
                ),
                details={"host": host},
                plugin=self.plugin_id,
                host=host,
            )

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: str | bytes | None = None,
        timeout_s: float = 30.0,
    ) -> HttpResponse:
        self._check_host(url)
        return await self.inner.request(
            method, url, headers=headers, params=params, json=json, data=data, content=content, timeout_s=timeout_s
        )

    async def download(
        self,
        url: str,
        sink: Callable[[bytes], Awaitable[None]],
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 600.0,
    ) -> HttpResponse:
        """The host's download of a job's result file (``SsrfSafeHttpClient.download``), from a host
        the manifest lists."""
        self._check_host(url)
        download = getattr(self.inner, "download", None)
        if download is None:
            raise ToolError.from_template(
                NOT_PERMITTED,
                gettext_noop("The files of the %(plugin)s plugin cannot be downloaded on this server."),
                plugin=self.plugin_id,
            )
        response: HttpResponse = await download(url, sink, max_bytes=max_bytes, headers=headers, timeout_s=timeout_s)
        return response
