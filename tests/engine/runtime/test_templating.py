"""Templates over the variable pool: the sandbox, strictness, node ids with "-", the size cap."""

from __future__ import annotations

from typing import Any

import pytest

from builder.engine.runtime.contract import NodeError
from builder.engine.runtime.pool import VariablePool
from builder.engine.runtime.templating import rewrite_hyphenated
from builder.engine.values import Ref


def _pool(**outputs: dict[str, Any]) -> VariablePool:
    return VariablePool(
        {key.replace("_", "-") if key.startswith("n_") else key: value for key, value in outputs.items()},
        sys={"query": "hi", "files": []},
        conv={"topic": "owls"},
        user={"name": "Ada"},
        node_ids=frozenset({"llm", "start", "n-1", "skipped"}),
    )


def _render(template: str, **outputs: dict[str, Any]) -> str:
    return _pool(**outputs).render(template)


def test_renders_node_outputs_and_the_roots() -> None:
    text = _render("{{ llm.text }} {{ sys.query }} {{ conv.topic }} {{ user.name }}", llm={"text": "yo"})
    assert text == "yo hi owls Ada"


def test_node_ids_with_hyphens_are_looked_up_but_string_literals_are_left_alone() -> None:
    assert _render("{{ n-1.text }} {{ 'n-1.text' }}", n_1={"text": "one"}) == "one n-1.text"
    assert rewrite_hyphenated("{{ a-b.c }} {% if x-y.z %}{% endif %} a-b.c") == (
        '{{ __nodes__["a-b"].c }} {% if __nodes__["x-y"].z %}{% endif %} a-b.c'
    )


def test_a_node_that_did_not_run_renders_as_nothing() -> None:
    assert _render("[{{ skipped.text }}]{% if skipped.text %}no{% endif %}") == "[]"


def test_none_renders_as_nothing() -> None:
    assert _render("[{{ llm.text }}]", llm={"text": None}) == "[]"


def test_output_names_win_over_dict_methods() -> None:
    assert _render("{{ start.items }} {{ start.values | length }}", start={"items": "mine", "values": [1, 2]}) == (
        "mine 2"
    )


def test_a_name_that_is_nothing_fails() -> None:
    with pytest.raises(NodeError) as caught:
        _render("{{ ghost.text }}")
    assert caught.value.code == "template_error"
    assert "ghost" in caught.value.message


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ llm.text.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ 'a' * 10000000 }}",
        "{{ '%9999999d' % 1 }}",
        "{{ '%9999999d' | format(1) }}",
        "{{ 'a'.center(10000000) }}",
        "{{ '{:>9999999}'.format(1) }}",
        "{{ 'x' | center(99999999) }}",
        "{{ 2 ** 100000 }}",
        "{{ range(10000000) | list }}",
    ],
)
def test_the_sandbox_refuses_unsafe_or_huge_things(template: str) -> None:
    with pytest.raises(NodeError) as caught:
        _render(template, llm={"text": "x"})
    assert caught.value.code in ("template_unsafe", "template_error")


def test_rendered_text_is_capped() -> None:
    with pytest.raises(NodeError) as caught:
        _render("{% for i in range(100000) %}{{ 'x' * 20 }}{% endfor %}")
    assert caught.value.code == "template_too_large"


def test_syntax_errors_say_where() -> None:
    with pytest.raises(NodeError) as caught:
        _render("line one\n{% if %}")
    assert (caught.value.code, "line 2" in caught.value.message) == ("template_error", True)


def test_references_resolve_leniently_and_literal_templates_are_rendered() -> None:
    pool = _pool(llm={"text": "yo", "json": {"list": [1, 2]}})
    reads: dict[str, Any] = {}

    resolved = pool.resolve(
        {
            "a": Ref(ref=["llm", "json", "list", -1]),
            "b": Ref(ref=["skipped", "text"]),
            "c": ["{{ llm.text }}!", 3],
            "d": Ref(ref=["llm", "json", "list", "nope"]),
        },
        reads,
    )

    assert resolved == {"a": 2, "b": None, "c": ["yo!", 3], "d": None}
    assert reads == {"llm.json.list.-1": 2, "skipped.text": None, "llm.text": "yo", "llm.json.list.nope": None}
