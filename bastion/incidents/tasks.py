"""The incidents' background jobs."""

from datetime import timedelta

from django.tasks import task

from bastion.jobs.periodic import periodic

from . import escalation


@periodic(every=timedelta(minutes=5))
@task()
def escalate_overdue_notifications() -> int:
    """Notifications past their deadline and not recorded go to the incident commander and the
    security leads, once each (see escalation.py)."""
    return escalation.escalate_overdue()
