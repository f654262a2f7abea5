"""Shared test fixtures: people in every role, API clients, a real SMTP server, task running."""

import logging
import os
import socket
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.test import Client

from bastion.accounts.models import MfaPolicy, Role, User

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from the
# test itself are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Background threads (SMTP server, worker side threads) may log after pytest has closed the
# captured stream of the test that started them; that is not worth a traceback in the output.
logging.raiseExceptions = False

PASSWORD = "correct horse battery staple"
ALL_ROLES = [r.value for r in Role]


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    """make_user(role, email=None, person=None, password=PASSWORD)."""
    counter = {"n": 0}

    def make(role: str, email: str | None = None, person=None, password: str | None = PASSWORD, **fields) -> User:
        counter["n"] += 1
        email = email or f"{role.replace('_', '-')}{counter['n']}@example.com"
        return User.objects.create_user(email=email, password=password, role=role, person=person,
                                        full_name=fields.pop("full_name", role.replace("_", " ").title()), **fields)

    return make


@pytest.fixture
def no_mfa_policy(db):
    """Most tests sign in with a password only; MFA tests turn the policy on themselves."""
    policy = MfaPolicy.current()
    policy.required_roles = []
    policy.save()
    return policy


@pytest.fixture
def client_for(db, no_mfa_policy) -> Callable[[User | None], Client]:
    """A browser-like client signed in as `user` (None: anonymous)."""

    def make(user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def api_for(db) -> Callable[[User | None], Client]:
    """An API client using a fresh personal token of `user` (None: no token)."""
    from bastion.accounts.actions import do_create_token

    def make(user: User | None) -> Client:
        if user is None:
            return Client()
        _, raw = do_create_token(user=user, name="test")
        return Client(headers={"Authorization": f"Bearer {raw}"})

    return make


@pytest.fixture
def lead(make_user) -> User:
    return make_user(Role.SECURITY_LEAD, email="alice@example.com", full_name="Alice Lead")


@pytest.fixture
def run_tasks(db) -> Callable[[], None]:
    """Run every queued background task now, as `bastion worker` would, then return."""

    from unittest import mock

    def run() -> None:
        # The worker closes stale connections between tasks; inside a test's transaction that
        # would close the test's own connection, so that housekeeping is skipped here.
        with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
            call_command("db_worker", batch=True, reload=False, startup_delay=False, queue_name="*", verbosity=0)

    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.port = free_port()
        self.fail_next = 0
        self.sessions = 0  # SMTP sessions opened (EHLO greetings)
        sink = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                sink.sessions += 1
                session.host_name = hostname
                return responses

            async def handle_DATA(self, server, session, envelope):
                if sink.fail_next:
                    sink.fail_next -= 1
                    return "451 Try again later"
                from email import message_from_bytes
                from email.policy import default

                sink.messages.append(message_from_bytes(envelope.content, policy=default))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@pytest.fixture
def smtp_server(settings):
    sink = SmtpSink()
    sink.controller.start()
    settings.BASTION_EMAIL_URL = sink.url
    yield sink
    sink.controller.stop()


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return (
        (marker is not None and marker.kwargs.get("transaction", False))
        or "transactional_db" in request.fixturenames
        or "live_server" in request.fixturenames
    )


@pytest.fixture(autouse=True)
def _audit_guard_between_tests(request):
    """Transactional tests end with Django emptying every table, which the append-only
    triggers of the guarded tables (the audit trail, the incidents' timelines: audit/guard.py)
    rightly refuse. Those tests lift the guard just before the flush, and the next database
    test puts it back first thing."""
    uses_db = request.node.get_closest_marker("django_db") is not None or any(
        f in request.fixturenames for f in ("db", "transactional_db", "live_server")
    )
    if not uses_db:
        yield
        return
    from django.db import connection

    from bastion.audit import guard

    request.getfixturevalue("transactional_db" if _is_transactional(request) else "db")
    if not guard.is_installed(connection):
        guard.install(connection)
    yield
    if _is_transactional(request):
        guard.remove(connection)


def pytest_sessionfinish(session, exitstatus):
    """In CI a skipped test is a failure: a green run must not hide a missing browser or database."""
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; in CI every test must run.", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end sessions other threads (the live server's
    request threads, worker threads) left open, so PostgreSQL lets it go."""
    yield
    with django_db_blocker.unblock():
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
