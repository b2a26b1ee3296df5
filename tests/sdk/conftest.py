"""The SDK's fixtures, as a plugin's own conftest gets them (it says ``pytest_plugins = [...]``, which
pytest allows only in the suite's top-level conftest)."""

from builder.sdk.testing import plugin_config, plugin_harness  # noqa: F401  (fixtures)
