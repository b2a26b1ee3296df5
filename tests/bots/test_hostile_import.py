"""Hostile bot files (numbers and value counts made to burn CPU, YAML-only types) are refused with a
400 naming the field and the reason, and write nothing; a hand-edited file keeps what it says."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from builder.bots.models import Bot
from builder.bots.yaml_safety import MAX_VALUES
from builder.core.untrusted import MAX_INTEGER_DIGITS
from tests.bots.test_import_export import export, upload
from tests.factories import client_for, error_of, make_bot, make_workspace, owner_of

pytestmark = pytest.mark.django_db


def exported_with(value: str, *, at: tuple[str, str] = ("data", "title")) -> str:
    """A valid export whose first node holds the raw YAML ``value`` at ``at``."""
    workspace = make_workspace()
    data = yaml.safe_load(export(client_for(owner_of(workspace)), make_bot(workspace, name="Hostile")))
    data["graph"]["nodes"][0][at[0]][at[1]] = "PLACEHOLDER"
    return yaml.safe_dump(data, allow_unicode=True, width=1_000_000).replace("PLACEHOLDER", value)


def refusal(response: Any) -> str:
    """The reason given for the ``file`` field of a refused import."""
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid_import", error
    assert list(error["fields"]) == ["file"], error
    return str(error["fields"]["file"][0])


NUMBER = ("position", "x")


@pytest.mark.parametrize(
    ("label", "value", "reason", "at"),
    [
        ("a 100,000-digit integer", "1" * 100_000, str(MAX_INTEGER_DIGITS), NUMBER),
        ("a sexagesimal integer of 100,000 characters", "1" + ":10" * 33_333, str(MAX_INTEGER_DIGITS), NUMBER),
        ("an infinite float", ".inf", "finite", NUMBER),
        ("a float that overflows", "1.0e+999", "finite", NUMBER),
        ("binary data", "!!binary aGVsbG8=", "binary", ("data", "title")),
        ("a set", "!!set {a, b}", "set", ("data", "title")),
    ],
)
def test_numbers_and_types_json_cannot_hold_are_refused(
    label: str, value: str, reason: str, at: tuple[str, str]
) -> None:
    text = exported_with(value, at=at)
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    before = Bot.objects.count()
    response = upload(client, workspace, text)
    assert reason in refusal(response), label
    assert Bot.objects.count() == before


def test_a_file_with_more_values_than_the_limit_is_refused_naming_the_limit() -> None:
    text = exported_with("[" + ",".join(["0"] * MAX_VALUES) + "]")
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    before = Bot.objects.count()
    response = upload(client, workspace, text)
    assert str(MAX_VALUES) in refusal(response).replace(",", "")
    assert Bot.objects.count() == before


def test_a_lone_surrogate_escape_is_refused() -> None:
    text = exported_with('"\\ud800"')
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    before = Bot.objects.count()
    refusal(upload(client, workspace, text))
    assert Bot.objects.count() == before


def test_an_unquoted_date_in_a_hand_edited_file_stays_the_text_it_was() -> None:
    text = exported_with("2024-01-31")
    workspace = make_workspace()
    client = client_for(owner_of(workspace))
    response = upload(client, workspace, text)
    assert response.status_code == 201, response.content
    imported = Bot.objects.get(pk=response.json()["bot"]["id"])
    assert imported.draft["nodes"][0]["data"]["title"] == "2024-01-31"
