"""The "you have new training" email, queued in bulk.

``lib.emails.queue_email`` inserts one outbox row and enqueues one send task per message: right
for a handful, too slow for the 100,000 assignments of a programme's first run. Here the messages
go through ``lib.emails.queue_emails`` (rendered once per course and due date, inserted a
thousand or more per statement) and each assignment gets its ``assigned``/``email`` event in the
same transaction, so an assignment is emailed once. A small batch also gets a send task each
(delivered within seconds); a large one is left to the outbox sweep. The follow-up run's
reminders, escalations and recognition emails use ``queue_emails`` the same way.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings

from bastion.lib.bulk import insert_rows
from bastion.lib.emails import queue_emails
from bastion.people.models import Person

from .links import training_link_path
from .models import AssignmentEvent, EventKind

TEMPLATE = "training_assigned"


@dataclass(frozen=True)
class Assigned:
    """What the email of a new assignment needs to know of it."""

    assignment_id: int
    person_id: int
    due_on: date
    reason: str


def queue_training_assigned(assigned: list[Assigned], *, course_title: str, now: datetime) -> int:
    """Queue the email telling each learner of their new assignment (with a fresh signed link
    to their training) and record it as the assignment's ``assigned``/``email`` event. Call
    inside the transaction that creates the assignments. Returns the number of emails queued."""
    if not assigned:
        return 0
    people = {pk: (email, first_name) for pk, email, first_name in
              Person.objects.filter(pk__in={a.person_id for a in assigned})
              .values_list("pk", "email", "first_name")}
    ids = queue_emails([
        (people[a.person_id][0], TEMPLATE, {
            "first_name": people[a.person_id][1], "course": course_title, "due_on": a.due_on, "reason": a.reason,
            "link": settings.BASE_URL + training_link_path(a.person_id, now=now)})
        for a in assigned
    ])
    insert_rows(AssignmentEvent, [
        {"assignment_id": a.assignment_id, "kind": EventKind.ASSIGNED, "stage": "email", "at": now,
         "detail": {"to": people[a.person_id][0], "outbox_message": pk}}
        for a, pk in zip(assigned, ids, strict=True)
    ])
    return len(ids)


__all__ = ["Assigned", "queue_emails", "queue_training_assigned"]
