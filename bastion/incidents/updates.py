"""Status updates: one honest structure — what happened, what is being done to contain it, how bad
it looks and how confident we are, what is not known yet, and when the next update comes — sent
by email to the audiences chosen, and the reminder when the next one is due. A final update (the
incident is resolved or closed) has no next update time, and no reminder follows it; any other
update needs its next update time in the future.

Audiences (``Audience``): executives (active users with the executive role), all staff (active
people in the directory) and a customer list (email addresses given with the update). Addresses
are de-duplicated across audiences.

Restricted (need-to-know) incidents: "executives" means only the executives who are members (or
declared it); all staff and a customer list go beyond the members, so they are refused unless the
sender confirms it explicitly (``beyond_members=True``), which the timeline and audit record.

A sent update is never edited: no function here or in the API changes one, and
``StatusUpdate.save`` refuses an existing row. A correction is a new update whose ``corrects``
names the earlier update of the same incident.

The reminder: when the latest update's next-update time has passed and no later update was sent,
the incident commander (or, with no commander, the declarer) is emailed once per due time — the
``UpdateReminder`` row (unique per incident and due time) is the claim.
"""

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.audit.chain import record
from bastion.lib.emails import queue_email, queue_emails
from bastion.people.models import Person

from . import timeline
from .models import (
    Audience,
    Confidence,
    EntryKind,
    Incident,
    Status,
    StatusUpdate,
    UpdateReminder,
    time_text,
)

MAX_TEXT = 20_000
MAX_CUSTOMER_ADDRESSES = 5_000


def _problems(*, what_happened: str, containment: str, impact: str, confidence: str, unknowns: str,
              next_update_at: datetime | None, audiences: Sequence[str], customer_addresses: Sequence[str],
              now: datetime, final: bool = False) -> list[str]:
    problems = []
    for label, text in (("what happened", what_happened), ("what is being done to contain it", containment),
                        ("how bad it looks", impact), ("what is not known yet (say so if nothing)", unknowns)):
        if not text.strip():
            problems.append(f"Say {label}.")
        elif len(text) > MAX_TEXT:
            problems.append(f"The text of {label!r} is longer than {MAX_TEXT:,} characters.")
    if confidence not in Confidence.values:
        problems.append(f"Say how confident we are: one of {', '.join(Confidence.values)}.")
    if final:
        if next_update_at is not None:
            problems.append("A final update has no next update: leave the next update time empty.")
    elif not isinstance(next_update_at, datetime) or next_update_at.utcoffset() is None:
        problems.append("Say when the next update comes (a date and time with its time zone), or mark the update "
                        "final.")
    elif next_update_at <= now:
        problems.append("The next update must be due in the future.")
    unknown = [a for a in audiences if a not in Audience.values]
    if unknown:
        problems.append(f"Unknown audiences: {', '.join(map(str, unknown))} (the audiences are: "
                        f"{', '.join(Audience.values)}).")
    if not audiences:
        problems.append("Choose at least one audience.")
    if Audience.CUSTOMERS in audiences and not customer_addresses:
        problems.append("The customer list is empty: give the addresses.")
    if customer_addresses and Audience.CUSTOMERS not in audiences:
        problems.append("Customer addresses were given but the customer list is not a chosen audience.")
    if len(customer_addresses) > MAX_CUSTOMER_ADDRESSES:
        problems.append(f"At most {MAX_CUSTOMER_ADDRESSES:,} customer addresses per update.")
    bad = []
    for address in customer_addresses:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        problems.append(f"Not email addresses: {', '.join(map(repr, bad[:20]))}" + (" …" if len(bad) > 20 else "") + ".")
    return problems


def _executives(incident: Incident) -> list[str]:
    executives = User.objects.filter(role=Role.EXECUTIVE, is_active=True)
    if incident.restricted:
        members = incident.members.values("pk")
        executives = executives.filter(Q(pk__in=members) | Q(pk=incident.declared_by_id or 0))
    return list(executives.values_list("email", flat=True))


def recipients(incident: Incident, audiences: Sequence[str], customer_addresses: Sequence[str]) -> list[str]:
    """Every address the update goes to, once each, sorted."""
    to: set[str] = set()
    if Audience.EXECUTIVES in audiences:
        to |= {e.lower() for e in _executives(incident)}
    if Audience.ALL_STAFF in audiences:
        to |= {e.lower() for e in Person.objects.active().values_list("email", flat=True)}
    if Audience.CUSTOMERS in audiences:
        to |= {e.strip().lower() for e in customer_addresses}
    return sorted(to)


