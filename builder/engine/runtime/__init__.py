"""Running a validated graph: the contract nodes are written against, events, compiler, runner.

``contract.py`` is the one interface between node implementations, the compiler and the host
(Django side): nodes read inputs and emit events through ``NodeContext``; everything outside the
engine (models, HTTP, the code sandbox, plugins, knowledge, other bots) arrives as the protocols in
``RuntimeServices``, so the engine never imports Django.

The rest, in the order a run meets it:

- ``runner.py``: the public API (``GraphRunner.run(RunRequest, emit)`` → ``RunOutcome``).
- ``compiler.py``: the bot graph as a LangGraph ``StateGraph`` (joins, skipped branches, state);
  ``plan.py``: the graph's scopes, edges and orders as the compiler and the stream need them.
- ``policy.py``: retries, timeout and fail/default/error-branch around every node's ``run``;
  ``limits.py``: what one run may spend (node steps, wall time, CPU), a budget every step draws on.
- ``containers.py``: loop and iteration rounds (and what continue/break mean).
- ``context.py``: the ``NodeContext`` a node gets; ``pool.py``: the variables it can read;
  ``templating.py``: the Jinja2 sandbox templates render in.
- ``session.py``: one run's events (numbered, in order) and open nodes; ``streaming.py``: which
  answer text reaches the user when.
- ``events.py``: the typed events themselves.
"""
