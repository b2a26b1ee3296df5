"""The code node's sandbox: user Python in an isolated, limited, short-lived process.

``SandboxCodeRunner`` implements the engine's ``CodeRunner``; ``isolation_report()`` says whether
(and how) this machine can isolate code at all. See README.md for what is isolated and how.
"""

from builder.engine.sandbox.probe import isolation_report
from builder.engine.sandbox.runner import SandboxCodeRunner, SandboxLimits, SandboxRun

__all__ = ["SandboxCodeRunner", "SandboxLimits", "SandboxRun", "isolation_report"]
