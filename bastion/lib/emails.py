"""The one way Bastion sends email: render templates, record in the outbox, send from the worker.

Templates live in templates/emails/<name>.subject.txt, <name>.txt and (optionally) <name>.html.
"""

from urllib.parse import parse_qs, unquote, urlparse

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string


def queue_email(to: str, template: str, context: dict):
    """Render `template` for `to`, record it in the outbox and have the worker send it.

    Call inside the transaction that causes the email: if that transaction rolls back,
    no message exists and none is sent.
    """
    from bastion.outbox.models import MessageStatus, OutboxMessage
    from bastion.outbox.tasks import send_outbox_message

    ctx = {"base_url": settings.BASE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{template}.subject.txt", ctx).split())
    text = render_to_string(f"emails/{template}.txt", ctx)
    try:
        html = render_to_string(f"emails/{template}.html", ctx)
    except TemplateDoesNotExist:
        html = ""
    status = MessageStatus.QUEUED if email_configured() else MessageStatus.HELD
    message = OutboxMessage.objects.create(
        to=to, subject=subject[:300], body_text=text, body_html=html, template=template,
        status=status,
    )
    if status == MessageStatus.QUEUED:
        transaction.on_commit(lambda: send_outbox_message.enqueue(message.pk))
    return message


def email_configured() -> bool:
    return bool(settings.BASTION_EMAIL_URL)


def smtp_connection() -> BaseEmailBackend:
    """An SMTP connection built from BASTION_EMAIL_URL (smtp://user:pass@host:port?tls=1)."""
    url = urlparse(settings.BASTION_EMAIL_URL)
    if url.scheme not in ("smtp", "smtps"):
        raise ValueError("BASTION_EMAIL_URL must start with smtp:// or smtps://")
    query = {k: v[-1] for k, v in parse_qs(url.query).items()}
    return get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host=url.hostname or "localhost",
        port=url.port or (465 if url.scheme == "smtps" else 25),
        username=unquote(url.username or ""),
        password=unquote(url.password or ""),
        use_ssl=url.scheme == "smtps",
        use_tls=query.get("tls") in ("1", "true", "yes"),
        timeout=int(query.get("timeout", "20")),
        fail_silently=False,
    )
