from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from builder.accounts.models import User, Workspace
from builder.core.models import BaseModel


class PluginInstallation(BaseModel):
    """One plugin in one workspace: whether its bots may use it, and the workspace's settings of it.

    A plugin with no row is installed on the server but not enabled in the workspace. Settings are
    split by the manifest's ``config_schema``: plain values in ``config``; ``"x-secret"`` fields
    encrypted (``builder.core.crypto``) in ``secrets_encrypted``, with the masked form every
    response shows in ``secret_hints``.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="plugin_installations")
    plugin_id = models.CharField(_("plugin"), max_length=64)
    enabled = models.BooleanField(_("enabled"), default=False)
    config: models.JSONField[Any, Any] = models.JSONField(_("settings"), default=dict, blank=True)
    secrets_encrypted: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    secret_hints: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["plugin_id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "plugin_id"], name="unique_plugin_per_workspace"),
        ]
        verbose_name = _("plugin installation")
        verbose_name_plural = _("plugin installations")

    def __str__(self) -> str:
        return f"{self.plugin_id} in {self.workspace_id}"


class PluginJob(BaseModel):
    """A long-running tool's job (``builder/pluginhost/jobs.py``): the ``JobHandle`` its ``invoke``
    returned, and how far the host got following it.

    The row is the truth every process shares: the poller (a Celery task, or an asyncio task in the
    embedded default) writes each status it learns; the waiting node reads it. ``attempts`` counts
    the polls claimed so far and is the token a poll task carries, so a task delivered twice
    claims nothing the second time. ``next_poll_at`` is when the next poll is due (or, while one
    runs, when its claim lapses): a job whose ``next_poll_at`` is long past lost its poller and is
    picked up again.
    """

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")
        EXPIRED = "expired", _("expired")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="plugin_jobs")
    # The run whose tool call started the job (not a foreign key: the plugin host does not depend
    # on conversations, and a job may outlive its run).
    run_id = models.CharField(max_length=64, blank=True, db_index=True)
    plugin_id = models.CharField(_("plugin"), max_length=64)
    tool = models.CharField(_("tool"), max_length=64)
    job_id = models.CharField(_("provider's job id"), max_length=500)
    handle_state: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    poll_interval_s = models.FloatField()
    deadline_s = models.FloatField()
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    percent = models.FloatField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    output: models.JSONField[Any, Any] = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    # Storage names of the files kept for the output (what to delete with the job).
    files: models.JSONField[Any, Any] = models.JSONField(default=list, blank=True)
    deadline_at = models.DateTimeField()
    next_poll_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    # Polls that failed in a row (the provider down, a timeout); too many fail the job.
    poll_errors = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_poll_at"], name="pluginjob_due"),
            models.Index(fields=["plugin_id", "job_id"], name="pluginjob_provider_id"),
        ]
        verbose_name = _("plugin job")
        verbose_name_plural = _("plugin jobs")

    def __str__(self) -> str:
        return f"{self.plugin_id}/{self.tool} job {self.job_id} ({self.status})"
