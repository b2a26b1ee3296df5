"""Learn from a finished turn where this deployment runs background work (``builder.core.background``)."""

from __future__ import annotations

from builder.core.background import run_in_background


def dispatch_turn_learning(run_id: str) -> None:
    """Extract and remember facts about the user from a finished run (``memory.learn_from_turn``)."""
    from builder.memory.tasks import learn_from_turn_task

    run_in_background(learn_from_turn_task, run_id, lane="memory-learn")
