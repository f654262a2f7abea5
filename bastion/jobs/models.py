import os
import socket
from datetime import datetime

from django.db import models
from django.utils import timezone


class WorkerHeartbeatQuerySet(models.QuerySet["WorkerHeartbeat"]):
    def beat(self, worker_id: str) -> None:
        """Record that `worker_id`, running in this process, is alive now."""
        self.update_or_create(
            worker_id=worker_id,
            defaults={"seen_at": timezone.now()},
            create_defaults={"hostname": socket.gethostname()[:255], "pid": os.getpid()},
        )

    def seen_since(self, since: datetime) -> "WorkerHeartbeatQuerySet":
        return self.filter(seen_at__gte=since)


class WorkerHeartbeat(models.Model):
    """A running `bastion worker` reports here; /readyz reads it."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = WorkerHeartbeatQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid}"


class PeriodicRun(models.Model):
    """One period of one periodic job. The unique constraint is what makes a job run once per
    period however many workers race for it: only the worker whose insert succeeds enqueues it."""

    job = models.CharField(max_length=200)
    period_start = models.DateTimeField()
    claimed_by = models.CharField(max_length=64)
    claimed_at = models.DateTimeField(default=timezone.now)
    task_result_id = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "period_start"], name="periodic_run_once_per_period")
        ]
        ordering = ["-period_start"]

    def __str__(self) -> str:
        return f"{self.job} @ {self.period_start:%Y-%m-%d %H:%M:%S}"
