"""The "you have new training" email, queued in bulk.

``lib.emails.queue_email`` inserts one outbox row and enqueues one send task per message: right
for a handful, too slow for the 100,000 assignments of a programme's first run. Here the messages
are rendered from the same templates, inserted with one statement per thousand, and each
assignment gets its ``assigned``/``email`` event in the same transaction, so an assignment is
emailed once. A small batch also gets a send task each (delivered within seconds); a large one
is left to the outbox sweep (``outbox.tasks.send_due_messages``), which takes queued messages
older than a minute. ``queue_emails`` is the same for any of the awareness emails (reminders,
escalations, recognition), so a follow-up run over 100,000 people is a few inserts per thousand
messages rather than one insert and one task each.
"""

import functools
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from bastion.lib.emails import email_configured, render_text
from bastion.outbox.models import MessageStatus, OutboxMessage
from bastion.people.models import Person

from .links import training_link_path
from .models import Assignment, AssignmentEvent, EventKind

TEMPLATE = "training_assigned"
# Up to this many messages in one transaction get their own send task; more wait for the sweep.
PROMPT_SEND_LIMIT = 200


def queue_training_assigned(assignments: list[Assignment], *, course_title: str, now: datetime) -> int:
    """Queue the email telling each learner of their new assignment (with a fresh signed link
    to their training) and record it as the assignment's ``assigned``/``email`` event. Call
    inside the transaction that creates the assignments. Returns the number of emails queued."""
    if not assignments:
        return 0
    people = {pk: (email, first_name) for pk, email, first_name in
              Person.objects.filter(pk__in={a.person_id for a in assignments})
              .values_list("pk", "email", "first_name")}
    created = queue_emails([
        (people[a.person_id][0], TEMPLATE, {
            "first_name": people[a.person_id][1], "course": course_title, "due_on": a.due_on, "reason": a.reason,
            "link": settings.BASE_URL + training_link_path(a.person_id, now=now)})
        for a in assignments
    ])
    AssignmentEvent.objects.bulk_create([
        AssignmentEvent(assignment_id=a.pk, kind=EventKind.ASSIGNED, stage="email", at=now,
                        detail={"to": m.to, "outbox_message": m.pk})
        for a, m in zip(assignments, created, strict=True)
    ], batch_size=1000)
    return len(created)


def queue_emails(emails: list[tuple[str, str, dict]]) -> list[OutboxMessage]:
    """Render each (to, template, context) as ``lib.emails.queue_email`` does and queue them with
    one insert per thousand, in order. Call inside the transaction that causes them. Up to
    ``PROMPT_SEND_LIMIT`` messages get a send task each; more are left to the outbox sweep."""
    if not emails:
        return []
    status = MessageStatus.QUEUED if email_configured() else MessageStatus.HELD
    messages = []
    for to, template, context in emails:
        ctx = {"base_url": settings.BASE_URL, **context}
        subject = " ".join(render_text(f"emails/{template}.subject.txt", ctx).split())
        html = _html_template(template)
        messages.append(OutboxMessage(to=to, subject=subject[:300], template=template, status=status,
                                      body_text=render_text(f"emails/{template}.txt", ctx),
                                      body_html=html.render(ctx) if html else ""))
    created = OutboxMessage.objects.bulk_create(messages, batch_size=1000)
    if status == MessageStatus.QUEUED and len(created) <= PROMPT_SEND_LIMIT:
        from bastion.outbox.tasks import send_outbox_message

        ids = [m.pk for m in created]
        transaction.on_commit(lambda: [send_outbox_message.enqueue(pk) for pk in ids])
    return created


@functools.cache
def _html_template(template: str):
    """The optional HTML part's template, looked up once per process."""
    try:
        return get_template(f"emails/{template}.html")
    except TemplateDoesNotExist:
        return None
