from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from builder.accounts.models import User, Workspace
from builder.bots.models import Bot
from builder.bots.transfer import parse_bot_file
from builder.engine.dsl import validate_graph

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "builder" / "bots" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_bot_is_a_valid_publishable_graph(path: Path) -> None:
    validate_graph(parse_bot_file(path.read_bytes())["graph"])


@pytest.mark.django_db
def test_seed_demo_creates_admin_workspace_and_examples_once(tmp_path: Path, settings) -> None:
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("seed_demo", stdout=out)
    password = (tmp_path / "demo-login.txt").read_text().split()[1]
    assert f"password: {password}" in out.getvalue()
    assert User.objects.get(username="admin").check_password(password)
    workspace = Workspace.objects.get(name="Demo")
    assert Bot.objects.filter(workspace=workspace).count() == len(EXAMPLES) >= 3
    call_command("seed_demo", stdout=StringIO())
    assert Bot.objects.count() == len(EXAMPLES) and User.objects.count() == 1


def test_dsl_schema_command_writes_the_graph_schema(tmp_path: Path) -> None:
    import json

    from builder.engine.schema import graph_json_schema

    target = tmp_path / "graph.schema.json"
    call_command("dsl_schema", output=target)
    assert json.loads(target.read_text()) == graph_json_schema()
    out = StringIO()
    call_command("dsl_schema", stdout=out)
    assert json.loads(out.getvalue())["title"] == "Agentloom bot graph"
