"""A render API on 127.0.0.1 for the job tests: a real server in a thread, scripted by the prompt.

``POST /jobs`` starts a job (``{"id", "poll_url"}``), ``GET /jobs/<id>`` is its status,
``POST /jobs/<id>/cancel`` stops it, ``GET /files/<id>.mp4`` is its video. The prompt's first word
picks the script, one step per poll:

- ``ok``: 10 %, 40 %, 80 %, then done (a video to download);
- ``instant``: done at the first poll; ``inline``: done, the video's bytes in the answer;
- ``fail``: 20 %, then failed (the safety filter); ``flaky``: a 503, then as ``ok``;
- ``noseconds``: done, without the length the tool's output needs;
- ``forever`` and ``callback``: running until cancelled (or the test calls back).

A ``ScriptedApi`` whose every answer comes from ``answer``: other processes (the Celery worker)
reach it too, everything is over HTTP.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.scripted_api import Recorded, Reply, ScriptedApi

API_KEY = "render-key-123456"
FAILURE = "The prompt was refused by the safety filter."


def video_bytes(job_id: str) -> bytes:
    return b"\x00\x00\x00\x18ftypmp42" + f"a fake video of job {job_id}. ".encode() * 200


@dataclass
class FakeJob:
    id: str
    prompt: str
    polls: int = 0
    cancelled: bool = False

    @property
    def scenario(self) -> str:
        return self.prompt.split()[0]


class FakeRenderApi:
    def __init__(self) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.downloads: dict[str, int] = {}
        self.lock = threading.Lock()
        self.http = ScriptedApi(fallback=self.answer)

    @property
    def base_url(self) -> str:
        return self.http.url

    def start(self, prompt: str) -> FakeJob:
        job = FakeJob(id=f"job-{uuid.uuid4().hex[:12]}", prompt=prompt)
        with self.lock:
            self.jobs[job.id] = job
        return job

    def only_job(self) -> FakeJob:
        [job] = self.jobs.values()
        return job

    def finished_body(self, job_id: str) -> dict[str, Any]:
        """What the API says (and calls back with) once the job is done."""
        return {"id": job_id, "status": "done", "video_url": f"{self.base_url}/files/{job_id}.mp4", "seconds": 3.0}

    def status(self, job: FakeJob) -> tuple[int, dict[str, Any]]:
        job.polls += 1
        step, scenario = job.polls, job.scenario
        if job.cancelled:
            return 200, {"id": job.id, "status": "failed", "error": "cancelled"}
        if scenario == "flaky":
            if step == 1:
                return 503, {"error": "busy"}
            step -= 1
        if scenario in ("ok", "flaky") and step <= 3:
            return 200, {
                "id": job.id,
                "status": "running",
                "progress": [10, 40, 80][step - 1],
                "message": f"step {step}",
            }
        if scenario == "fail":
            if step == 1:
                return 200, {"id": job.id, "status": "running", "progress": 20}
            return 200, {"id": job.id, "status": "failed", "error": FAILURE}
        if scenario in ("forever", "callback"):
            return 200, {"id": job.id, "status": "running", "progress": min(5 * step, 95), "message": "rendering"}
        if scenario == "inline":
            return 200, {
                "id": job.id,
                "status": "done",
                "video_base64": base64.b64encode(video_bytes(job.id)).decode(),
                "seconds": 1.5,
            }
        if scenario == "noseconds":
            return 200, {"id": job.id, "status": "done", "video_url": f"{self.base_url}/files/{job.id}.mp4"}
        return 200, self.finished_body(job.id)

    def answer(self, request: Recorded) -> Reply:
        """The server's answer to every request (the ``ScriptedApi``'s fallback: nothing is scripted)."""
        if request.path.startswith("/files/"):
            job_id = request.path.removeprefix("/files/").removesuffix(".mp4")
            with self.lock:
                self.downloads[job_id] = self.downloads.get(job_id, 0) + 1
            return Reply(body=video_bytes(job_id), content_type="video/mp4")
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return Reply(401, {"error": "bad key"})
        if request.method == "POST" and request.path == "/jobs":
            job = self.start(request.json()["prompt"])
            return Reply(201, {"id": job.id, "poll_url": f"{self.base_url}/jobs/{job.id}"})
        matched = re.fullmatch(r"/jobs/([\w-]+)(/cancel)?", request.path)
        found = self.jobs.get(matched.group(1)) if matched else None
        if matched is None or found is None:
            return Reply(404, {"error": "no such job"})
        if matched.group(2) and request.method == "POST":
            found.cancelled = True
            return Reply(json={"id": found.id, "status": "cancelled"})
        with self.lock:
            status, answer = self.status(found)
        return Reply(status, answer)


@contextmanager
def serve_render_api() -> Iterator[FakeRenderApi]:
    api = FakeRenderApi()
    with api.http:
        yield api
