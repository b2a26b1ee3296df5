"""Two editors saving the same revision at the same instant: exactly one wins, nothing is lost."""

import copy
import threading
from typing import Any

import pytest
from django.db import connection

from builder.accounts.roles import Role
from builder.bots.models import Bot
from builder.bots.services import bot_draft_save
from builder.core.exceptions import Conflict
from tests.factories import make_bot, make_workspace, member


@pytest.mark.production
@pytest.mark.django_db(transaction=True)
def test_simultaneous_saves_of_one_revision_let_exactly_one_through() -> None:
    workspace = make_workspace()
    bot = make_bot(workspace)
    editors = [member(workspace, Role.EDITOR) for _ in range(6)]
    barrier = threading.Barrier(len(editors))
    outcomes: list[Any] = []

    def save(index: int) -> None:
        draft = copy.deepcopy(bot.draft)
        draft["settings"]["persona"] = f"editor {index}"
        barrier.wait()
        try:
            bot_draft_save(actor=editors[index], bot=Bot.objects.get(pk=bot.pk), draft=draft, revision=1)
            outcomes.append(index)
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(index,)) for index in range(len(editors))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [outcome for outcome in outcomes if outcome != "conflict"]
    assert len(winners) == 1 and outcomes.count("conflict") == len(editors) - 1
    bot.refresh_from_db()
    assert bot.draft_revision == 2
    assert bot.draft["settings"]["persona"] == f"editor {winners[0]}"
