from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from builder.accounts.models import ApiKey, User
from builder.bots.models import Bot, BotVersion
from builder.core.models import BaseModel


class Source(models.TextChoices):
    DEBUG = "debug", _("Builder debug chat")
    WEB = "web", _("Web")
    API = "api", _("API")
    CHANNEL = "channel", _("Chat app")


class Conversation(BaseModel):
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="conversations")
    # Debug chats run the draft; published channels run a version (None = the live one at send time).
    use_draft = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.DEBUG)
    # Who owns the chat (``builder/conversations/ownership.py``): the signed-in person who opened
    # it (``user``), or the API key that opened it (``api_key``) together with the end user its
    # client named (``end_user_id``, "" when it named none). Deleting a key deletes its chats.
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    end_user_id = models.CharField(max_length=200, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    variables: models.JSONField[Any, Any] = models.JSONField(default=dict)
    # The running summary of the turns older than the llm nodes' memory windows (memory_summary),
    # and the created_at of the newest message it covers: each run folds in only the turns after it.
    summary = models.TextField(_("summary"), blank=True)
    summary_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")

    def __str__(self) -> str:
        return self.title or str(self.pk)


class Run(BaseModel):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Waiting for the user")
        FINISHED = "finished", _("Finished")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="runs")
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="runs")
    # A published run reads its (immutable) version's graph: RESTRICT keeps the version while runs
    # point at it, yet deleting the bot deletes both.
    bot_version = models.ForeignKey(BotVersion, null=True, blank=True, on_delete=models.RESTRICT, related_name="+")
    # A draft run's copy of the graph (the draft may change while a paused run waits); None when
    # the run has a version.
    graph: models.JSONField[Any, Any] = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    query = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    outputs: models.JSONField[Any, Any] = models.JSONField(default=dict)
    error: models.JSONField[Any, Any] = models.JSONField(null=True, blank=True)
    usage: models.JSONField[Any, Any] = models.JSONField(default=dict)
    last_seq = models.PositiveIntegerField(default=0)
    paused_node_id = models.CharField(max_length=128, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written while the run executes; a stale heartbeat means its worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # What started the run (its principal, whose rights a draft run's references are checked
    # against): the API key when one did, else ``created_by`` (kept for audit either way).
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("run")
        verbose_name_plural = _("runs")

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"


class Message(BaseModel):
    class Role(models.TextChoices):
        USER = "user", _("User")
        ASSISTANT = "assistant", _("Assistant")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    # An assistant message's files, produced by tools during its run (a rendered video): a list of
    # ``{"node_id", "url", "name", "content_type", "size"}`` (``engine.runtime.events.FileInfo``).
    files: models.JSONField[Any, Any] = models.JSONField(_("files"), default=list, blank=True)
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class RunStep(BaseModel):
    """One node execution: the trace the builder's debug panel shows."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    node_id = models.CharField(max_length=128)
    node_type = models.CharField(max_length=64)
    status = models.CharField(max_length=16)  # running | finished | failed
    inputs: models.JSONField[Any, Any] = models.JSONField(default=dict)
    outputs: models.JSONField[Any, Any] = models.JSONField(default=dict)
    error: models.JSONField[Any, Any] = models.JSONField(null=True, blank=True)
    branch = models.CharField(max_length=128, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    usage: models.JSONField[Any, Any] = models.JSONField(default=dict)
    attempts = models.PositiveSmallIntegerField(default=1)
    started_seq = models.PositiveIntegerField()

    class Meta:
        ordering = ["started_seq"]
        verbose_name = _("run step")
        verbose_name_plural = _("run steps")


class RunEvent(BaseModel):
    """Persisted events, compact: token deltas are folded into message.completed."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=32)
    data: models.JSONField[Any, Any] = models.JSONField()

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="unique_run_event_seq")]
        verbose_name = _("run event")
        verbose_name_plural = _("run events")
