"""diff_graphs: what changed between two versions, ignoring layout."""

from __future__ import annotations

import copy

from builder.engine.graph_diff import diff_graphs
from tests.engine.graphs import chat_bot, edge, node


def test_identical_graphs_have_an_empty_diff() -> None:
    diff = diff_graphs(chat_bot(), chat_bot())

    assert diff.is_empty


def test_moving_and_selecting_nodes_is_not_a_change() -> None:
    new = chat_bot()
    new["nodes"][1]["position"] = {"x": 500, "y": -20}
    new["nodes"][1].update(selected=True, dragging=False, measured={"width": 200, "height": 80}, width=200)
    new["edges"][0]["selected"] = True

    assert diff_graphs(chat_bot(), new).is_empty


def test_added_removed_and_changed_nodes() -> None:
    old = chat_bot()
    old["nodes"].append(node("note", "template", {"template": "x"}))
    new = copy.deepcopy(old)
    new["nodes"] = [n for n in new["nodes"] if n["id"] != "note"]
    new["nodes"].append(node("extra", "answer", {"text": "more"}))
    new["nodes"][1]["data"]["user_prompt"] = "Something else"
    new["nodes"][1]["data"]["model"] = {"provider": "openai", "name": "gpt-4o"}
    new["nodes"][2]["type"] = "answer@1"  # the same type, now pinned: not a change

    diff = diff_graphs(old, new)

    assert diff.nodes_added == ["extra"]
    assert diff.nodes_removed == ["note"]
    assert [(c.id, c.fields) for c in diff.nodes_changed] == [("llm1", ["data.user_prompt", "data.model"])]


def test_changed_list_items_and_parents_are_named_precisely() -> None:
    old = chat_bot()
    old["nodes"][0]["data"]["inputs"].append({"name": "tone", "type": "string"})
    new = copy.deepcopy(old)
    new["nodes"][0]["data"]["inputs"][1]["required"] = True
    new["nodes"][2]["parentId"] = "loop1"
    new["nodes"][2]["type"] = "template@1"

    diff = diff_graphs(old, new)

    assert [(c.id, c.fields) for c in diff.nodes_changed] == [
        ("start", ["data.inputs.1.required"]),
        ("reply", ["type", "parentId"]),
    ]


def test_added_removed_and_rewired_edges() -> None:
    old = chat_bot()
    new = copy.deepcopy(old)
    rewired = new["edges"][1]
    rewired["target"] = "elsewhere"
    new["edges"].append(edge("start", "reply", edge_id="shortcut"))
    del new["edges"][0]
    new["edges"][0]["animated"] = True  # presentation only

    diff = diff_graphs(old, new)

    assert diff.edges_added == [rewired["id"], "shortcut"]
    assert diff.edges_removed == [old["edges"][0]["id"], rewired["id"]]


def test_variables_and_settings_changes() -> None:
    old = chat_bot()
    new = copy.deepcopy(old)
    new["variables"] = [{"name": "lang", "type": "string", "scope": "user"}]
    new["settings"]["persona"] = "Be brief."
    new["settings"]["model"] = {"provider": "openai", "name": "gpt-4o", "temperature": 0}

    diff = diff_graphs(old, new)

    assert diff.variables_changed
    assert diff.settings_changed == ["model", "persona"]
    assert not diff.nodes_changed
