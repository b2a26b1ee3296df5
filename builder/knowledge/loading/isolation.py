"""Read a document in a process of its own (``parser_process.py``), so that whatever a file does to
its parser (memory, CPU, a crash) happens there and never in the server or the worker:

    document = load_document_isolated(data, filename="report.docx", limits=limits)

Same arguments, result and errors as ``load_document``, plus ``parse_timeout`` (the wall clock or
the CPU limit ran out), ``parse_memory`` (the address space did) and ``parser_failed`` (a crash).
The calling thread only waits on pipes, so several documents are read at once by as many threads,
and a parse never holds the server's GIL. Starting the process costs ~0.25 s of CPU (an interpreter
and the loaders' imports; each format's parser library is imported only when it is needed).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from builder.knowledge.loading.errors import DocumentError, ErrorCode, human_size
from builder.knowledge.loading.limits import DEFAULT_LIMITS, LoadLimits, check_size
from builder.knowledge.loading.parser_process import HEADER_LENGTH, READY
from builder.knowledge.loading.sections import LoadedDocument

logger = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[3]
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from builder.knowledge.loading.parser_process import main; raise SystemExit(main(sys.argv[1:]))"
)
# Nothing of the server's environment (keys, database URLs): a parser needs none of it. One BLAS
# thread: openpyxl imports numpy, whose thread pool would map memory the parse then lacks.
_CHILD_ENVIRONMENT = {
    "PATH": os.environ.get("PATH", os.defpath),
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
# Starting the interpreter and importing the loaders, on a busy machine; not part of the budget.
_START_TIMEOUT_S = 30.0
_START_CPU_S = 10
# The process checks the time budget itself and says so; the wall clock is the backstop for a
# parser stuck inside one call, and allows for sending the document and its answer.
_WALL_MARGIN_S = 5.0


def load_document_isolated(
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    source: str | None = None,
    limits: LoadLimits = DEFAULT_LIMITS,
) -> LoadedDocument:
    """``load_document`` in a child process capped at ``limits.max_parse_memory_bytes`` and
    ``limits.max_parse_seconds``. Raises ``DocumentError``."""
    check_size(len(data), limits)  # refused without starting anything
    header = json.dumps(
        {"filename": filename, "content_type": content_type, "source": source, "limits": asdict(limits)}
    ).encode()
    cpu_seconds = math.ceil(limits.max_parse_seconds) + _START_CPU_S
    process = subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-B",
            "-c",
            _BOOTSTRAP,
            str(_ROOT),
            str(limits.max_parse_memory_bytes),
            str(cpu_seconds),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_CHILD_ENVIRONMENT,
        cwd=_ROOT,
    )
    started = time.monotonic()
    try:
        _wait_until_ready(process)
        answer, _ = process.communicate(
            HEADER_LENGTH.pack(len(header)) + header + data, timeout=limits.max_parse_seconds + _WALL_MARGIN_S
        )
    except subprocess.TimeoutExpired:
        raise DocumentError(ErrorCode.PARSE_TIMEOUT, limit=math.ceil(limits.max_parse_seconds)) from None
    except (BrokenPipeError, _NotReady) as error:  # it died before it took the document
        logger.warning("the parser process stopped before reading the document: %s", error)
        raise DocumentError(ErrorCode.PARSER_FAILED) from error
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    return _answer(process.returncode, answer, limits, seconds=time.monotonic() - started)


class _NotReady(Exception):
    pass


def _wait_until_ready(process: subprocess.Popen[bytes]) -> None:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], _START_TIMEOUT_S)
    if not ready:
        raise _NotReady(f"not ready within {_START_TIMEOUT_S:g} s")
    first = os.read(process.stdout.fileno(), len(READY))  # the raw fd: nothing left in a buffer
    if first != READY:
        raise _NotReady(f"exit status {process.wait()}")


def _answer(returncode: int, answer: bytes, limits: LoadLimits, *, seconds: float) -> LoadedDocument:
    if returncode == -signal.SIGXCPU:
        raise DocumentError(ErrorCode.PARSE_TIMEOUT, limit=math.ceil(limits.max_parse_seconds))
    if returncode == -signal.SIGKILL:  # not ours (a timeout is raised before): the kernel's OOM killer
        raise DocumentError(ErrorCode.PARSE_MEMORY, limit=human_size(limits.max_parse_memory_bytes))
    if returncode != 0:
        logger.warning("the parser process stopped with status %s", returncode)
        raise DocumentError(ErrorCode.PARSER_FAILED)
    try:
        message = json.loads(answer.decode("utf-8", "surrogatepass"))
        logger.debug(
            "the parser process answered in %.2f s at a peak RSS of %s bytes (%s)",
            seconds,
            message.get("peak_rss_bytes"),
            "error" if "error" in message else "document",
            extra={"parse_seconds": seconds, "parse_peak_rss_bytes": message.get("peak_rss_bytes")},
        )
        if "error" in message:
            error = message["error"]
            raise DocumentError(ErrorCode(error["code"]), **_params(error["params"]))
        return _document_adapter().validate_python(message["document"])
    except DocumentError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as error:  # a parser that says nonsense
        logger.warning("the parser process gave an unreadable answer: %s", error)
        raise DocumentError(ErrorCode.PARSER_FAILED) from error


def _params(params: Any) -> dict[str, str | int]:
    if not isinstance(params, dict) or not all(
        isinstance(key, str) and isinstance(value, str | int) for key, value in params.items()
    ):
        raise TypeError(f"error parameters must be a dict of str or int, not {params!r}")
    return params


@functools.cache
def _document_adapter() -> TypeAdapter[LoadedDocument]:
    return TypeAdapter(LoadedDocument)
