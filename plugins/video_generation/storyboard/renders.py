"""Storyboard renders in the background: started by the tool, followed by the job's polls.

A render runs in a thread of the process that starts it (Pillow and ffmpeg block; the event loop
must not) and keeps its state in files under one folder per job, so that a poll from another
process on the machine (a Celery worker, or the same server after a restart) sees its progress:

    <work dir>/<job id>/status.json   state, frames done and total, error; rewritten as it goes
                        video.mp4     the result, moved into place when complete
                        thumbnail.jpg the title card
                        cancelled     present once the job was cancelled

A render whose status has not moved for ``STALE_S`` seconds lost its process; the next poll
starts it again in its own process from the job's state (rendering is deterministic). At most
``MAX_PARALLEL`` renders encode at once in a process; the others wait their turn.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from PIL import Image

from plugins.video_generation.storyboard.cards import draw_card
from plugins.video_generation.storyboard.encode import RenderFailed, RenderStopped, encode
from plugins.video_generation.storyboard.script import Storyboard, plan

logger = logging.getLogger("agentloom.plugins.video_generation")

WORK_DIR_ENV: Final = "AGENTLOOM_STORYBOARD_DIR"
STALE_S: Final = 30.0
KEEP_S: Final = 24 * 3600.0
MAX_PARALLEL: Final = 2
_STATUS_EVERY_S: Final = 0.2
SHORT_SIDE: Final = {"480p": 480, "720p": 720, "1080p": 1080}
RATIOS: Final = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}

_turns = threading.BoundedSemaphore(MAX_PARALLEL)
_registry_lock = threading.Lock()
_running: dict[str, threading.Event] = {}


@dataclass(frozen=True)
class RenderRequest:
    """Everything a render needs; it is the job's state, so any process can render it again."""

    prompt: str
    duration_s: float
    aspect_ratio: str
    resolution: str

    @property
    def size(self) -> tuple[int, int]:
        across, down = RATIOS[self.aspect_ratio]
        short = SHORT_SIDE[self.resolution]
        if across >= down:
            return _even(short * across / down), short
        return short, _even(short * down / across)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RenderRequest:
        return cls(
            prompt=str(state["prompt"]),
            duration_s=float(state["duration_s"]),
            aspect_ratio=str(state["aspect_ratio"]),
            resolution=str(state["resolution"]),
        )


def _even(value: float) -> int:
    return int(round(value / 2) * 2)


@dataclass
class RenderStatus:
    state: str  # queued, rendering, succeeded, failed, cancelled
    frames_done: int = 0
    frames_total: int = 0
    error: str = ""
    duration_s: float = 0.0
    missing_glyphs: str = ""
    updated_at: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed", "cancelled")


def work_dir() -> Path:
    return Path(os.environ.get(WORK_DIR_ENV) or Path(tempfile.gettempdir()) / "agentloom-storyboard")


def job_dir(job_id: str) -> Path:
    if not job_id.replace("-", "").isalnum():
        raise ValueError(f"not a storyboard job id: {job_id!r}")
    return work_dir() / job_id


def _write_status(folder: Path, status: RenderStatus) -> None:
    status.updated_at = time.time()
    temporary = folder / f"status.{os.getpid()}.{threading.get_ident()}.tmp"
    temporary.write_text(json.dumps(asdict(status)), encoding="utf-8")
    os.replace(temporary, folder / "status.json")


