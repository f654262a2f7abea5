"""Writes of programmes and their assignments outside the periodic run: creating and changing a
programme (each rule change recorded with its reason), and the remedial entry point other
capabilities call. Each in one transaction with its audit entry; validation (the programme form)
happens before, in the caller."""

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from bastion.audit.chain import record
from bastion.people.models import Person, PersonStatus

from . import notify
from .engine import latest_version
from .models import OPEN_STATUSES, Assignment, AssignmentReason, Programme, ProgrammeChange
from .programme_forms import RULE_FIELDS, rule_value, rule_values

REMEDIAL_KEY_PREFIX = "remedial:"
_KEY_LENGTH = Assignment._meta.get_field("cycle_key").max_length or 80


@transaction.atomic
def do_create_programme(*, acting_user, fields: dict[str, Any], request=None) -> Programme:
    """A new programme from the form's cleaned fields; the next assignment run applies it."""
    programme = Programme.objects.create(created_by=acting_user, **fields)
    record("programme.created", actor=acting_user, obj=programme, request=request,
           after={"name": programme.name, **rule_values(programme)})
    return programme


@transaction.atomic
def do_update_programme(*, acting_user, programme: Programme, fields: dict[str, Any], reason: str = "",
                        request=None) -> list[ProgrammeChange]:
    """Save the programme's fields; each rule that changes is recorded as a ProgrammeChange with
    the date, the user and the reason (required when a rule changes). Returns the changes."""
    programme = Programme.objects.select_for_update().get(pk=programme.pk)
    before = {"name": programme.name, **rule_values(programme)}
    for name, value in fields.items():
        setattr(programme, name, value)
    after = {"name": programme.name, **rule_values(programme)}
    changed = [name for name in RULE_FIELDS if _identity(before[name]) != _identity(after[name])]
    reason = reason.strip()
    if changed and not reason:
        raise ValueError("Say why the rules change: the reason is kept with the change.")
    if not changed and before["name"] == after["name"]:
        return []
    programme.save()
    now = timezone.now()
    changes = ProgrammeChange.objects.bulk_create([
        ProgrammeChange(programme=programme, changed_at=now, changed_by=acting_user if acting_user else None,
                        field=name, before=before[name], after=after[name], reason=reason)
        for name in changed])
    names = ["name"] + changed if before["name"] != after["name"] else changed
    record("programme.changed", actor=acting_user, obj=programme, request=request,
           before={n: before[n] for n in names}, after={**{n: after[n] for n in names}, "reason": reason})
    return changes


def _identity(value: Any) -> Any:
    return value["id"] if isinstance(value, dict) else value


def assign_remedial(person: Person, programme: Programme, source_key: str, acting_user=None, *,
                    now: datetime | None = None) -> Assignment | None:
    """Assign a remedial programme's course to the person because of ``source_key`` (what
    happened, e.g. ``"phishing:campaign-12:result-345"``) and email them their link.

    Idempotent per source key: called again with the same key, it returns the assignment it made
    the first time. Returns None when the person already has this programme's training open
    (they are being trained; nothing new is assigned). ValueError, with a message fit to show,
    for a programme that is not remedial, paused or without a published course, for a leaver,
    and for an empty or too long source key.
    """
    now = now or timezone.now()
    source_key = (source_key or "").strip()
    key = REMEDIAL_KEY_PREFIX + source_key
    if not source_key or len(key) > _KEY_LENGTH:
        raise ValueError(f"A remedial assignment needs a source key of 1 to {_KEY_LENGTH - len(REMEDIAL_KEY_PREFIX)} "
                         "characters saying what caused it.")
    if not programme.remedial:
        raise ValueError(f"“{programme.name}” is not a remedial programme: tick “Remedial” on the programme "
                         "before other capabilities may assign it.")
    person = Person.objects.get(pk=person.pk)  # its status now, not when the caller read it
    if person.status == PersonStatus.LEAVER:
        raise ValueError(f"{person} has left the organisation: no training is assigned to leavers.")
    try:
        with transaction.atomic():
            programme = Programme.objects.select_for_update().select_related("course").get(pk=programme.pk)
            existing = Assignment.objects.filter(person=person, programme=programme, cycle_key=key).first()
            if existing is not None:
                return existing
            if not programme.active:
                raise ValueError(f"“{programme.name}” is paused: activate it to assign it.")
            version = latest_version(programme)
            if version is None or programme.course.archived:
                raise ValueError(f"The course of “{programme.name}” has no published version to assign.")
            if Assignment.objects.filter(person=person, programme=programme, current=True,
                                         status__in=OPEN_STATUSES).exists():
                return None
            Assignment.objects.filter(person=person, programme=programme, current=True).update(
                current=False, changed_at=timezone.now())
            assignment = Assignment.objects.create(
                person=person, programme=programme, version=version, reason=AssignmentReason.REMEDIAL,
                cycle_key=key, assigned_at=now, due_on=timezone.localdate(now) + timedelta(days=programme.due_days),
                department=person.department, title=person.title)
            notify.queue_training_assigned([notify.Assigned(assignment.pk, person.pk, assignment.due_on, assignment.reason)],
                                           course_title=version.title, now=now)
            record("awareness.remedial_assigned", actor=acting_user,
                   actor_label=None if acting_user else "bastion", obj=assignment,
                   after={"person": person.email, "programme": programme.name, "source": source_key,
                          "due_on": rule_value(assignment.due_on)})
            return assignment
    except IntegrityError:
        # A concurrent call with the same key won (databases without row locks): theirs stands.
        return Assignment.objects.filter(person=person, programme=programme, cycle_key=key).first()
