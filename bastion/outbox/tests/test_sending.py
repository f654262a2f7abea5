from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bastion.jobs.tests import JOB_APPS
from bastion.lib.emails import queue_email
from bastion.outbox.models import RETRY_BACKOFF, MessageStatus, OutboxMessage
from bastion.outbox.tasks import STUCK_ERROR, send_due_messages, send_outbox_message

# Real transactions: the send task is enqueued on commit, and the worker (run_tasks) manages
# its own connection as it does in production. Only these apps' tables are emptied after each
# test: the audit trail refuses to be truncated.
pytestmark = pytest.mark.django_db(transaction=True, available_apps=JOB_APPS)

REQUESTER = {"full_name": "Alice O'Brien", "email": "alice@example.com"}


@pytest.fixture
def queue():
    """queue(to) queues the test email as a view would: in a transaction, task enqueued on commit."""
    requester = REQUESTER

    def queue_one(to: str = "bob@example.com") -> OutboxMessage:
        with transaction.atomic():
            return queue_email(to, "test", {"requested_by": requester})

    return queue_one


def test_queued_email_is_sent_once_by_the_worker(smtp_server, queue, run_tasks):
    message = queue("bob@example.com")
    assert message.status == MessageStatus.QUEUED
    run_tasks()

    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received["To"] == "bob@example.com"
    assert received["Subject"] == "Bastion test email"
    assert "Alice O'Brien" in received.get_body(("plain",)).get_content()  # not HTML-escaped
    assert "Alice O&#x27;Brien" in received.get_body(("html",)).get_content()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.attempts == 1
    assert message.sent_at is not None
    assert message.message_id and received["Message-ID"] == message.message_id


def test_a_message_enqueued_twice_is_sent_once(smtp_server, queue, run_tasks):
    message = queue()
    send_outbox_message.enqueue(message.pk)
    send_outbox_message.enqueue(message.pk)
    run_tasks()
    assert len(smtp_server.messages) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)


def test_temporary_failure_is_retried_later_by_the_sweep(smtp_server, queue, run_tasks):
    smtp_server.fail_next = 1
    message = queue()
    run_tasks()

    message.refresh_from_db()
    assert message.status == MessageStatus.RETRYING
    assert message.attempts == 1
    assert "451" in message.last_error
    assert message.next_attempt_at > timezone.now() + RETRY_BACKOFF[0] - timedelta(seconds=10)
    assert smtp_server.messages == []

    send_due_messages.enqueue()
    run_tasks()
    assert smtp_server.messages == []  # not due yet

    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    send_due_messages.enqueue()
    run_tasks()
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (MessageStatus.SENT, 2, "")
    assert len(smtp_server.messages) == 1


def test_after_the_last_backoff_the_message_fails(smtp_server, queue, run_tasks):
    smtp_server.fail_next = 100
    message = queue()
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=len(RETRY_BACKOFF))
    run_tasks()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.attempts == len(RETRY_BACKOFF) + 1


def test_permanent_refusal_fails_at_once(smtp_server, queue, run_tasks):
    from aiosmtpd.handlers import Sink  # noqa: F401 - aiosmtpd present

    message = queue()

    class Refusing:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 No such user here"

    smtp_server.controller.stop()
    from aiosmtpd.controller import Controller

    smtp_server.controller = Controller(Refusing(), hostname="127.0.0.1", port=smtp_server.port)
    smtp_server.controller.start()
    run_tasks()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "550 No such user here" in message.last_error


def test_unreachable_server_error_never_shows_the_password(settings, queue, run_tasks):
    from conftest import free_port

    settings.BASTION_EMAIL_URL = f"smtp://mailer:s3cret%2Fpass@127.0.0.1:{free_port()}"
    message = queue()
    run_tasks()
    message.refresh_from_db()
    assert message.status == MessageStatus.RETRYING
    assert "connection refused" in message.last_error
    assert "s3cret" not in message.last_error


def test_message_stuck_in_sending_is_marked_failed_and_not_resent(smtp_server, queue, run_tasks):
    message = queue()
    # A worker claimed it eleven minutes ago and died mid-send.
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, attempts=1, claimed_at=timezone.now() - timedelta(minutes=11),
    )
    send_due_messages.enqueue()
    run_tasks()  # runs the original send task too: it finds nothing to claim
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.last_error == STUCK_ERROR
    send_outbox_message.enqueue(message.pk)
    send_due_messages.enqueue()
    run_tasks()
    assert smtp_server.messages == []


def test_recently_claimed_message_is_left_alone(smtp_server, queue, run_tasks):
    message = queue()
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, attempts=1, claimed_at=timezone.now() - timedelta(minutes=2),
    )
    send_due_messages.enqueue()
    run_tasks()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING
    assert smtp_server.messages == []


def test_sweep_sends_a_queued_message_whose_task_was_lost(smtp_server, run_tasks):
    with transaction.atomic():
        message = queue_email("carol@example.com", "test", {"requested_by": REQUESTER})
    DBTaskResult.objects.all().delete()  # its send task was lost
    send_due_messages.enqueue()
    run_tasks()
    assert smtp_server.messages == []  # its own task may still come: the sweep waits a minute
    OutboxMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    send_due_messages.enqueue()
    run_tasks()
    assert len(smtp_server.messages) == 1


def test_without_a_mail_server_messages_are_held(settings, queue, run_tasks):
    settings.BASTION_EMAIL_URL = ""
    message = queue()
    run_tasks()
    message.refresh_from_db()
    assert message.status == MessageStatus.HELD
    assert message.attempts == 0


def test_one_sweep_sends_a_bulk_of_messages_over_one_connection(smtp_server, run_tasks):
    old = timezone.now() - timedelta(minutes=5)  # no task of their own: the sweep's to send
    OutboxMessage.objects.bulk_create([
        OutboxMessage(to=f"person{i}@example.com", subject=f"Reminder {i}", body_text="Hello",
                      template="test", status=MessageStatus.QUEUED, created_at=old, next_attempt_at=old)
        for i in range(450)])
    send_due_messages.enqueue()
    run_tasks()
    assert len(smtp_server.messages) == 450  # more than one batch of SWEEP_BATCH
    assert smtp_server.sessions == 1
    assert OutboxMessage.objects.filter(status=MessageStatus.SENT).count() == 450


def test_a_failure_in_a_sweep_opens_a_fresh_connection_for_the_rest(smtp_server, run_tasks):
    old = timezone.now() - timedelta(minutes=5)
    OutboxMessage.objects.bulk_create([
        OutboxMessage(to=f"person{i}@example.com", subject=f"Reminder {i}", body_text="Hello",
                      template="test", status=MessageStatus.QUEUED, created_at=old, next_attempt_at=old)
        for i in range(5)])
    smtp_server.fail_next = 1
    send_due_messages.enqueue()
    run_tasks()
    assert len(smtp_server.messages) == 4
    assert OutboxMessage.objects.filter(status=MessageStatus.RETRYING).count() == 1
    assert smtp_server.sessions == 2