def read_status(job_id: str) -> RenderStatus | None:
    try:
        raw = json.loads((job_dir(job_id) / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return RenderStatus(**raw)


def start(job_id: str, request: RenderRequest) -> None:
    """Render ``request`` in a thread of this process, unless this process renders it already."""
    with _registry_lock:
        if job_id in _running:
            return
        stop = threading.Event()
        _running[job_id] = stop
    folder = job_dir(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    _write_status(folder, RenderStatus(state="queued"))
    threading.Thread(
        target=_render, args=(job_id, request, folder, stop), name=f"storyboard-{job_id}", daemon=True
    ).start()
    _sweep(keep=job_id)


def status(job_id: str, request: RenderRequest) -> RenderStatus:
    """The render's status; a render nobody is running any more is started again here."""
    current = read_status(job_id)
    if (job_dir(job_id) / "cancelled").exists():
        return RenderStatus(state="cancelled")
    with _registry_lock:
        here = job_id in _running
    if current is None or (not here and not current.finished and time.time() - current.updated_at > STALE_S):
        logger.info("storyboard %s: no process is rendering it; rendering it here", job_id)
        start(job_id, request)
        return read_status(job_id) or RenderStatus(state="queued")
    return current


def cancel(job_id: str) -> None:
    folder = job_dir(job_id)
    if folder.exists():
        (folder / "cancelled").touch()
    with _registry_lock:
        stop = _running.get(job_id)
    if stop is not None:
        stop.set()


def result(job_id: str) -> tuple[bytes, bytes]:
    """The finished video and its thumbnail."""
    folder = job_dir(job_id)
    return (folder / "video.mp4").read_bytes(), (folder / "thumbnail.jpg").read_bytes()


def forget(job_id: str) -> None:
    shutil.rmtree(job_dir(job_id), ignore_errors=True)


def _render(job_id: str, request: RenderRequest, folder: Path, stop: threading.Event) -> None:
    """The render thread: wait for a turn, draw, encode; the final status written whatever happens."""
    storyboard = plan(request.prompt, request.duration_s)
    status = RenderStatus(state="queued", frames_total=storyboard.frames, duration_s=storyboard.duration_s)
    partial = folder / f"video.{os.getpid()}.{threading.get_ident()}.mp4"
    try:
        _wait_for_turn(folder, status, stop)
        try:
            _draw_and_encode(storyboard, request, folder, partial, status, stop)
        finally:
            _turns.release()
        status.state = "succeeded"
    except RenderStopped:
        status.state = "cancelled"
    except RenderFailed as error:
        logger.error("storyboard %s failed: %s", job_id, error)
        status.state, status.error = "failed", str(error)
    except Exception as error:  # a bug here must fail the job, not leave it "rendering" forever
        logger.exception("storyboard %s failed", job_id)
        status.state, status.error = "failed", f"{type(error).__name__}: {error}"
    finally:
        partial.unlink(missing_ok=True)
        if folder.exists():
            _write_status(folder, status)
        with _registry_lock:
            _running.pop(job_id, None)


def _wait_for_turn(folder: Path, status: RenderStatus, stop: threading.Event) -> None:
    """Take one of the ``MAX_PARALLEL`` turns. Meanwhile the status is rewritten now and then, so
    that a render waiting here is not taken for a lost one."""
    while not _turns.acquire(timeout=STALE_S / 3):
        if stop.is_set():
            raise RenderStopped()
        _write_status(folder, status)


def _draw_and_encode(
    storyboard: Storyboard,
    request: RenderRequest,
    folder: Path,
    partial: Path,
    status: RenderStatus,
    stop: threading.Event,
) -> None:
    if stop.is_set() or (folder / "cancelled").exists():
        raise RenderStopped()
    status.state = "rendering"
    _write_status(folder, status)
    drawn = [draw_card(card, storyboard, request.size, position) for position, card in enumerate(storyboard.cards)]
    status.missing_glyphs = "".join(sorted(set().union(*(card.missing for card in drawn))))
    images = [card.image for card in drawn]
    _thumbnail(images[0], folder / "thumbnail.jpg")
    last_write = 0.0

    def on_frame(done: int, total: int) -> None:
        nonlocal last_write
        status.frames_done = done
        if time.monotonic() - last_write >= _STATUS_EVERY_S:
            last_write = time.monotonic()
            _write_status(folder, status)

    def stopped() -> bool:
        # Another process cancels with the marker file: looked for once a second of video.
        return stop.is_set() or (status.frames_done % storyboard.fps == 0 and (folder / "cancelled").exists())

    encode(storyboard, images, partial, on_frame=on_frame, stopped=stopped)
    os.replace(partial, folder / "video.mp4")


def _thumbnail(image: Image.Image, path: Path) -> None:
    thumbnail = image.copy()
    thumbnail.thumbnail((640, 640))
    thumbnail.save(path, format="JPEG", quality=85)


def _sweep(*, keep: str) -> None:
    """Remove the folders of renders older than ``KEEP_S`` (their jobs ended long ago)."""
    cutoff = time.time() - KEEP_S
    try:
        folders = list(work_dir().iterdir())
    except OSError:
        return
    for folder in folders:
        try:
            if folder.name != keep and folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue
