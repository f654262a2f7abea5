"""Probe tasks for tests/test_processes.py. Workers load it through BASTION_EXTRA_TASK_MODULES;
each run appends a line to the file named by $PROBE_LOG, so a test can count executions."""

import os
import time
from datetime import timedelta

from django.tasks import task

from bastion.jobs.periodic import periodic


def _log(line: str) -> None:
    if path := os.environ.get("PROBE_LOG"):
        with open(path, "a") as f:
            f.write(line + "\n")


@periodic(every=timedelta(seconds=1))
@task()
def tick() -> int:
    _log(f"tick {os.getpid()}")
    return os.getpid()


@task(takes_context=True)
def slow(context, seconds: float) -> str:
    """Sleeps on its first attempt only, so a test can kill the worker running it."""
    _log(f"slow-start {context.attempt}")
    if context.attempt == 1:
        time.sleep(seconds)
    _log(f"slow-done {context.attempt}")
    return "done"
