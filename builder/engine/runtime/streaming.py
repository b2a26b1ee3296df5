"""The answer stream: which text reaches the user, in which order, as soon as it can (Dify/Coze style).

LangGraph runs the answer node only after everything it depends on has finished. Users should not
wait that long, so the stream runs *ahead* of the graph, driven by node events:

- **Slots, in graph order.** Each top-level answer is a slot; so is each top-level loop/iteration
  whose body holds answers (their texts are queued as the body produces them). Slots stream one at a
  time in topological order, so two answers never interleave. A slot gets its turn when every
  earlier slot has finished or is known never to run (its branch was not taken).
- **Only when certain.** A slot streams once its node is certain to run: it is reached from a
  finished node through taken edges and through nodes that have started and take every edge (no
  branches, no error branch, not a question, not the start node). So "Result: " is sent as soon as
  the LLM before the answer starts, but nothing is sent for an answer behind an undecided condition,
  an unanswered question, a node that has not started, or a start node still checking its inputs.
  (A node that has started may still fail; then the run fails with that text already sent, as in
  Dify.)
- **Segments.** A template made only of text and ``{{ }}`` (no ``{% %}``) is split into segments.
  Text is sent at once; ``{{ node.output }}`` forwards that node's ``node.delta`` chunks for
  ``output`` live and, when the node finishes, whatever its final value adds; any other expression
  is rendered alone once the nodes it reads have finished (``conv``/``user`` ones once everything
  upstream of the answer has). Templates with statements are sent whole when the answer node runs.
- **The answer node has the last word.** When it finishes, its text minus what was already sent is
  sent (if what was sent is a prefix of it; a retried LLM can make them differ, then nothing more).

Everything here is synchronous and returns the deltas to emit, so the session can emit them in one
batch (in order) however many tasks report events at once. After a pause, the stream is rebuilt from
the checkpointed state and replayed silently: what it sends depends only on finished nodes, which is
exactly what the checkpoint holds, so nothing is sent twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from builder.engine.runtime import templating
from builder.engine.runtime.contract import NodeError
from builder.engine.runtime.plan import GraphPlan
from builder.engine.runtime.pool import VariablePool

Delta = tuple[str, str]  # (node_id the text belongs to, text)


@dataclass
class _Slot:
    node_id: str
    is_container: bool
    segments: list[templating.Segment] | None
    ancestors: set[str]
    cursor: int = 0
    live_used: int = 0  # chunks of the current live segment already sent
    live_text: str = ""  # their text
    sent: list[str] = field(default_factory=list)
    queue: deque[Delta] = field(default_factory=deque)  # container slots: body answers' texts
    blocked: bool = False  # a segment failed to render: wait for the answer node itself
    done: bool = False

    @property
    def text(self) -> str:
        return "".join(self.sent)


class AnswerStream:
    def __init__(self, plan: GraphPlan) -> None:
        self.plan = plan
        self.slots: list[_Slot] = []
        self._slot_of: dict[str, _Slot] = {}
        containers_with_answers = {
            node.top for node in plan.nodes.values() if node.is_answer and node.parent is not None
        }
        answer_ids = frozenset(node_id for node_id in plan.top_order if plan.nodes[node_id].is_answer)
        for node_id in plan.top_order:
            node = plan.nodes[node_id]
            if node.is_answer:
                source = str(getattr(node.config, "text", ""))
                slot = _Slot(node_id, False, templating.segments(source, plan.top_ids), plan.ancestors(node_id))
            elif node_id in containers_with_answers:
                slot = _Slot(node_id, True, None, set())
            else:
                continue
            self.slots.append(slot)
            self._slot_of[node_id] = slot
        self._live = {
            segment.live
            for slot in self.slots
            for segment in slot.segments or ()
            if isinstance(segment, templating.Expression) and segment.live and segment.live[0] not in answer_ids
        }
        self._chunks: dict[tuple[str, str], list[str]] = {key: [] for key in self._live}
        self._consumed: set[tuple[str, str]] = set()
        self._answer_parts: dict[str, list[str]] = {}
        self.routes: dict[str, str | None] = {}
        self.outputs: dict[str, Mapping[str, Any]] = {}
        self.dead: set[str] = set()
        self.certain: set[str] = set()
        self.started: set[str] = set()
        self._cursor = 0
        self.sys: Mapping[str, Any] = {}
        self.conv: dict[str, Any] = {}
        self.user: dict[str, Any] = {}

    # --- what the session reports --------------------------------------------------------------------

    def start(self, *, sys: Mapping[str, Any], conv: Mapping[str, Any], user: Mapping[str, Any]) -> list[Delta]:
        self.sys, self.conv, self.user = sys, dict(conv), dict(user)
        self._mark_certain(self.plan.start_id)
        return self._pump()

    def restore(self, values: Mapping[str, Any]) -> None:
        """Rebuild from a checkpoint's state and silently skip what the earlier leg already sent."""
        self.sys = values.get("sys", {})
        self.conv = dict(values.get("conv", {}))
        self.user = dict(values.get("user", {}))
        routes = values.get("routes", {})
        skipped = values.get("skipped", {})
        outputs = values.get("outputs", {})
        self._mark_certain(self.plan.start_id)
        for node_id in self.plan.top_order:
            if node_id in routes:
                self.outputs[node_id] = outputs.get(node_id, {})
                self._finish(node_id, routes[node_id])
            elif node_id in skipped:
                self._mark_dead(node_id)
        self._pump()

    def node_started(self, node_id: str, attempt: int) -> list[Delta]:
        if attempt > 1:
            self._answer_parts.pop(node_id, None)
            for key in self._live:
                if key[0] == node_id and key not in self._consumed:
                    self._chunks[key] = []
            return []
        self.started.add(node_id)
        if node_id not in self.certain or not self.plan.nodes[node_id].vouches_once_started:
            return []
        self._mark_certain(node_id)
        return self._pump()

    def node_delta(self, node_id: str, data: Mapping[str, Any]) -> list[Delta]:
        fed = False
        for key, value in data.items():
            chunks = self._chunks.get((node_id, key))
            if chunks is not None and isinstance(value, str):
                chunks.append(value)
                fed = True
        return self._pump() if fed else []

    def answer_text(self, node_id: str, text: str) -> None:
        """A top-level answer node's own ``emit_message_delta``: part of its final text.

        Body answers may run concurrently (parallel iteration), so their text is taken from their
        outputs when they finish instead.
        """
        if node_id in self._slot_of:
            self._answer_parts.setdefault(node_id, []).append(text)

    def node_finished(
        self, node_id: str, route: str | None, outputs: Mapping[str, Any], variables: Mapping[str, dict[str, Any]]
    ) -> list[Delta]:
        node = self.plan.nodes[node_id]
        if node.parent is not None:
            if node.is_answer and route != "error":
                slot = self._slot_of.get(node.top)
                text = outputs.get("text")
                if slot is not None and isinstance(text, str) and text:
                    slot.queue.append((node_id, text))
                    return self._pump()
            return []
        self.conv.update(variables.get("conv", {}))
        self.user.update(variables.get("user", {}))
        self.outputs[node_id] = outputs
        self._finish(node_id, route)
        return self._pump()

    def node_skipped(self, node_id: str) -> list[Delta]:
        if self.plan.nodes[node_id].parent is not None:
            return []
        self._mark_dead(node_id)
        return self._pump()

    def flush(self) -> list[Delta]:
        """At the end of a run: whatever is still owed (texts of slots whose turn never came)."""
        return self._pump()

    # --- certainty and deadness ------------------------------------------------------------------------

    def _finish(self, node_id: str, route: str | None) -> None:
        self.routes[node_id] = route
        self.certain.add(node_id)
        node = self.plan.nodes[node_id]
        for target, handle in node.outgoing:
            if handle == route:
                self._mark_certain(target)
            else:
                self._check_dead(target)

    def _mark_certain(self, node_id: str) -> None:
        work = [node_id]
        while work:
            current = work.pop()
            if current in self.certain and current != node_id:
                continue
            self.certain.add(current)
            node = self.plan.nodes[current]
            if current in self.routes:
                route = self.routes[current]
                work.extend(t for t, h in node.outgoing if h == route and t not in self.certain)
            elif node.vouches_once_started and current in self.started:
                work.extend(t for t, _ in node.outgoing if t not in self.certain)

    def _check_dead(self, node_id: str) -> None:
        work = [node_id]
        while work:
            current = work.pop()
            if current in self.dead or current in self.routes:
                continue
            incoming = self.plan.nodes[current].incoming
            if incoming and all(self._edge_dead(source, handle) for source, handle in incoming):
                self.dead.add(current)
                work.extend(t for t, _ in self.plan.nodes[current].outgoing)

    def _mark_dead(self, node_id: str) -> None:
        self.dead.add(node_id)
        for target, _ in self.plan.nodes[node_id].outgoing:
            self._check_dead(target)

    def _edge_dead(self, source: str, handle: str | None) -> bool:
        return source in self.dead or (source in self.routes and self.routes[source] != handle)

    def _settled(self, node_id: str) -> bool:
        return node_id in self.routes or node_id in self.dead

    # --- sending -----------------------------------------------------------------------------------------

    def _pump(self) -> list[Delta]:
        out: list[Delta] = []
        while self._cursor < len(self.slots):
            slot = self.slots[self._cursor]
            if not slot.done:
                if slot.node_id in self.dead:
                    slot.done = True
                elif slot.node_id not in self.certain:
                    break
                else:
                    self._advance(slot, out)
                    if not slot.done:
                        break
            self._cursor += 1
        return out

    def _send(self, slot: _Slot, out: list[Delta], text: str, node_id: str | None = None) -> None:
        if not text:
            return
        slot.sent.append(text)
        owner = node_id or slot.node_id
        if out and out[-1][0] == owner:
            out[-1] = (owner, out[-1][1] + text)
        else:
            out.append((owner, text))

    def _advance(self, slot: _Slot, out: list[Delta]) -> None:
        if slot.is_container:
            while slot.queue:
                node_id, text = slot.queue.popleft()
                self._send(slot, out, text, node_id)
            slot.done = slot.node_id in self.routes
            return
        if slot.node_id in self.routes:
            final = self._final_text(slot.node_id, self.outputs.get(slot.node_id, {}))
            sent = slot.text
            if final.startswith(sent):
                self._send(slot, out, final[len(sent) :])
            slot.done = True
            return
        if slot.segments is None or slot.blocked:
            return
        while slot.cursor < len(slot.segments):
            segment = slot.segments[slot.cursor]
            if isinstance(segment, templating.Literal):
                self._send(slot, out, segment.text)
            elif segment.live is not None and segment.live in self._chunks:
                chunks = self._chunks[segment.live]
                if slot.live_used < len(chunks):
                    self._consumed.add(segment.live)
                    fresh = "".join(chunks[slot.live_used :])
                    slot.live_used = len(chunks)
                    slot.live_text += fresh
                    self._send(slot, out, fresh)
                if not self._settled(segment.live[0]):
                    return
                full = self._render(slot, segment)
                if full is None:
                    return
                if full.startswith(slot.live_text):
                    self._send(slot, out, full[len(slot.live_text) :])
                slot.live_used, slot.live_text = 0, ""
            else:
                if not self._ready(slot, segment):
                    return
                rendered = self._render(slot, segment)
                if rendered is None:
                    return
                self._send(slot, out, rendered)
            slot.cursor += 1

    def _ready(self, slot: _Slot, segment: templating.Expression) -> bool:
        if not all(self._settled(node_id) for node_id in segment.node_ids):
            return False
        if segment.roots & {"conv", "user"}:
            return all(self._settled(node_id) for node_id in slot.ancestors)
        return True

    def _render(self, slot: _Slot, segment: templating.Expression) -> str | None:
        pool = VariablePool(self.outputs, sys=self.sys, conv=self.conv, user=self.user, node_ids=self.plan.node_ids)
        try:
            return templating.render_compiled(segment.template, pool.template_variables)
        except NodeError:
            slot.blocked = True  # the answer node will render (and fail, or handle it) itself
            return None

    def _final_text(self, node_id: str, outputs: Mapping[str, Any]) -> str:
        parts = self._answer_parts.get(node_id)
        if parts is not None:
            return "".join(parts)
        text = outputs.get("text")
        return text if isinstance(text, str) else ""
