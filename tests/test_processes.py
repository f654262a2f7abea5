"""Real `bastion worker` and `bastion serve` processes against the test database.

Run on PostgreSQL too (DATABASE_URL=postgres://...): that is the proof that periodic jobs run
once per period with several workers, and that a killed worker's task is run again, once.
"""

import json
import os
import signal
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.test import RequestFactory
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bastion.jobs.models import PeriodicRun, WorkerHeartbeat
from bastion.jobs.tasks import recover_orphaned_tasks
from bastion.jobs.tests import JOB_APPS
from bastion.views import readyz
from conftest import free_port
from tests.processes import started, stop, wait_for

# Only these apps' tables are emptied after each test: the audit trail refuses to be truncated.
pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True, available_apps=JOB_APPS)]

PROBE = "tests.periodic_probe"


@pytest.fixture
def probe_log(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "probe.log"
    path.touch()
    monkeypatch.setenv("PROBE_LOG", str(path))
    return path


@pytest.fixture
def start(tmp_path, probe_log):
    """start(*args, extra_modules="") starts `bastion <args>`; every process is stopped at the end."""
    with started(tmp_path, PROBE_LOG=str(probe_log)) as start_process:
        yield lambda *args, extra_modules="": start_process(*args, BASTION_EXTRA_TASK_MODULES=extra_modules)


def run_remaining_tasks() -> None:
    call_command("db_worker", batch=True, reload=False, startup_delay=False, queue_name="*", verbosity=0)


def test_two_workers_run_each_period_of_a_periodic_job_once(start, probe_log):
    # The view itself: the auth middleware needs the accounts app, left out of this test.
    assert readyz(RequestFactory().get("/readyz")).status_code == 503  # no worker has reported yet

    workers = [start("worker", "--interval", "0.2", extra_modules=PROBE) for _ in range(2)]
    wait_for(lambda: WorkerHeartbeat.objects.count() == 2, what="both workers' heartbeats")
    response = readyz(RequestFactory().get("/readyz"))
    assert response.status_code == 200
    assert json.loads(response.content) == {"database": "ok", "workers": 2}

    time.sleep(7)
    assert [stop(w) for w in workers] == [0, 0]
    run_remaining_tasks()  # a period enqueued just before the stop

    runs = list(PeriodicRun.objects.filter(job=f"{PROBE}.tick").order_by("period_start"))
    assert len(runs) >= 3
    starts = [r.period_start for r in runs]
    assert len(set(starts)) == len(starts)
    assert all(b - a >= timedelta(seconds=1) for a, b in zip(starts, starts[1:], strict=False))
    results = DBTaskResult.objects.filter(task_path=f"{PROBE}.tick")
    assert results.count() == len(runs)
    assert {str(r.id) for r in results.filter(status=TaskResultStatus.SUCCESSFUL)} == {r.task_result_id for r in runs}
    assert probe_log.read_text().count("tick ") == len(runs)
    heartbeats = WorkerHeartbeat.objects.all()
    assert {h.pid for h in heartbeats} == {w.pid for w in workers}
    assert {r.claimed_by for r in runs} <= {h.worker_id for h in heartbeats}


def test_task_of_a_killed_worker_is_recovered_and_runs_once(start, probe_log):
    from tests.periodic_probe import slow

    result = slow.enqueue(60)
    worker = start("worker", "--interval", "0.2")
    wait_for(lambda: "slow-start 1" in probe_log.read_text(), what="the slow task to start")
    worker.send_signal(signal.SIGKILL)
    worker.wait(5)

    result.refresh()
    assert result.status == TaskResultStatus.RUNNING  # nobody is left to finish it
    assert recover_orphaned_tasks.call() == 0  # the worker only just stopped reporting

    # Let the clock run past the point where the silent worker counts as dead.
    long_ago = timezone.now() - timedelta(minutes=5)
    WorkerHeartbeat.objects.update(seen_at=long_ago)
    DBTaskResult.objects.filter(id=result.id).update(started_at=long_ago)
    assert recover_orphaned_tasks.call() == 1
    result.refresh()
    assert result.status == TaskResultStatus.READY

    replacement = start("worker", "--interval", "0.2")
    wait_for(lambda: DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.SUCCESSFUL,
             what="the recovered task to finish")
    assert stop(replacement) == 0
    assert probe_log.read_text().splitlines() == ["slow-start 1", "slow-start 2", "slow-done 2"]
    result.refresh()
    assert len(result.worker_ids) == 2


def test_serve_with_worker_answers_and_stops_both_on_sigterm(start, tmp_path):
    port = free_port()
    server = start("serve", "--with-worker", "--port", str(port), "--workers", "1", "--threads", "2")
    log = tmp_path / "process-0.log"
    wait_for(lambda: f"listening on http://127.0.0.1:{port}/" in log.read_text(), timeout=20,
             what="the server to listen")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        assert response.status == 200
    wait_for(lambda: WorkerHeartbeat.objects.exists(), what="the worker's heartbeat")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
        assert response.status == 200
    worker_pid = WorkerHeartbeat.objects.get().pid

    assert stop(server, timeout=45) == 0
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
