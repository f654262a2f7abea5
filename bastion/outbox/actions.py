"""Changes people make to the outbox, each audited in its own transaction."""

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from bastion.audit.chain import record
from bastion.lib.emails import email_configured, queue_email

from .models import MessageStatus, OutboxMessage

RETRYABLE = {MessageStatus.FAILED, MessageStatus.HELD}


class CannotRetry(Exception):
    pass


def do_retry_message(*, acting_user, message: OutboxMessage, request: HttpRequest | None = None) -> OutboxMessage:
    """Queue a failed or held message for sending again, with a fresh set of attempts.

    Raises CannotRetry if the message is not failed or held, or no mail server is configured.
    """
    from .tasks import send_outbox_message

    if not email_configured():
        raise CannotRetry("No mail server is configured (BASTION_EMAIL_URL), so the message stays held.")
    with transaction.atomic():
        before = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if before.status not in RETRYABLE:
            raise CannotRetry(f"Only failed or held messages can be retried; this one is {before.get_status_display().lower()}.")
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=MessageStatus.QUEUED, attempts=0, next_attempt_at=timezone.now(), claimed_at=None,
        )
        record(
            "outbox.retried", actor=acting_user, obj=before, request=request,
            before={"status": before.status, "attempts": before.attempts, "last_error": before.last_error},
            after={"status": MessageStatus.QUEUED, "attempts": 0},
        )
        transaction.on_commit(lambda: send_outbox_message.enqueue(message.pk))
    message.refresh_from_db()
    return message


def do_queue_test_email(*, acting_user, to: str, request: HttpRequest | None = None) -> OutboxMessage:
    """Queue the "test" email to `to`, to check the mail server settings end to end."""
    with transaction.atomic():
        message = queue_email(to, "test", {"requested_by": acting_user})
        record(
            "outbox.test_email_queued", actor=acting_user, obj=message, request=request,
            after={"to": to, "status": message.status},
        )
    return message
