"""The plugin host (DESIGN.md §5), in two layers.

Django-free, so the SDK's test harness loads plugins through the very same code: ``hookspecs``
(every hook), ``manifest`` (``manifest.json``), ``manager`` (entry-point discovery, checks, the
registry of what plugins provide), ``node_types`` (plugins loaded before graphs are judged),
``toolsets`` (tools listed per workspace, cached), ``network`` and ``contexts`` (what one tool
call gets), and ``scaffold`` / ``validation`` (the ``plugins`` management command's work).

Django: ``models`` (a plugin's enablement and settings per workspace, secrets encrypted),
``configuration`` (settings validation and masking), ``services`` / ``selectors`` / ``apis``,
``invoker`` (the engine's ``ToolInvoker`` for one run) and ``webhooks``.
"""
