"""Sending the outbox: each message at most once, retried with backoff while it is safe to.

A message is sent only by whoever claims it, with one conditional UPDATE (queued or retrying,
and due → sending). The claim is what makes sending exactly-once in the normal case even when
its task is enqueued twice or the sweep picks it up at the same time: the loser of the race
updates no row and stops. A message found still "sending" long after its claim belongs to a
worker that died mid-send; whether the server took it is unknown, so it is marked failed for a
person to look at and retry, never resent automatically (at most once).
"""

import logging
import smtplib
import time
from datetime import timedelta
from urllib.parse import quote, unquote, urlparse

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone

from bastion.jobs.periodic import periodic
from bastion.lib.emails import email_configured, smtp_connection

from .models import RETRY_BACKOFF, MessageStatus, OutboxMessage

logger = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=10)
STUCK_ERROR = (
    "The worker stopped while sending; delivery is unknown, so it was not retried automatically"
)
# The sweep leaves a fresh message to its own task for this long before taking it over.
TASK_GRACE = timedelta(minutes=1)
SWEEP_BUDGET_SECONDS = 25.0
SWEEP_BATCH = 200


class PermanentFailure(Exception):
    """The mail server refused the message in a way retrying will not change."""


def claim(message_id: int) -> OutboxMessage | None:
    """Take the message for sending, or None if it is not due or someone else has it."""
    now = timezone.now()
    claimed = OutboxMessage.objects.due().filter(pk=message_id).update(
        status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    return OutboxMessage.objects.get(pk=message_id)


def deliver(message: OutboxMessage, connection: BaseEmailBackend | None = None) -> str:
    """Send a claimed message and record the outcome; return its new status. A sweep passes
    its one SMTP connection, so that thousands of messages do not open thousands."""
    if not message.message_id:
        message.message_id = _make_msgid()
        OutboxMessage.objects.filter(pk=message.pk).update(message_id=message.message_id)
    try:
        _send(message, connection)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the message
        if connection is not None:
            connection.close()  # it may be broken: the next message opens a fresh one
        return _record_failure(message, exc)
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENT, sent_at=timezone.now(), last_error="",
    )
    logger.info("Sent outbox message %s", message.pk)
    return MessageStatus.SENT


@task()
def send_outbox_message(message_id: int) -> str:
    """Send one message if it is still waiting; safe to enqueue or run more than once."""
    message = claim(message_id)
    if message is None:
        return "not due"
    return deliver(message)


@periodic(every=timedelta(seconds=30))
@task()
def send_due_messages() -> dict[str, int]:
    """Give up on messages stuck in sending, then send those due: retries, and queued ones
    whose own task was lost (older than TASK_GRACE)."""
    now = timezone.now()
    stuck = OutboxMessage.objects.filter(
        status=MessageStatus.SENDING, claimed_at__lt=now - STUCK_AFTER
    ).update(status=MessageStatus.FAILED, last_error=STUCK_ERROR)
    outcome = {"stuck": stuck, "sent": 0, "retrying": 0, "failed": 0}
    deadline = time.monotonic() + SWEEP_BUDGET_SECONDS
    connection = smtp_connection() if email_configured() else None
    try:
        # Batch after batch until nothing is due or the time is up (the next sweep carries on):
        # a bulk of reminders is sent in minutes, not at one batch per sweep.
        while time.monotonic() < deadline:
            due = list(
                OutboxMessage.objects.due()
                .filter(Q(status=MessageStatus.RETRYING) | Q(created_at__lt=now - TASK_GRACE))
                .order_by("next_attempt_at", "pk")
                .values_list("pk", flat=True)[:SWEEP_BATCH]
            )
            claimed = 0
            for pk in due:
                if time.monotonic() > deadline:
                    break
                message = claim(pk)
                if message is not None:
                    claimed += 1
                    outcome[deliver(message, connection)] += 1
            if not claimed:
                break  # nothing due, or all of it taken by another worker
    finally:
        if connection is not None:
            connection.close()
    return outcome


def _send(message: OutboxMessage, connection: BaseEmailBackend | None = None) -> None:
    if connection is None:
        connection = smtp_connection()
    elif getattr(connection, "connection", None) is None:
        connection.open()  # reused by every message of the sweep until closed
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
        headers={"Message-ID": message.message_id},
        connection=connection,
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        if 500 <= code < 600:
            raise PermanentFailure(f"The mail server refused the recipient: {code} {_text(reply)}") from exc
        raise
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            raise PermanentFailure(f"The mail server refused the message: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        raise


def _record_failure(message: OutboxMessage, exc: Exception) -> str:
    error = _describe(exc)
    attempt = message.attempts
    if isinstance(exc, PermanentFailure) or attempt > len(RETRY_BACKOFF):
        status, next_attempt_at = MessageStatus.FAILED, message.next_attempt_at
    else:
        status, next_attempt_at = MessageStatus.RETRYING, timezone.now() + RETRY_BACKOFF[attempt - 1]
    OutboxMessage.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=status, next_attempt_at=next_attempt_at, last_error=error,
    )
    logger.warning("Outbox message %s attempt %s: %s", message.pk, attempt, error)
    return status


def _describe(exc: Exception) -> str:
    """A readable error for the outbox page, with the SMTP password never in it."""
    if isinstance(exc, PermanentFailure):
        text = str(exc)
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"The mail server answered {exc.smtp_code} {_text(exc.smtp_error)}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = "The mail server refused the recipient: " + "; ".join(
            f"{code} {_text(reply)}" for code, reply in exc.recipients.values()
        )
    elif isinstance(exc, ConnectionRefusedError):
        text = "Could not connect to the mail server (connection refused)"
    elif isinstance(exc, TimeoutError):
        text = "The mail server did not answer in time"
    else:
        text = f"{type(exc).__name__}: {exc}"
    password = unquote(urlparse(settings.BASTION_EMAIL_URL).password or "")
    for secret in {password, quote(password, safe="")} - {""}:
        text = text.replace(secret, "********")
    return text[:2000]


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _make_msgid() -> str:
    from email.utils import make_msgid, parseaddr

    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)
