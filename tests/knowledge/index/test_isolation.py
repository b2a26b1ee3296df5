"""The index package stays usable outside Django (benchmarks, workers, other services)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_index_loads_no_django_drf_channels_or_celery() -> None:
    code = (
        "import sys, builder.knowledge.index, builder.knowledge.index.fusion;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rest_framework', 'channels', 'celery'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"
