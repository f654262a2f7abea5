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
from django.template.loader import get_template


def queue_email(to: str, template: str, context: dict):
    """Render `template` for `to`, record it in the outbox and have the worker send it.

    Call inside the transaction that causes the email: if that transaction rolls back,
    no message exists and none is sent.
    """
    from bastion.outbox.models import MessageStatus, OutboxMessage
    from bastion.outbox.tasks import send_outbox_message

    subject, text, html = _render_parts(template, {"base_url": settings.BASE_URL, **context}, {})
    status = MessageStatus.QUEUED if email_configured() else MessageStatus.HELD
    message = OutboxMessage.objects.create(
        to=to, subject=subject[:300], body_text=text, body_html=html, template=template,
        status=status,
    )
    if status == MessageStatus.QUEUED:
        transaction.on_commit(lambda: send_outbox_message.enqueue(message.pk))
    return message


# Up to this many messages in one transaction get their own send task; more wait for the outbox
# sweep (outbox.tasks.send_due_messages), which takes queued messages older than a minute.
PROMPT_SEND_LIMIT = 200
# Context values that differ for every recipient and that templates print as they are (never
# through a filter or a condition): queue_emails renders the rest once and puts these in after.
PERSONAL_FIELDS = ("first_name", "link")


def queue_emails(emails: list[tuple[str, str, dict]]) -> list[int]:
    """Queue many emails, each ``(to, template, context)``, as ``queue_email`` would one by one;
    returns their outbox ids in order. Call inside the transaction that causes them.

    For the 100,000 messages of a programme's first run: the text parts are rendered once per
    template and shared context (the ``PERSONAL_FIELDS`` put in afterwards), the messages are
    inserted a thousand or more per statement, and up to ``PROMPT_SEND_LIMIT`` messages get a
    send task each while more are left to the outbox sweep.
    """
    from bastion.lib.bulk import insert_rows
    from bastion.outbox.models import MessageStatus, OutboxMessage
    from bastion.outbox.tasks import send_outbox_message

    if not emails:
        return []
    status = MessageStatus.QUEUED if email_configured() else MessageStatus.HELD
    rows = []
    shared: dict[tuple, tuple[str, str]] = {}  # per call: a later call sees any renamed course
    for to, template, context in emails:
        subject, text, html = _render_parts(template, {"base_url": settings.BASE_URL, **context}, shared)
        rows.append({"to": to, "subject": subject[:300], "template": template, "status": status,
                     "body_text": text, "body_html": html})
    ids = insert_rows(OutboxMessage, rows, returning=True)
    if status == MessageStatus.QUEUED and len(ids) <= PROMPT_SEND_LIMIT:
        transaction.on_commit(lambda: [send_outbox_message.enqueue(pk) for pk in ids])
    return ids


def _render_parts(template: str, ctx: dict, rendered: dict[tuple, tuple[str, str]]) -> tuple[str, str, str]:
    """Subject, text and HTML of one message; the text parts from a shared rendering when the
    message has no HTML part (where putting values in afterwards would skip escaping)."""
    html_template = _html_template(template)
    if html_template is not None:
        subject = " ".join(render_text(f"emails/{template}.subject.txt", ctx).split())
        return subject, render_text(f"emails/{template}.txt", ctx), html_template.render(ctx)
    personal = {name: str(ctx[name]) for name in PERSONAL_FIELDS if name in ctx}
    shared = {k: v for k, v in ctx.items() if k not in personal}
    key = (template, tuple(sorted(shared.items())), tuple(personal))
    try:
        if key not in rendered:
            with_markers = {**shared, **{name: _marker(name) for name in personal}}
            rendered[key] = (render_text(f"emails/{template}.subject.txt", with_markers),
                             render_text(f"emails/{template}.txt", with_markers))
        subject, text = rendered[key]
    except TypeError:  # an unhashable value (a list of people): rendered for this message alone
        subject = " ".join(render_text(f"emails/{template}.subject.txt", ctx).split())
        return subject, render_text(f"emails/{template}.txt", ctx), ""
    for name, value in personal.items():
        value = value.replace("\x00", "")
        subject, text = subject.replace(_marker(name), value), text.replace(_marker(name), value)
    return " ".join(subject.split()), text, ""


def _marker(name: str) -> str:
    return f"\x00{name}\x00"


@functools.cache
def _html_template(template: str):
    """The optional HTML part's template, looked up once per process."""
    try:
        return get_template(f"emails/{template}.html")
    except TemplateDoesNotExist:
        return None


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
