"""Running a validated graph: the contract nodes are written against, events, compiler, runner.

``contract.py`` is the one interface between node implementations, the compiler and the host
(Django side): nodes read inputs and emit events through ``NodeContext``; everything outside the
engine (models, HTTP, the code sandbox, plugins, knowledge, other bots) arrives as the protocols in
``RuntimeServices``, so the engine never imports Django.
"""
