"""Housekeeping of the background machinery itself: recovering work of killed workers, pruning."""

from datetime import timedelta

from django.conf import settings
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from .models import PeriodicRun, WorkerHeartbeat
from .periodic import periodic

# A worker reports every 10 seconds; one silent this long is taken to be dead.
WORKER_DEAD_AFTER = timedelta(minutes=2)


@periodic(every=timedelta(minutes=1))
@task()
def recover_orphaned_tasks() -> int:
    """Put back to READY the tasks left RUNNING by a worker that died (SIGKILL, power loss).

    django-tasks-db marks a task RUNNING when a worker claims it and leaves it so forever if
    that worker dies. A task is orphaned when it has been running longer than WORKER_DEAD_AFTER
    and the worker that claimed it (the last of its worker_ids) has not reported a heartbeat
    for WORKER_DEAD_AFTER. Each is released with a conditional UPDATE that also matches its
    started_at, so a task another worker has meanwhile claimed again is left alone.

    Running a task again is safe because Bastion's tasks are idempotent: sending an email
    claims the message first and never resends one that was being sent (see outbox.tasks),
    and periodic jobs are sweeps that redo nothing already done.
    """
    cutoff = timezone.now() - WORKER_DEAD_AFTER
    alive = set(WorkerHeartbeat.objects.seen_since(cutoff).values_list("worker_id", flat=True))
    running = DBTaskResult.objects.running().filter(started_at__lt=cutoff)
    released = 0
    for pk, worker_ids, started_at in running.values_list("id", "worker_ids", "started_at"):
        if worker_ids and worker_ids[-1] in alive:
            continue
        released += DBTaskResult.objects.filter(
            id=pk, status=TaskResultStatus.RUNNING, started_at=started_at
        ).update(status=TaskResultStatus.READY)
    return released


@periodic(every=timedelta(hours=1))
@task()
def prune_job_records() -> dict[str, int]:
    """Delete heartbeats of workers gone for a day, and finished task results and periodic
    runs older than BASTION_TASK_RESULTS_KEEP_DAYS (14 by default)."""
    now = timezone.now()
    keep = timedelta(days=getattr(settings, "BASTION_TASK_RESULTS_KEEP_DAYS", 14))
    heartbeats, _ = WorkerHeartbeat.objects.filter(seen_at__lt=now - timedelta(days=1)).delete()
    results, _ = DBTaskResult.objects.finished().filter(finished_at__lt=now - keep).delete()
    runs, _ = PeriodicRun.objects.filter(period_start__lt=now - keep).delete()
    return {"heartbeats": heartbeats, "task_results": results, "periodic_runs": runs}
