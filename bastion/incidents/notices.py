"""Internal notifications sent by email from Bastion.

A notification due whose recipient is one of the plan's roles or a named person of the directory
(internal) can be sent from the incident's page or the API: the message is pre-filled from the
rule's message with the incident's values (content.MESSAGE_PLACEHOLDERS), the writer may edit it,
and sending queues one email per address through lib/emails.py and records the notification as
done in the same transaction — who notified whom, when, channel email, and the exact text sent.
A notification recorded as done (or not required) is never sent again: the incident's row is
locked and the notification re-read as open before anything is queued.

Who receives it: a role's holders in the plan version the incident runs by; a holder who has
left (a leaver in the directory) is replaced by their deputy. External recipients (authorities,
regulators, insurers, the board through its secretary) are notified outside Bastion and keep the
"record as done" form.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from bastion.audit.chain import record
from bastion.lib.emails import queue_emails
from bastion.people.models import Person, PersonStatus
from bastion.response.content import MESSAGE_PLACEHOLDERS

from . import timeline
from .actions import open_problems
from .models import EntryKind, Incident, NotificationDue, NotificationStatus, time_text

MAX_TEXT = 20_000
# Left in braces for the writer: Bastion does not know them.
UNFILLED = ("organisation", "contact")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(MESSAGE_PLACEHOLDERS) + r")\}")


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%d %b %Y %H:%M %Z") if value else ""


def incident_url(incident: Incident) -> str:
    return f"{settings.BASE_URL}/incidents/{incident.pk}/"


def fill_message(row: NotificationDue, incident: Incident) -> str:
    """The rule's message with what the incident knows filled in; {organisation} and {contact}
    stay for the writer. Times are in the viewer's zone, with its name."""
    values = _Keep(incident=incident.reference, title=incident.title, severity=incident.severity,
                   summary=incident.summary, incident_type=incident.incident_type().get("name", incident.type_key),
                   deadline=_when(row.deadline), declared_at=_when(incident.declared_at), link=incident_url(incident))
    try:
        return row.message.format_map(values)
    except (ValueError, IndexError, AttributeError, KeyError):  # braces the plan's author did not mean as placeholders
        return row.message


@dataclass
class Recipients:
    """Who an internal notification goes to: each person with a note (a deputy standing in), and
    why it cannot be sent (external recipient, nobody active) when it cannot."""

    people: list[tuple[Person, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        return sorted({p.email.lower() for p, _ in self.people})


def is_internal(row: NotificationDue) -> bool:
    return row.recipient.get("kind") in ("role", "person")


def recipients(row: NotificationDue, incident: Incident) -> Recipients:
    """Resolve the notification's recipient to people of the directory (two queries at most)."""
    found = Recipients()
    kind = row.recipient.get("kind")
    if kind == "person":
        person = Person.objects.filter(pk=row.recipient.get("person")).first()
        if person is None:
            found.problems.append(f"{row.recipient_label} is not in the directory any more; record how they were "
                                  "told instead, or change the plan.")
        elif person.status != PersonStatus.ACTIVE:
            found.problems.append(f"{person} ({person.email}) has left the organisation; record how they were told "
                                  "instead, or change the plan.")
        else:
            found.people.append((person, ""))
        return found
    if kind != "role":
        found.problems.append("External recipients (authorities, regulators, insurers, the board) are notified "
                              "outside Bastion: record how it was done.")
        return found
    role = next((r for r in incident.content.get("roles", []) if r.get("key") == row.recipient.get("role")), None)
    holders = (role or {}).get("holders", [])
    if not holders:
        found.problems.append(f"The plan names nobody as {row.recipient_label}: record how they were told instead.")
        return found
    ids = {v for h in holders for v in (h.get("person"), h.get("deputy")) if isinstance(v, int)}
    people = Person.objects.in_bulk(ids)
    for holder in holders:
        person, deputy = people.get(holder.get("person")), people.get(holder.get("deputy"))
        if person is not None and person.status == PersonStatus.ACTIVE:
            found.people.append((person, ""))
        elif deputy is not None and deputy.status == PersonStatus.ACTIVE:
            found.people.append((deputy, f"deputy for {person or 'a holder no longer in the directory'}, who has left"))
        else:
            found.problems.append(f"{person or 'A holder of the role'} has left and has no active deputy.")
    if found.people:
        found.problems = []  # some holder is reachable: the message goes to them (the page lists who)
    return found


@transaction.atomic
def do_send_notification(*, acting_user, notification: NotificationDue, text: str, request=None,
                         now: datetime | None = None) -> NotificationDue:
    """Email an internal notification from Bastion and record it as done: by the sender, to the
    resolved addresses, now, by email, with the exact text sent. Refused for an external
    recipient, for nobody reachable, for a notification already recorded, and while the text
    still has a placeholder to fill in."""
    now = now or timezone.now()
    incident = timeline.lock_incident(notification.incident_id)
    row = NotificationDue.objects.get(pk=notification.pk)
    text = text.replace("\r\n", "\n").strip()
    problems = open_problems(row)
    if not problems:
        if not text:
            problems.append("Write the message.")
        elif len(text) > MAX_TEXT:
            problems.append(f"The message is longer than {MAX_TEXT:,} characters.")
        unfilled = sorted({m for m in _PLACEHOLDER.findall(text)})
        if unfilled:
            problems.append(f"Fill in {', '.join('{' + n + '}' for n in unfilled)} before sending.")
    to = recipients(row, incident) if not problems else Recipients()
    problems += to.problems
    if problems:
        raise ValidationError(problems)
    sender = acting_user.person if getattr(acting_user, "person_id", None) else None
    sender_words = str(sender) if sender else getattr(acting_user, "email", "Bastion")
    context = {"reference": incident.reference, "subject": f"{incident.reference}: {row.rule_name}",
               "text": text, "sender": sender_words, "incident_url": incident_url(incident)}
    queue_emails([(address, "incident_internal_notification", context) for address in to.addresses])
    whom = ", ".join(f"{p} <{p.email}>" + (f" ({note})" if note else "") for p, note in to.people)
    row.status = NotificationStatus.DONE
    row.notified_by, row.notified_whom, row.notified_at = sender, whom[:300], now
    row.notified_channel, row.what_was_said, row.recorded_by = "email", text, acting_user
    row.emailed_to = to.addresses
    row.save()
    late = " (after its deadline)" if row.deadline and now > row.deadline else ""
    timeline.append(incident, kind=EntryKind.NOTIFICATION, author=acting_user, now=now, text=(
        f"{row.rule_name}: {sender_words} emailed {row.recipient_label} from Bastion{late}, to {whom}. "
        f"What was said: {text}"))
    record("incident.notification_sent", actor=acting_user, obj=incident, request=request, after={
        "notification": row.pk, "rule": row.rule_key, "recipient": row.recipient_label, "to": to.addresses,
        "at": time_text(now), "channel": "email"})
    return row
