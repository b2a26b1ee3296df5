"""A render API on 127.0.0.1 for the job tests: a real server in a thread, scripted by the prompt.

``POST /jobs`` starts a job (``{"id", "poll_url"}``), ``GET /jobs/<id>`` is its status,
``POST /jobs/<id>/cancel`` stops it, ``GET /files/<id>.mp4`` is its video. The prompt's first word
picks the script, one step per poll:

- ``ok``: 10 %, 40 %, 80 %, then done (a video to download);
- ``instant``: done at the first poll; ``inline``: done, the video's bytes in the answer;
- ``fail``: 20 %, then failed (the safety filter); ``flaky``: a 503, then as ``ok``;
- ``noseconds``: done, without the length the tool's output needs;
- ``forever`` and ``callback``: running until cancelled (or the test calls back).

Other processes (the Celery worker) reach it too: everything is over HTTP.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.jobs: dict[str, FakeJob] = {}
        self.downloads: dict[str, int] = {}
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

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


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._reply(status, json.dumps(data).encode())

    def _handle(self) -> None:
        api = self.server.api
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/files/"):
            job_id = self.path.removeprefix("/files/").removesuffix(".mp4")
            with api.lock:
                api.downloads[job_id] = api.downloads.get(job_id, 0) + 1
            self._reply(200, video_bytes(job_id), "video/mp4")
            return
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._json(401, {"error": "bad key"})
            return
        if self.command == "POST" and self.path == "/jobs":
            job = api.start(json.loads(body)["prompt"])
            self._json(201, {"id": job.id, "poll_url": f"{api.base_url}/jobs/{job.id}"})
            return
        matched = re.fullmatch(r"/jobs/([\w-]+)(/cancel)?", self.path)
        found = api.jobs.get(matched.group(1)) if matched else None
        if matched is None or found is None:
            self._json(404, {"error": "no such job"})
            return
        job = found
        if matched.group(2) and self.command == "POST":
            job.cancelled = True
            self._json(200, {"id": job.id, "status": "cancelled"})
        else:
            with api.lock:
                status, answer = api.status(job)
            self._json(status, answer)

    do_GET = do_POST = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeRenderApi


@contextmanager
def serve_render_api() -> Iterator[FakeRenderApi]:
    server = _Server(("127.0.0.1", 0), _Handler)
    api = server.api = FakeRenderApi(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
