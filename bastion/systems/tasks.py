"""The criticality review's background jobs: reminders to leaders and to the security leads."""

from datetime import timedelta

from django.tasks import task

from bastion.jobs.periodic import periodic

from . import reminders


@periodic(every=timedelta(hours=1))
@task()
def send_review_reminders() -> int:
    """Leaders who have not answered an open review hear from us a week and a day before its
    deadline (each reminder once; see reminders.py)."""
    return reminders.send_answer_reminders()


@periodic(every=timedelta(hours=6))
@task()
def send_review_cycle_reminders() -> int:
    """The yearly criticality review: the security leads hear 30 days before it is due, and when
    it is due, unless a new review is under way."""
    return reminders.send_cycle_reminders()
