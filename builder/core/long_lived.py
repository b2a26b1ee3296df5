"""Objects loaded at startup live as long as the process: keep the garbage collector off them.

Python's full (generation 2) collection scans every container object the process holds. After
Django, DRF, LangChain, LangGraph and the plugins are imported that is about 300,000 objects, so
each full collection, set off by whatever a big run or a burst of requests allocates, paused every
thread for about 300 ms: every request and run on the server waited. ``gc.freeze()`` moves what
exists now into a generation the collector never scans (what pre-fork servers do before forking);
what requests and runs create later is collected as before.
"""

from __future__ import annotations

import gc


def freeze_loaded_objects() -> None:
    """Call once the process has loaded what it keeps for its lifetime (the app, URLs, plugins)."""
    gc.collect()  # what is already garbage is freed, not frozen
    gc.freeze()
