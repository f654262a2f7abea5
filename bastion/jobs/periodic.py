"""Periodic jobs: background tasks that run once per period, however many workers are running.

Declare one on top of a task::

    @periodic(every=timedelta(minutes=1))
    @task()
    def send_due_messages() -> int: ...

Every `bastion worker` runs a Scheduler. When a job's period begins (periods are aligned to the
Unix epoch, in UTC, so every worker on every machine computes the same ones), each scheduler
tries to insert a PeriodicRun(job, period_start) row and enqueue the task in one transaction.
The unique constraint lets exactly one insert succeed; the others get an IntegrityError, roll
back their enqueue, and skip the period. A worker that starts in the middle of a period runs the
job at once unless another worker already has.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.tasks import Task
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Task
    every: timedelta

    def period_start(self, now: datetime) -> datetime:
        return period_start(self.every, now)


# Filled by @periodic when the modules holding tasks are imported (see discover_jobs).
REGISTRY: dict[str, PeriodicJob] = {}


def periodic(*, every: timedelta):
    """Register the task below it to run once every `every` (at least one second)."""
    if every < timedelta(seconds=1):
        raise ValueError("A periodic job runs at most once a second")

    def register(job_task: Task) -> Task:
        if not isinstance(job_task, Task):
            raise TypeError("Put @periodic above @task(): it schedules a task, not a function")
        name = job_task.module_path
        REGISTRY[name] = PeriodicJob(name=name, task=job_task, every=every)
        return job_task

    return register


def period_start(every: timedelta, now: datetime) -> datetime:
    """The start of the period containing `now`, counted in whole periods from the epoch."""
    step = every // timedelta(microseconds=1)
    elapsed = (now - EPOCH) // timedelta(microseconds=1)
    return EPOCH + timedelta(microseconds=elapsed - elapsed % step)


def discover_jobs() -> dict[str, PeriodicJob]:
    """Import the `tasks` module of every installed app and settings.BASTION_EXTRA_TASK_MODULES."""
    autodiscover_modules("tasks")
    for module in settings.BASTION_EXTRA_TASK_MODULES:
        import_module(module)
    return REGISTRY


class Scheduler:
    """Claims and enqueues the periods of periodic jobs on behalf of one worker.

    It remembers the last period it settled for each job, so between period starts a tick costs
    no query at all; the database is asked once per job per period.
    """

    def __init__(self, worker_id: str, jobs: dict[str, PeriodicJob] | None = None) -> None:
        self.worker_id = worker_id
        self.jobs = REGISTRY if jobs is None else jobs
        self.settled: dict[str, datetime] = {}

    def tick(self, now: datetime | None = None) -> list[str]:
        """Enqueue every job whose current period nobody has claimed yet; return their names."""
        now = now or timezone.now()
        enqueued = []
        for job in list(self.jobs.values()):
            start = job.period_start(now)
            if self.settled.get(job.name) == start:
                continue
            try:
                won = self.claim(job, start)
            except DatabaseError:
                # Locked or unreachable database: leave the period unsettled, try next tick.
                logger.warning("Could not claim %s for %s; will retry", job.name, start, exc_info=True)
                continue
            self.settled[job.name] = start
            if won:
                enqueued.append(job.name)
        return enqueued

    def claim(self, job: PeriodicJob, start: datetime) -> bool:
        from .models import PeriodicRun

        try:
            with transaction.atomic():
                result = job.task.enqueue()
                PeriodicRun.objects.create(
                    job=job.name, period_start=start, claimed_by=self.worker_id,
                    task_result_id=str(result.id),
                )
        except IntegrityError:
            return False  # another worker has this period
        logger.info("Enqueued periodic job %s for %s", job.name, start.isoformat())
        return True
