"""Celery entry points of the core app."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="core.health_probe")
def health_probe(token: str) -> str:
    """Echo ``token``: proves a worker took a task off the broker and stored its result.

    Writes nothing, so running it twice (acks_late redelivery) is harmless.
    """
    return token
