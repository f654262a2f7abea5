"""Account housekeeping that runs in the background."""

from datetime import timedelta

from django.tasks import task

from bastion.jobs.periodic import periodic

from .throttle import prune_attempts


@periodic(every=timedelta(hours=1))
@task()
def prune_login_attempts() -> int:
    """Sign-in attempts older than the throttling window no longer count; drop them hourly."""
    return prune_attempts()
