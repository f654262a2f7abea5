"""What a `bastion worker` does besides running tasks: report a heartbeat, schedule periodic jobs."""

import logging
import threading
import time

from django.db import DatabaseError, close_old_connections, connections

from .models import WorkerHeartbeat
from .periodic import Scheduler

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = 10.0  # seconds; /readyz wants one within the last minute
TICK_EVERY = 0.5  # seconds; a scheduler tick without a new period costs no query


class BackgroundLoop(threading.Thread):
    """A daemon thread beside the task loop: heartbeat every HEARTBEAT_EVERY seconds and a
    scheduler tick every TICK_EVERY seconds. Errors are logged and retried, never fatal: a
    database that is briefly away must not stop the worker from coming back to life."""

    def __init__(self, worker_id: str, scheduler: Scheduler | None = None) -> None:
        super().__init__(name="bastion-scheduler", daemon=True)
        self.worker_id = worker_id
        self.scheduler = scheduler if scheduler is not None else Scheduler(worker_id)
        self.stopping = threading.Event()

    def run(self) -> None:
        next_beat = time.monotonic() + HEARTBEAT_EVERY
        try:
            while not self.stopping.is_set():
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + HEARTBEAT_EVERY
                    self.beat()
                self.tick()
                self.stopping.wait(TICK_EVERY)
        finally:
            connections.close_all()

    def beat(self) -> None:
        try:
            close_old_connections()
            WorkerHeartbeat.objects.beat(self.worker_id)
        except DatabaseError:
            logger.warning("Worker %s could not record its heartbeat", self.worker_id, exc_info=True)

    def tick(self) -> None:
        try:
            close_old_connections()
            self.scheduler.tick()
        except Exception:
            logger.exception("Scheduler tick failed")

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout)