@transaction.atomic
def do_send_update(*, acting_user, incident: Incident, what_happened: str, containment: str, impact: str,
                   confidence: str, unknowns: str, audiences: Sequence[str], next_update_at: datetime | None = None,
                   customer_addresses: Sequence[str] = (), corrects: StatusUpdate | None = None,
                   beyond_members: bool = False, final: bool = False, request=None,
                   now: datetime | None = None) -> StatusUpdate:
    """Send a status update to the chosen audiences (emails queued in this transaction), with
    its timeline and audit entries. ``corrects``: the earlier update of the same incident this
    one corrects. For a restricted incident, all staff or customers need ``beyond_members``.
    ``final``: the last update (no next update time, so no reminder)."""
    now = now or timezone.now()
    incident = timeline.lock_incident(incident.pk)
    audiences = list(dict.fromkeys(audiences))
    addresses = list(dict.fromkeys(a.strip() for a in customer_addresses if a.strip()))
    problems = _problems(what_happened=what_happened, containment=containment, impact=impact, confidence=confidence,
                         unknowns=unknowns, next_update_at=next_update_at, audiences=audiences,
                         customer_addresses=addresses, now=now, final=final)
    if corrects is not None and corrects.incident_id != incident.pk:
        problems.append("A correction must correct an update of the same incident.")
    wide = [Audience(a).label.lower() for a in audiences if a in (Audience.ALL_STAFF, Audience.CUSTOMERS)]
    if incident.restricted and wide and not beyond_members:
        problems.append(f"This incident is restricted to its members; sending to {' and '.join(wide)} goes beyond "
                        "them. Confirm that explicitly to send.")
    if problems:
        raise ValidationError(problems)
    to = recipients(incident, audiences, addresses)
    if not to:
        raise ValidationError(["Nobody is in the chosen audiences; there is no one to send the update to."])
    last = incident.updates.order_by("-number").values_list("number", flat=True).first()
    update = StatusUpdate.objects.create(
        incident=incident, number=(last or 0) + 1, what_happened=what_happened.strip(),
        containment=containment.strip(), impact=impact.strip(), confidence=confidence, unknowns=unknowns.strip(),
        next_update_at=None if final else next_update_at, final=final, audiences=audiences, customer_addresses=addresses, recipient_count=len(to),
        corrects=corrects, sent_at=now, sent_by=acting_user if getattr(acting_user, "is_authenticated", False) else None)
    # Plain strings only: the message is the same for everyone, rendered once (lib/emails.py).
    context = {
        "reference": incident.reference, "title": incident.title, "number": str(update.number),
        "sent_at": time_text(now), "what_happened": update.what_happened, "containment": update.containment,
        "impact": update.impact, "confidence": update.get_confidence_display(), "unknowns": update.unknowns,
        "next_update_at": time_text(update.next_update_at) if update.next_update_at else "", "final": "yes" if final else "",
        "corrects": str(corrects.number) if corrects else "", "corrects_sent_at": time_text(corrects.sent_at) if corrects else "",
    }
    queue_emails([(address, "incident_status_update", context) for address in to])
    audience_words = ", ".join(Audience(a).label.lower() for a in audiences)
    timeline.append(incident, kind=EntryKind.UPDATE, author=acting_user, now=now, text=(
        f"Status update {update.number}" + (f" (correcting update {corrects.number})" if corrects else "")
        + f" sent to {audience_words}: {len(to)} recipients"
        + (", beyond the members as confirmed" if incident.restricted and wide else "")
        + f". Confidence {update.get_confidence_display().lower()}; "
        + (f"next update due {time_text(update.next_update_at)}. " if update.next_update_at
           else "final update: no further update follows. ")
        + f"What happened: {update.what_happened} Containment: {update.containment} How bad: {update.impact} "
        f"Not known yet: {update.unknowns}"))
    incident.updated_at = now
    incident.save(update_fields=["updated_at"])
    record("incident.update_sent", actor=acting_user, obj=incident, request=request, after={
        "update": update.pk, "number": update.number, "audiences": audiences, "recipients": len(to),
        "customer_addresses": len(addresses), "corrects": corrects.pk if corrects else None,
        "beyond_members": bool(incident.restricted and wide), "final": final})
    return update


# --- the reminder -----------------------------------------------------------------------------

def remind_due_updates(now: datetime | None = None) -> int:
    """Remind the commander of every open incident whose next update is due and not sent;
    returns how many reminders were sent (each due time once)."""
    now = now or timezone.now()
    latest = StatusUpdate.objects.filter(incident=OuterRef("pk")).order_by("-number")
    due = (Incident.objects.exclude(status=Status.CLOSED)
           .annotate(next_due=Subquery(latest.values("next_update_at")[:1]))
           .filter(next_due__lte=now)
           .exclude(Exists(UpdateReminder.objects.filter(incident=OuterRef("pk"), due_at=OuterRef("next_due"))))
           .select_related("incident_commander", "declared_by").order_by("next_due")[:500])
    return sum(_remind(incident, incident.next_due, now) for incident in due)


def _remind(incident: Incident, due_at: datetime, now: datetime) -> int:
    if incident.incident_commander is not None:
        to = incident.incident_commander.email
    elif incident.declared_by is not None:
        to = incident.declared_by.email
    else:
        to = ""
    try:
        with transaction.atomic():
            locked = timeline.lock_incident(incident.pk)
            UpdateReminder.objects.create(incident=locked, due_at=due_at, sent_at=now)  # the claim
            if to:
                queue_email(to, "incident_update_due", {"incident": locked, "due_at": time_text(due_at)})
            timeline.append(locked, kind=EntryKind.UPDATE, now=now, text=(
                f"The next status update was due {time_text(due_at)} and none was sent; "
                + (f"reminded {to}." if to else "nobody to remind (no commander or declarer).")))
            record("incident.update_reminder", actor_label="system", obj=locked, after={"due_at": due_at, "to": to})
    except IntegrityError:
        return 0  # another worker reminded of this due time
    return 1
