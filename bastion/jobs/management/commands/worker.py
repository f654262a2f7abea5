"""`bastion worker`: run background tasks, schedule periodic jobs, report a heartbeat.

Run as many as you like, on as many machines as share the database: tasks are claimed with
row locks by django-tasks-db, periodic jobs once per period through PeriodicRun, and the work of
a worker that was killed is put back by jobs.tasks.recover_orphaned_tasks.

SIGINT / SIGTERM stop it gracefully: the task in progress finishes, then the worker exits
(a second signal abandons the task; the recovery job will run it again).
"""

import logging
import os
import signal
import socket
import sys
import time
from argparse import ArgumentParser
from types import FrameType

from django.core.management.base import BaseCommand
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker, valid_interval

from bastion.jobs.models import WorkerHeartbeat
from bastion.jobs.periodic import Scheduler, discover_jobs
from bastion.jobs.runner import BackgroundLoop

logger = logging.getLogger("bastion.jobs")


def _signals() -> list[signal.Signals]:
    return [signal.SIGINT, signal.SIGTERM] + ([signal.SIGQUIT] if hasattr(signal, "SIGQUIT") else [])


def new_worker_id() -> str:
    """Readable in the task records and unique: host, process id and a random suffix."""
    host = socket.gethostname().split(".")[0][:40]
    return f"{host}.{os.getpid()}.{get_random_string(8)}"


class Command(BaseCommand):
    help = "Run background tasks and periodic jobs until stopped."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--interval", type=valid_interval, default=1.0,
            help="Seconds to wait when no task is ready (default: 1)",
        )
        parser.add_argument(
            "--queue-name", default="*",
            help="Queues to run, comma-separated; '*' for all (default)",
        )
        parser.add_argument("--worker-id", default=None, help="Unique id (default: host.pid.random)")
        parser.add_argument(
            "--no-scheduler", action="store_false", dest="scheduler",
            help="Run tasks only; leave periodic jobs to other workers",
        )

    def handle(self, *, interval: float, queue_name: str, worker_id: str | None, scheduler: bool,
               verbosity: int, **options) -> None:
        level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
        for name in ("django_tasks_db", "django.tasks", "bastion"):
            logging.getLogger(name).setLevel(level)

        worker_id = (worker_id or new_worker_id())[:64]
        jobs = discover_jobs()
        # Report before taking any task, so the task is never held by a worker nobody has heard of.
        WorkerHeartbeat.objects.beat(worker_id)
        # A copy: a task module imported later (to run its task) must not add jobs mid-run.
        loop = BackgroundLoop(worker_id, Scheduler(worker_id, dict(jobs) if scheduler else {}))
        loop.start()
        logger.info(
            "Worker %s started (pid %s); periodic jobs: %s", worker_id, os.getpid(),
            ", ".join(sorted(jobs)) if scheduler else "off",
        )
        worker = Worker(
            queue_names=queue_name.split(","),
            interval=interval,
            batch=False,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=True,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        self._handle_signals(worker)
        try:
            worker.run()
        finally:
            loop.stop()
            logger.info("Worker %s stopped", worker_id)

    @staticmethod
    def _handle_signals(worker: Worker) -> None:
        """Stop after the current loop: the handler only clears a flag.

        django-tasks-db's own handler raises SystemExit from inside whatever the worker is
        doing; when that is a database call, the driver turns it into an error and the worker
        exits with a failure. Here the loop notices within one interval instead. A second
        signal still abandons the task in progress (the recovery job runs it again).
        """

        first_signal_at: list[float] = []

        def stop(signum: int, frame: FrameType | None) -> None:
            # Ctrl-C under `bastion serve --with-worker` reaches the worker twice (from the
            # terminal and forwarded by serve): a repeat within two seconds is the same request.
            if first_signal_at and time.monotonic() - first_signal_at[0] < 2:
                return
            if not worker.running:
                logger.warning("Second %s: abandoning the current task", signal.strsignal(signum))
                for sig in _signals():
                    signal.signal(sig, signal.SIG_DFL)
                sys.exit(1)
            logger.info("%s: stopping after the current task", signal.strsignal(signum))
            first_signal_at.append(time.monotonic())
            worker.running = False

        for sig in _signals():
            signal.signal(sig, stop)
