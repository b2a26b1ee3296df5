"""Every user-facing string is translated: English source, 简体中文 catalogue, compiled and in sync."""

from pathlib import Path

import polib
import pytest
from django.utils import translation
from rest_framework.test import APIClient

from tests.factories import error_of

LOCALE = Path(__file__).resolve().parent.parent / "builder" / "locale"


def test_chinese_catalogue_is_complete_and_compiled() -> None:
    po = polib.pofile(str(LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    untranslated = [entry.msgid for entry in po if not entry.translated() and not entry.obsolete]
    assert untranslated == []
    fuzzy = [entry.msgid for entry in po.fuzzy_entries()]
    assert fuzzy == []
    mo = polib.mofile(str(LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.mo"))
    assert {e.msgid: e.msgstr for e in mo} == {e.msgid: e.msgstr for e in po if e.translated() and not e.obsolete}


@pytest.mark.django_db
def test_errors_follow_the_request_language() -> None:
    client = APIClient()
    english = client.post("/api/v1/auth/login", {"username": "x", "password": "y"})
    chinese = client.post("/api/v1/auth/login", {"username": "x", "password": "y"}, HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert error_of(english)["message"] == "Wrong username or password."
    assert error_of(chinese)["message"] == "用户名或密码错误。"


def test_engine_problem_templates_are_translated() -> None:
    from builder.bots.graph_errors import problem_message
    from builder.engine.dsl import GraphInvalid, parse_graph

    with pytest.raises(GraphInvalid) as caught:
        parse_graph(
            {
                "version": 1,
                "nodes": [{"id": "a", "type": "teleport", "data": {}, "position": {"x": 0, "y": 0}}],
                "edges": [],
            }
        )
    with translation.override("zh-hans"):
        message = problem_message(caught.value.problems[0])
    assert message != caught.value.problems[0].message
    assert any("\u4e00" <= char <= "\u9fff" for char in message)
