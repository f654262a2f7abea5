import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.tasks import TaskResultStatus, task
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bastion.jobs.models import PeriodicRun, WorkerHeartbeat
from bastion.jobs.periodic import PeriodicJob, Scheduler, discover_jobs, period_start, periodic
from bastion.jobs.tasks import prune_job_records, recover_orphaned_tasks


@task()
def sample_job() -> str:
    return "ran"


def test_periods_are_aligned_to_the_epoch():
    now = datetime(2026, 3, 4, 10, 17, 42, 500000, tzinfo=UTC)
    assert period_start(timedelta(seconds=1), now) == datetime(2026, 3, 4, 10, 17, 42, tzinfo=UTC)
    assert period_start(timedelta(seconds=30), now) == datetime(2026, 3, 4, 10, 17, 30, tzinfo=UTC)
    assert period_start(timedelta(minutes=5), now) == datetime(2026, 3, 4, 10, 15, tzinfo=UTC)
    assert period_start(timedelta(days=1), now) == datetime(2026, 3, 4, tzinfo=UTC)
    # Any time zone gives the same instant.
    assert period_start(timedelta(hours=1), now.astimezone(timezone.get_fixed_timezone(330))) == \
        datetime(2026, 3, 4, 10, tzinfo=UTC)


def test_periodic_must_decorate_a_task():
    with pytest.raises(TypeError):
        periodic(every=timedelta(minutes=1))(lambda: None)
    with pytest.raises(ValueError):
        periodic(every=timedelta(milliseconds=10))


def test_discovery_finds_the_jobs_of_installed_apps():
    jobs = discover_jobs()
    assert {
        "bastion.jobs.tasks.recover_orphaned_tasks",
        "bastion.jobs.tasks.prune_job_records",
        "bastion.outbox.tasks.send_due_messages",
    } <= set(jobs)
    assert jobs["bastion.outbox.tasks.send_due_messages"].every == timedelta(seconds=30)


@pytest.mark.django_db
def test_only_one_scheduler_enqueues_a_period(django_assert_num_queries):
    job = PeriodicJob(name="sample", task=sample_job, every=timedelta(minutes=1))
    first, second = Scheduler("worker-a", {"sample": job}), Scheduler("worker-b", {"sample": job})
    now = datetime(2026, 3, 4, 10, 17, 42, tzinfo=UTC)

    assert first.tick(now) == ["sample"]
    assert second.tick(now + timedelta(seconds=5)) == []  # same period: the insert loses
    run = PeriodicRun.objects.get()
    assert (run.job, run.period_start, run.claimed_by) == ("sample", datetime(2026, 3, 4, 10, 17, tzinfo=UTC), "worker-a")
    assert DBTaskResult.objects.get().id == uuid.UUID(run.task_result_id)

    with django_assert_num_queries(0):  # a settled period costs nothing
        assert first.tick(now + timedelta(seconds=10)) == []
        assert second.tick(now + timedelta(seconds=10)) == []

    assert second.tick(now + timedelta(minutes=1)) == ["sample"]
    assert first.tick(now + timedelta(minutes=1)) == []
    assert PeriodicRun.objects.count() == 2
    assert DBTaskResult.objects.count() == 2


def running_task(worker_id: str, started: timedelta) -> DBTaskResult:
    result = sample_job.enqueue()
    DBTaskResult.objects.filter(id=result.id).update(
        status=TaskResultStatus.RUNNING, worker_ids=[worker_id], started_at=timezone.now() - started,
    )
    return DBTaskResult.objects.get(id=result.id)


@pytest.mark.django_db
def test_recovery_releases_only_tasks_of_silent_workers():
    WorkerHeartbeat.objects.create(worker_id="alive", hostname="h", pid=1)
    WorkerHeartbeat.objects.create(worker_id="dead", hostname="h", pid=2,
                                   seen_at=timezone.now() - timedelta(minutes=3))
    of_dead = running_task("dead", started=timedelta(minutes=5))
    of_alive = running_task("alive", started=timedelta(minutes=5))
    of_unknown = running_task("never-reported", started=timedelta(minutes=5))
    just_started = running_task("dead", started=timedelta(seconds=30))

    assert recover_orphaned_tasks.call() == 2
    statuses = {r.id: r.status for r in DBTaskResult.objects.all()}
    assert statuses[of_dead.id] == statuses[of_unknown.id] == TaskResultStatus.READY
    assert statuses[of_alive.id] == statuses[just_started.id] == TaskResultStatus.RUNNING


@pytest.mark.django_db
def test_prune_deletes_old_records_only():
    old = timezone.now() - timedelta(days=30)
    WorkerHeartbeat.objects.create(worker_id="gone", hostname="h", pid=1, seen_at=timezone.now() - timedelta(days=2))
    WorkerHeartbeat.objects.create(worker_id="here", hostname="h", pid=2)
    for finished_at in (old, timezone.now()):
        result = sample_job.enqueue()
        DBTaskResult.objects.filter(id=result.id).update(status=TaskResultStatus.SUCCESSFUL, finished_at=finished_at)
    PeriodicRun.objects.create(job="sample", period_start=old, claimed_by="gone")
    PeriodicRun.objects.create(job="sample", period_start=timezone.now(), claimed_by="here")

    assert prune_job_records.call() == {"heartbeats": 1, "task_results": 1, "periodic_runs": 1}
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["here"]
    assert DBTaskResult.objects.count() == 1
    assert PeriodicRun.objects.count() == 1


@pytest.mark.django_db
def test_readyz_needs_a_recent_worker_heartbeat():
    client = Client()
    assert client.get("/readyz").status_code == 503
    WorkerHeartbeat.objects.beat("w1")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "workers": 1}
    WorkerHeartbeat.objects.update(seen_at=timezone.now() - timedelta(minutes=2))
    assert client.get("/readyz").status_code == 503
