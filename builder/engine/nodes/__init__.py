"""Built-in node types, one module each. Importing this package registers them all.

Plugins add their own node types by calling ``registry.register`` from their hook.
"""

from builder.engine.nodes import (
    agent,
    answer,
    code_node,
    condition,
    end,
    http_request,
    intent,
    iteration,
    json_node,
    knowledge_retrieval,
    llm,
    loop,
    parameter_extractor,
    question,
    start,
    sub_bot,
    template,
    text_node,
    tool,
    variable_aggregate,
    variable_assign,
)

__all__ = [
    "agent",
    "answer",
    "code_node",
    "condition",
    "end",
    "http_request",
    "intent",
    "iteration",
    "json_node",
    "knowledge_retrieval",
    "llm",
    "loop",
    "parameter_extractor",
    "question",
    "start",
    "sub_bot",
    "template",
    "text_node",
    "tool",
    "variable_aggregate",
    "variable_assign",
]
