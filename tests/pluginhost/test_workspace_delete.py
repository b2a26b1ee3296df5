"""Deleting a workspace deletes its plugin jobs' stored files too (after the commit, not before)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from builder.accounts.models import Workspace
from builder.accounts.services import workspace_delete
from builder.pluginhost.job_files import job_folder
from builder.pluginhost.models import PluginJob
from tests.factories import make_workspace, owner_of, rolled_back

pytestmark = pytest.mark.django_db(transaction=True)


def test_deleting_the_workspace_deletes_its_job_files_unless_rolled_back() -> None:
    workspace = make_workspace()
    now = timezone.now()
    job = PluginJob.objects.create(
        workspace=workspace,
        plugin_id="video_generation",
        tool="generate_video",
        job_id="job-1",
        poll_interval_s=1,
        deadline_s=60,
        status=PluginJob.Status.SUCCEEDED,
        deadline_at=now + timedelta(minutes=1),
        next_poll_at=now,
    )
    stored = default_storage.save(f"{job_folder(workspace.pk, job.pk)}/video.mp4", ContentFile(b"\0\0\0\x18ftypmp42"))
    job.files = [stored]
    job.save(update_fields=["files"])
    owner = owner_of(workspace)

    rolled_back(lambda: workspace_delete(actor=owner, workspace=workspace))
    assert default_storage.exists(stored)

    workspace_delete(actor=owner, workspace=Workspace.objects.get(pk=job.workspace_id))
    assert not PluginJob.objects.filter(pk=job.pk).exists() and not default_storage.exists(stored)
