"""Failed sign-ins, counted per username and per client address: past a limit, signing in is
refused for a while, the right password included, so guessing stays slow (by default 5 tries per
account and 20 per address every 15 minutes).

The counts live in Django's cache: Redis in production (shared by every web process), the process's
memory on the embedded default (one process). Only failures count. A success clears its username's
count but not its address's: signing in to one's own account must not reset the guesses at others.
The address is the connection's (``REMOTE_ADDR``; uvicorn takes it from ``X-Forwarded-For`` only
for the proxies it trusts), never a header the client writes.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from builder.accounts.models import User

_PREFIX = "agentloom:login-failures"
# Part of every key: raising it forgets every count and lock-out at once (login_lockouts_clear).
_GENERATION_KEY = f"{_PREFIX}:generation"


def login_username(identifier: str) -> str:
    """The username that ``identifier`` (a username or an email) signs in as."""
    if "@" not in identifier:
        return identifier
    username = User.objects.filter(email__iexact=identifier).values_list("username", flat=True).first()
    return username or identifier


def login_lockout_remaining(*, username: str | None, address: str | None) -> int:
    """Seconds until ``username`` and ``address`` may try to sign in again; 0: now."""
    now = time.time()
    locks = cache.get_many([_lock_key(counter) for counter, _limit in _counters(username, address)])
    return max((math.ceil(until - now) for until in locks.values() if until > now), default=0)


def login_failure_record(*, username: str | None, address: str | None) -> None:
    """Count a failed sign-in; a count reaching its limit locks out for ``LOGIN_LOCKOUT_S``."""
    window = int(settings.LOGIN_LOCKOUT_S)
    for counter, limit in _counters(username, address):
        if limit <= 0:
            continue
        cache.add(counter, 0, timeout=window)  # the window starts at the first failure
        try:
            failures = cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.set(counter, 1, timeout=window)
            failures = 1
        if failures >= limit:
            cache.set(_lock_key(counter), time.time() + window, timeout=window + 1)
            cache.delete(counter)  # after the lock-out, a fresh count


def login_success_record(*, username: str) -> None:
    """The account's failures are forgotten (its address's are not)."""
    cache.delete_many([counter for counter, _limit in _counters(username, None)])


def login_lockouts_clear() -> None:
    """Forget every count and lock-out (an operator after an incident; tests between tests)."""
    cache.add(_GENERATION_KEY, 0, timeout=None)
    cache.incr(_GENERATION_KEY)


def client_address(request: Request) -> str | None:
    address = request.META.get("REMOTE_ADDR")
    return str(address) if address else None


class LoginThrottled(exceptions.Throttled):
    default_code = "login_throttled"

    def __init__(self, seconds: int) -> None:
        message = _(
            "Too many failed sign-ins for this account or from this address. Try again in %(seconds)s seconds."
        ) % {"seconds": seconds}
        super().__init__(detail=message)
        self.wait = seconds  # Retry-After


class LoginThrottle(BaseThrottle):
    """Refuses a sign-in while its username or its address is locked out (a 429 with Retry-After)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        identifier = request.data.get("username") if isinstance(request.data, dict) else None
        username = login_username(identifier) if isinstance(identifier, str) and identifier else None
        seconds = login_lockout_remaining(username=username, address=client_address(request))
        if seconds:
            raise LoginThrottled(seconds)
        return True


def _counters(username: str | None, address: str | None) -> list[tuple[str, int]]:
    generation = cache.get(_GENERATION_KEY, 0)
    counters: list[tuple[str, int]] = []
    if username:
        digest = hashlib.sha256(username.lower().encode()).hexdigest()  # no user input in cache keys
        counters.append((f"{_PREFIX}:{generation}:username:{digest}", int(settings.LOGIN_MAX_FAILURES_PER_USERNAME)))
    if address:
        counters.append((f"{_PREFIX}:{generation}:address:{address}", int(settings.LOGIN_MAX_FAILURES_PER_ADDRESS)))
    return counters


def _lock_key(counter: str) -> str:
    return f"{counter}:locked"
