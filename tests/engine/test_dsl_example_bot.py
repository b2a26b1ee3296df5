"""A realistic multi-branch bot passes validation and survives a save/load round trip."""

from __future__ import annotations

import copy
import json

from builder.engine.dsl import parse_graph, validate_graph
from builder.engine.nodes.intent import IntentConfig
from tests.engine.graphs import support_bot


def test_the_support_bot_is_valid() -> None:
    graph = validate_graph(support_bot())

    route = graph.node("route")
    assert isinstance(route.config, IntentConfig)
    assert route.config.intents[2].description == "Where is my order"
    assert route.spec.source_handles(route.config) == {"question", "maths", "order", "digest", "other"}
    assert graph.node("line").parent_id == "digest"
    assert graph.settings.model is not None and graph.settings.model.temperature == 0.2


def test_the_support_bot_round_trips_through_json() -> None:
    saved = validate_graph(support_bot()).to_document()

    reloaded = validate_graph(json.loads(json.dumps(saved))).to_document()

    assert reloaded == saved
    assert saved["nodes"][3]["data"]["error"]["default_outputs"] == {"text": "?"}
    assert saved["nodes"][7]["data"]["body"]["content"] == {"query": {"ref": ["sys", "query"]}, "source": "bot"}


def test_saving_keeps_what_the_user_wrote_and_adds_no_defaults() -> None:
    original = support_bot()

    saved = parse_graph(copy.deepcopy(original)).to_document()

    assert [n["data"] for n in saved["nodes"]] == [n["data"] for n in original["nodes"]]
    assert saved["edges"] == original["edges"]
    assert saved["variables"] == original["variables"]
