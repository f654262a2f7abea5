"""The one way Bastion sends email: render templates, record in the outbox, send from the worker.

Templates live in templates/emails/<name>.subject.txt, <name>.txt and (optionally) <name>.html.
The subject and text parts are plain text, rendered without HTML escaping (a name like
O'Brien stays O'Brien); the HTML part is escaped as usual.
"""

import functools
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.backends.django import DjangoTemplates
from django.template.loader import render_to_string


def queue_email(to: str, template: str, context: dict):
    """Render `template` for `to`, record it in the outbox and have the worker send it.

    Call inside the transaction that causes the email: if that transaction rolls back,
    no message exists and none is sent.
    """
    from bastion.outbox.models import MessageStatus, OutboxMessage
    from bastion.outbox.tasks import send_outbox_message

    ctx = {"base_url": settings.BASE_URL, **context}
    subject = " ".join(render_text(f"emails/{template}.subject.txt", ctx).split())
    text = render_text(f"emails/{template}.txt", ctx)
    html: str
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


def render_text(name: str, context: dict) -> str:
    """Render a plain-text template: same template folders, no HTML autoescaping."""
    return _text_engine().get_template(name).render(context)


@functools.cache
def _text_engine() -> DjangoTemplates:
    params: dict[str, Any] = {k: v for k, v in settings.TEMPLATES[0].items() if k != "BACKEND"}
    params.update(NAME="email-text", OPTIONS={**params.get("OPTIONS", {}), "autoescape": False})
    return DjangoTemplates(params)


def email_configured() -> bool:
    return bool(settings.BASTION_EMAIL_URL)


def smtp_connection() -> BaseEmailBackend:
    """An SMTP connection built from BASTION_EMAIL_URL (smtp://user:pass@host:port?tls=1).

    Built as Django's mailers build one (an aliased backend with explicit options), so the
    EMAIL_* settings and the deprecated get_connection() play no part.
    """
    url = urlparse(settings.BASTION_EMAIL_URL)
    if url.scheme not in ("smtp", "smtps"):
        raise ValueError("BASTION_EMAIL_URL must start with smtp:// or smtps://")
    query = {k: v[-1] for k, v in parse_qs(url.query).items()}
    return SmtpBackend(
        alias="bastion",
        host=url.hostname or "localhost",
        port=url.port or (465 if url.scheme == "smtps" else 25),
        username=unquote(url.username or ""),
        password=unquote(url.password or ""),
        use_ssl=url.scheme == "smtps",
        use_tls=query.get("tls") in ("1", "true", "yes"),
        timeout=int(query.get("timeout", "20")),
        fail_silently=False,
    )
