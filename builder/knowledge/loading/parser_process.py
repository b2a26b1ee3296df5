"""The parser process: one document in on stdin, its sections (or why it has none) out on stdout.

Started by ``isolation.py`` as ``python -I -B -c <bootstrap> <memory bytes> <cpu seconds>``, with
an environment that holds no secrets. It caps itself before it reads a byte of the document:
address space (``RLIMIT_AS``), CPU time (``RLIMIT_CPU``: SIGXCPU at the limit), no core file.
(No ``RLIMIT_FSIZE``: it would also stop the process writing a warning to a server log file.)
Then it says it is ready (``R``), reads the request (a 4-byte length, a JSON header, the file's
bytes) and answers with one JSON object:

    {"document": {"kind", "title", "sections": [{"text", "source", "page", …}]}, "peak_rss_bytes"}
    {"error": {"code", "params"}, "peak_rss_bytes"}    a DocumentError, or parse_memory after a MemoryError

Anything else (a crash, a signal) is the parent's to explain. Nothing here imports Django.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import sys
import traceback
import warnings
from dataclasses import asdict
from typing import Any, BinaryIO

READY = b"R"
HEADER_LENGTH = struct.Struct(">I")
# A failure at this share of the address-space limit is taken for running out of memory.
_NEAR_LIMIT = 0.8


def main(argv: list[str]) -> int:
    memory_bytes, cpu_seconds = int(argv[0]), int(argv[1])
    _limit_resources(memory_bytes, cpu_seconds)
    answer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never into the answer
    sys.stdout = sys.stderr
    warnings.simplefilter("ignore")  # the parsers' complaints about odd files are not the server's business

    from builder.knowledge.loading.loaders import load_document  # after the limits, before "ready"

    answer.write(READY)
    answer.flush()
    request = sys.stdin.buffer
    header = json.loads(_read_exactly(request, _header_length(request)))
    data = request.read()
    outcome = _parse(load_document, data, header)
    del data
    if outcome is None or (_error_code(outcome) == "corrupt_file" and _memory_ran_out(memory_bytes)):
        outcome = _memory_error(header)  # answered here, once the parse's frames are gone
    outcome["peak_rss_bytes"] = _status_bytes("VmHWM")  # for the server's log: sizing the memory budget
    answer.write(json.dumps(outcome, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    answer.flush()
    return 0


def _limit_resources(memory_bytes: int, cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # The soft limit sends SIGXCPU, which ends the process; the hard one, a second later, SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _parse(load_document: Any, data: bytes, header: dict[str, Any]) -> dict[str, Any] | None:
    from builder.knowledge.loading.errors import DocumentError
    from builder.knowledge.loading.limits import LoadLimits

    try:
        document = load_document(
            data,
            filename=header["filename"],
            content_type=header["content_type"],
            source=header["source"],
            limits=LoadLimits(**header["limits"]),
        )
    except DocumentError as error:
        return {"error": {"code": error.code.value, "params": error.params}}
    except MemoryError:
        return None
    except Exception:
        if _memory_ran_out(int(header["limits"]["max_parse_memory_bytes"])):
            return None
        traceback.print_exc()  # a parser bug: the parent says the reader stopped, the log says why
        raise SystemExit(1) from None
    return {
        "document": {
            "kind": document.kind.value,
            "title": document.title,
            "sections": [asdict(section) for section in document.sections],
        }
    }


def _memory_ran_out(memory_bytes: int) -> bool:
    """Whether this process came close to its address-space limit. A parser does not always say
    MemoryError when an allocation fails: lxml reports "unknown error", which a loader then takes
    for a damaged file."""
    peak = _status_bytes("VmPeak")
    return peak is not None and peak >= _NEAR_LIMIT * memory_bytes


def _status_bytes(field: str) -> int | None:
    """A size from /proc/self/status (VmPeak: address space, VmHWM: resident), None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _error_code(outcome: dict[str, Any]) -> str | None:
    error = outcome.get("error")
    return str(error["code"]) if isinstance(error, dict) else None


def _memory_error(header: dict[str, Any]) -> dict[str, Any]:
    from builder.knowledge.loading.errors import ErrorCode, human_size

    limit = human_size(int(header["limits"]["max_parse_memory_bytes"]))
    return {"error": {"code": ErrorCode.PARSE_MEMORY.value, "params": {"limit": limit}}}


def _header_length(stream: BinaryIO) -> int:
    (length,) = HEADER_LENGTH.unpack(_read_exactly(stream, HEADER_LENGTH.size))
    return int(length)


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise SystemExit(2)  # the parent went away
    return data


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
