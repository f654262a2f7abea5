"""`bastion serve`: the web server (gunicorn), and with --with-worker a `bastion worker` beside it.

Both run as child processes in their own process group, so a Ctrl-C in the terminal reaches
only this command, which forwards one SIGTERM to each child: gunicorn finishes its requests and
the worker its current task. A second Ctrl-C stops them at once. If either child exits on its
own, the other is stopped too; if this process is killed outright, Linux sends each child a
SIGTERM (PR_SET_PDEATHSIG), so nothing is left running.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from argparse import ArgumentParser

from django.core.management.base import BaseCommand, CommandError

STOP_TIMEOUT = 40  # seconds; gunicorn's graceful timeout is 30


class Command(BaseCommand):
    help = "Serve Bastion over HTTP with gunicorn (and optionally run a worker)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: 127.0.0.1)")
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PORT") or 8000),
            help="Port to listen on (default: $PORT or 8000)",
        )
        parser.add_argument("--workers", type=int, default=2, help="Web worker processes (default: 2)")
        parser.add_argument("--threads", type=int, default=4, help="Threads per web process (default: 4)")
        parser.add_argument("--with-worker", action="store_true", help="Also run `bastion worker`")

    def handle(self, *, host: str, port: int, workers: int, threads: int, with_worker: bool, **options) -> None:
        if _listening(host, port):
            raise CommandError(f"Something is already listening on {host}:{port}; choose another with --port.")
        children: dict[str, subprocess.Popen] = {}
        signals = 0

        def on_signal(signum, frame) -> None:
            nonlocal signals
            signals += 1
            if signals > 1:  # asked twice: gunicorn stops at once, the worker abandons its task
                for child in children.values():
                    if child.poll() is None:
                        child.send_signal(signal.SIGINT)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

        children["web server"] = _start([
            sys.executable, "-m", "gunicorn", "bastion.wsgi:application",
            "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads),
            "--graceful-timeout", "30", "--access-logfile", "-", "--no-control-socket",
        ])
        if with_worker:
            children["worker"] = _start([sys.executable, "-m", "bastion", "worker"])

        announced = False
        exit_code = 0
        while not signals:
            ended = [name for name, child in children.items() if child.poll() is not None]
            if ended:
                exit_code = children[ended[0]].returncode or 1
                self.stderr.write(f"The {ended[0]} stopped (exit code {children[ended[0]].returncode}); stopping.")
                break
            if not announced and _listening(host, port):
                announced = True
                shown = f"[{host}]" if ":" in host else host
                self.stdout.write(f"Bastion is listening on http://{shown}:{port}/ (Ctrl-C to stop)")
                self.stdout.flush()
            time.sleep(0.2)

        if signals:
            self.stdout.write("Stopping (press Ctrl-C again to stop at once)…")
            self.stdout.flush()
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if exit_code:
            sys.exit(exit_code)


def _start(argv: list[str]) -> subprocess.Popen:
    # Own process group: the terminal's Ctrl-C comes to us only, and we forward it once.
    return subprocess.Popen(argv, process_group=0, preexec_fn=_stop_with_parent)


def _stop_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM if `bastion serve` dies, even by SIGKILL."""
    if sys.platform == "linux":
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
