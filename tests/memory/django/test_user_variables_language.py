"""The builder's edit of an end user's variables is refused in the request's language, with the reason."""

from __future__ import annotations

import pytest

from builder.memory.models import EndUser
from tests.factories import client_for, error_of
from tests.memory.django.conftest import new_workspace, published_bot
from tests.memory.django.test_user_variables import counting_bot

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_value_of_the_wrong_type_is_refused_in_the_request_language() -> None:
    workspace, owner = new_workspace()
    bot = published_bot(workspace, counting_bot())
    alice = EndUser.objects.create(bot=bot, end_user_id="alice")
    client = client_for(owner)
    url = f"/api/v1/bots/{bot.pk}/end-users/{alice.pk}/variables"

    english = client.patch(url, {"values": {"visits": "many"}}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    chinese = client.patch(url, {"values": {"visits": "many"}}, format="json", HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert english.status_code == chinese.status_code == 400
    assert error_of(english)["fields"] == {"values.visits": ["The value is not valid: expected a number (number)."]}
    assert error_of(chinese)["fields"] == {"values.visits": ["值无效：应为数字（number）。"]}
    alice.refresh_from_db()
    assert alice.variables == {}
