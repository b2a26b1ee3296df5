"""A bot answers from a knowledge base and cites the documents it used (a real chat turn)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from builder.bots.services import bot_publish
from builder.conversations.models import Run
from builder.conversations.services import conversation_create, message_send
from builder.knowledge import services
from builder.knowledge.models import Document
from tests.factories import make_bot, make_workspace, owner_of
from tests.support.graphs import linear_bot, node
from tests.support.knowledge import wait_for_document

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.EMBEDDED, reason="embedded default only (the run executes inline)"),
]


def _graph(kb_id: str) -> dict[str, Any]:
    answer = (
        "{% for c in search.chunks %}{{ c.content }} [{{ c.document_name }}]\n{% endfor %}"
        "{% if not search.chunks %}I do not know.{% endif %}"
    )
    return linear_bot(
        node("start", "start", {"inputs": []}),
        node(
            "search",
            "knowledge_retrieval",
            {"query": "{{ sys.query }}", "knowledge_bases": [kb_id], "top_k": 1, "mode": "full_text"},
        ),
        node("reply", "template", {"template": answer}),
        node("answer", "answer", {"text": "{{ reply.text }}"}),
    )


def test_a_bot_answers_from_its_knowledge_base_and_cites_the_document() -> None:
    workspace = make_workspace()
    owner = owner_of(workspace)
    kb = services.knowledge_base_create(actor=owner, workspace=workspace, name="Policies")
    refunds = services.document_upload(
        actor=owner,
        knowledge_base=kb,
        name="退款政策.txt",
        content="退货须在购买后三十天内申请，运费由买家承担。".encode(),
    )
    shipping = services.document_upload(
        actor=owner, knowledge_base=kb, name="shipping.md", content=b"# Shipping\nOrders ship within two business days."
    )
    wait_for_document(refunds, Document.Status.READY)
    wait_for_document(shipping, Document.Status.READY)
    bot = make_bot(workspace, draft=_graph(str(kb.pk)))
    bot_publish(actor=owner, bot=bot)
    bot.refresh_from_db()
    conversation = conversation_create(actor=owner, bot=bot)

    run = message_send(actor=owner, conversation=conversation, text="退货要多久内申请？")
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED, run.error
    assert "三十天" in run.answer and "[退款政策.txt]" in run.answer and "shipping" not in run.answer

    # A disabled document is no longer a source.
    services.document_set_enabled(actor=owner, document=refunds, enabled=False)
    later = message_send(actor=owner, conversation=conversation, text="退货要多久内申请？")
    later.refresh_from_db()
    assert "退款政策" not in later.answer
