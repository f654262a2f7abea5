"""The incidents' background jobs."""

from datetime import timedelta

from django.tasks import task

from bastion.jobs.periodic import periodic

from . import escalation, review, updates


@periodic(every=timedelta(minutes=5))
@task()
def escalate_overdue_notifications() -> int:
    """Notifications past their deadline and not recorded go to the incident commander and the
    security leads, once each (see escalation.py)."""
    return escalation.escalate_overdue()


@periodic(every=timedelta(minutes=5))
@task()
def remind_due_status_updates() -> int:
    """The incident commander hears when the next status update is due and none was sent, once
    per due time (see updates.py)."""
    return updates.remind_due_updates()


@periodic(every=timedelta(hours=1))
@task()
def remind_due_action_items() -> int:
    """Owners of post-incident action items hear on the due date, once per due date (review.py)."""
    return review.remind_due_action_items()
