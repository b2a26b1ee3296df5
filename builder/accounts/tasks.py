from celery import shared_task

from builder.accounts.services import invitations_purge_stale


@shared_task(name="accounts.purge_stale_invitations")
def purge_stale_invitations() -> int:
    return invitations_purge_stale()
