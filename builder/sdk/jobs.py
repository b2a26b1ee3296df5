"""Long-running tools: what a job's ``poll`` reports, its result files, and a provider's callback.

A ``long_running`` tool's ``invoke`` starts the job at the provider and returns a ``JobHandle``.
The host stores the handle and follows the job in the background: every ``poll_interval_s`` it
calls the tool's ``poll(handle, ctx)``, which asks the provider and answers a ``JobStatus``:

- ``running``: ``percent`` and ``note`` are shown in the chat (``tool.progress``);
- ``succeeded``: ``output`` (plus ``files``) is the tool's result, checked against its output model;
- ``failed``: ``error`` is shown to the user (the node fails with ``job_failed``).

A job still running ``deadline_s`` after it started fails with ``job_expired``; a cancelled run
cancels its job (the tool's ``cancel(handle, ctx)``, when it has one, tells the provider). A
provider that calls back (``register_routes``) may finish a job at once: the route's handler
answers ``WebhookResponse(job_updates=[JobCallback(job_id=..., status=...)])``.

Result files (a rendered video) are ``JobFile``s in ``JobStatus.files``, keyed by the output
field that carries their URL: the host downloads each ``url`` through the plugin's HTTP client
(the manifest must list the file's host; ``headers``, such as the API key a provider wants for
its download, go with that request only) or takes ``data`` as it is, stores it with the server's
file storage, and puts the stored file's URL in that field before checking the output.

No Django here: plugins and their tests import this without a server.
"""

from __future__ import annotations

import math
from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

MAX_NOTE_CHARS: Final = 500
MAX_ERROR_CHARS: Final = 2000
MAX_HEADERS: Final = 20

JobState = Literal["running", "succeeded", "failed"]


class JobFile(BaseModel):
    """A result file: exactly one of ``url`` (the host downloads it) or ``data`` (its bytes).

    ``name`` is the file's name as a user would save it (``clip.mp4``); the host keeps its
    extension. ``content_type`` is its media type (``video/mp4``), which decides how the chat
    shows it. ``headers`` go with the host's download of ``url`` (``Authorization`` when the
    provider's file needs the key). They carry credentials, so they are left out of the model's
    dumps and repr: the host never stores or logs them, and uses them for that download only.
    An ``optional`` file (a thumbnail) that cannot be had leaves its field out instead of failing
    the job.
    """

    # bytes travel as base64 when a status is queued for another process as JSON.
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    name: str = Field(min_length=1, max_length=200, description="The file's name, with its extension.")
    content_type: str = Field(min_length=1, max_length=200, description="Its media type, e.g. video/mp4.")
    url: str | None = Field(default=None, max_length=4000, description="Where the host downloads it from.")
    data: bytes | None = Field(default=None, description="The file itself (small files rendered locally).")
    headers: dict[str, str] = Field(
        default_factory=dict,
        exclude=True,
        repr=False,
        max_length=MAX_HEADERS,
        description="Sent with the download of url (credentials): never stored or logged.",
    )
    optional: bool = Field(default=False, description="The result stands without it (a thumbnail).")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.url is None) == (self.data is None):
            raise ValueError("a JobFile needs exactly one of url (downloaded by the host) or data (the bytes)")
        if self.headers and self.url is None:
            raise ValueError("headers go with the download of url: a JobFile with data has none")
        return self


class JobStatus(BaseModel):
    """What ``poll`` (or a provider's callback) says about a job.

    ``percent`` (0-100, clamped) and ``note`` are progress for the chat. ``output`` and ``files``
    only with ``state="succeeded"``: ``files`` maps an output field to a ``JobFile``, whose stored
    URL the host puts in that field. ``error`` is the message a user sees when ``state="failed"``.
    ``handle_state``, when given, replaces ``JobHandle.state`` for the next polls (a new poll URL,
    a cursor).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: JobState
    percent: float | None = Field(default=None, description="0-100; None when unknown.")
    note: str = Field(default="", description="A short note for the chat (rendering frame 40/120…).")
    output: dict[str, JsonValue] | None = Field(default=None, description="The result, when succeeded.")
    files: dict[str, JobFile] = Field(default_factory=dict, description="Output field → result file.")
    error: str = Field(default="", description="What went wrong, for the user, when failed.")
    handle_state: dict[str, JsonValue] | None = Field(default=None, description="A new JobHandle.state.")

    @field_validator("percent")
    @classmethod
    def _clamped(cls, percent: float | None) -> float | None:
        if percent is None:
            return None
        return 0.0 if math.isnan(percent) else min(max(float(percent), 0.0), 100.0)

    @field_validator("note")
    @classmethod
    def _short_note(cls, note: str) -> str:
        return note[:MAX_NOTE_CHARS]

    @field_validator("error")
    @classmethod
    def _short_error(cls, error: str) -> str:
        return error[:MAX_ERROR_CHARS]

    @model_validator(mode="after")
    def _result_only_when_succeeded(self) -> Self:
        if self.state != "succeeded" and (self.output is not None or self.files):
            raise ValueError(f"a {self.state} job has no output or files yet: report them with state='succeeded'")
        return self


class JobCallback(BaseModel):
    """A job's new status, reported by a webhook handler: ``job_id`` is the provider's id (the
    ``JobHandle.job_id`` the tool returned), of a job of the plugin whose route was called."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str = Field(min_length=1, max_length=500)
    status: JobStatus
