"""Real `bastion` processes against the test database, as tests/test_processes.py starts them
(copied here rather than imported, so the phishing tests stand on their own)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]


def database_url() -> str:
    """The URL of the database this test runs against (the test database), for child processes."""
    s = connection.settings_dict
    if s["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "", safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{quote(s['NAME'])}"


@pytest.fixture
def start(tmp_path):
    """start(*args) starts `bastion <args>`; every process still running is stopped at the end."""
    started: list[tuple[subprocess.Popen, Path]] = []

    def start_process(*args: str) -> subprocess.Popen:
        env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        log = tmp_path / f"process-{len(started)}.log"
        process = subprocess.Popen([sys.executable, "-m", "bastion", *args], cwd=ROOT, env=env,
                                   stdout=log.open("w"), stderr=subprocess.STDOUT)
        started.append((process, log))
        return process

    yield start_process
    for process, _ in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for process, log in started:
        print(f"--- bastion {' '.join(map(str, process.args[3:]))} (exit {process.returncode}) ---\n"
              f"{log.read_text()}")


def stop(process: subprocess.Popen, timeout: float = 15) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout)


def wait_for(condition, timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out waiting for {what}")
        time.sleep(0.1)
