"""Celery entry points of the memory app (thin: they take ids and call a service)."""

from __future__ import annotations

from celery import shared_task

from builder.memory.services import turn_learn


@shared_task(name="memory.learn_from_turn", acks_late=True)
def learn_from_turn_task(run_id: str) -> None:
    """Safe to deliver twice: a fact learned again only refreshes the remembered one."""
    turn_learn(run_id=run_id)
