"""Helpers shared by the test suite and ``scripts/test.sh``. Fixtures live in ``tests/conftest.py``."""
