"""The chat tests' live ASGI server, for runs that use credentials."""

from tests.conversations.conftest import asgi_live_server, run_executor  # noqa: F401  (fixtures)
