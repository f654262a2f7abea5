"""Real `bastion` processes (worker, serve) against the test database, for the tests that need
them: tests/test_processes.py and the phishing worker-kill tests."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database this test runs against (the test database), for child processes."""
    s = connection.settings_dict
    if s["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "", safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{quote(s['NAME'])}"


@contextmanager
def started(tmp_path: Path, **env: str) -> Iterator[Callable[..., subprocess.Popen]]:
    """Yields start(*args, **more_env), which starts `bastion <args>` with these environment
    variables; every process still running is stopped on leaving, and every log printed (pytest
    shows them for a failing test)."""
    processes: list[subprocess.Popen] = []

    def start(*args: str, **more_env: str) -> subprocess.Popen:
        full_env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                    **env, **more_env}
        full_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        log = tmp_path / f"process-{len(processes)}.log"
        process = subprocess.Popen([sys.executable, "-m", "bastion", *args], cwd=ROOT, env=full_env,
                                   stdout=log.open("w"), stderr=subprocess.STDOUT)
        process.log_path = log  # type: ignore[attr-defined]
        processes.append(process)
        return process

    try:
        yield start
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for process in processes:
            print(f"--- {process.args!r} (exit {process.returncode}) ---\n"
                  f"{process.log_path.read_text()}")  # type: ignore[attr-defined]


def stop(process: subprocess.Popen, timeout: float = 15) -> int:
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout)
    if code != 0 and hasattr(process, "log_path"):
        # Show why in the failure report.
        print(f"--- exit {code}; log of {process.args!r}:\n{process.log_path.read_text()}")
    return code


def wait_for(condition, timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out waiting for {what}")
        time.sleep(0.1)
