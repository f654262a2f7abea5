"""The plan's background jobs: asking readers to acknowledge, and the periodic review reminder."""

from datetime import timedelta

from django.tasks import task

from bastion.jobs.periodic import periodic

from . import reminders
from .models import PlanVersion


@task()
def ask_readers_to_acknowledge(version_id: int) -> int:
    """Enqueued when a version is published: ask every required reader to acknowledge it."""
    version = PlanVersion.objects.select_related("plan").filter(pk=version_id).first()
    return reminders.ask_readers(version) if version is not None else 0


@periodic(every=timedelta(hours=1))
@task()
def send_acknowledgement_reminders() -> int:
    """Readers of the plan in force who have not acknowledged it are asked (if the publication's
    task has not reached them, e.g. new joiners) and reminded a week and three weeks later."""
    return reminders.send_acknowledgement_reminders()


@periodic(every=timedelta(hours=6))
@task()
def send_plan_review_reminders() -> int:
    """The owner hears 30 days before the plan's periodic review is due and when it is due; the
    security leads too once it is two weeks overdue (each once per due date)."""
    return reminders.send_review_reminders()
