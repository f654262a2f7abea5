"""Who must be trained now: the periodic assignment run.

For each active programme that has started, the people in its audience are compared with their
current assignment of that programme (one query each, whatever the number of people), and the
rules decide what is new:

- nobody assigned yet: **on hire** (hired on or after the programme's start, and already
  started) due ``hire_due_days`` after the hire date, otherwise an **initial** assignment due
  ``due_days`` from today. A remedial programme makes no initial assignments: phishing (or the
  security team) assigns it, plus whatever trigger it has ticked;
- an open assignment: nothing (they are being trained);
- a completed one: **on change** when their department or title differs from when it was
  assigned (and the programme says so); **recurring** ``recurring_months`` after the completion,
  assigned ``due_days`` ahead so that it falls due exactly then;
- a cancelled one (they left and came back): a new initial assignment.

A due date the rules put in the past (a frequency shortened, a programme started with a date in
the past, a hire entered late) becomes ``due_days`` (on hire: ``hire_due_days``) from today, so
nobody is overdue on the day they are assigned.

Leavers get nothing new and their open assignments are cancelled. Each new assignment has a
``cycle_key`` unique for the person and programme, and each programme's run holds a lock on the
programme row, so running twice, or on two workers, assigns nothing twice. New assignments
are emailed to the learner in the same transaction (see notify.py).
"""

import calendar
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from bastion.audit.chain import record
from bastion.lib.bulk import insert_rows
from bastion.people.models import Person, PersonStatus

from . import notify
from .models import (
    OPEN_STATUSES,
    Assignment,
    AssignmentEvent,
    AssignmentReason,
    AssignmentStatus,
    CourseVersion,
    EventKind,
    Programme,
    VersionStatus,
)

logger = logging.getLogger(__name__)

BATCH = 2000
LEAVER_REASON = "Left the organisation"


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def triggers_in_words(programme: Programme) -> str:
    """The programme's triggers as a sentence, e.g. "On hire (due 14 days after the hire date);
    every 12 months after completion"."""
    parts = []
    if programme.on_hire:
        parts.append(f"on hire (due {programme.hire_due_days} days after the hire date)")
    if not programme.remedial:
        parts.append(f"everyone else once (due {programme.due_days} days after being assigned)")
    if programme.recurring_months:
        parts.append(f"every {programme.recurring_months} month{'s' if programme.recurring_months != 1 else ''} "
                     "after completion")
    if programme.on_change:
        parts.append("on a change of department or title")
    if programme.remedial:
        parts.append("remedial (after a failed phishing test)")
    if not parts:
        return "No trigger: nobody is assigned."
    text = "; ".join(parts)
    return text[0].upper() + text[1:]


@dataclass
class NewAssignment:
    person_id: int
    reason: str
    cycle_key: str
    due_on: date
    department: str
    title: str


@dataclass
class ProgrammeRun:
    programme_id: int
    name: str
    audience: int = 0
    created: dict[str, int] = field(default_factory=dict)
    emailed: int = 0
    problem: str = ""

    @property
    def total(self) -> int:
        return sum(self.created.values())


@dataclass
class RunResult:
    programmes: list[ProgrammeRun] = field(default_factory=list)
    cancelled: int = 0

    @property
    def created(self) -> int:
        return sum(p.total for p in self.programmes)

    @property
    def emailed(self) -> int:
        return sum(p.emailed for p in self.programmes)


def _not_in_the_past(due: date, today: date, days: int) -> date:
    return due if due >= today else today + timedelta(days=days)


def plan_programme(programme: Programme, audience: list[tuple], current: dict[int, tuple], today: date
                   ) -> list[NewAssignment]:
    """The assignments the rules call for today. ``audience`` holds (person id, hire date,
    department, title) of active people; ``current`` maps person id to their current assignment
    of the programme as (status, completed_at, department, title). Pure: no database."""
    planned: list[NewAssignment] = []
    initial_due = today + timedelta(days=programme.due_days)
    for person_id, hire_date, department, title in audience:
        now_here = current.get(person_id)
        if now_here is None:
            if programme.on_hire and hire_date is not None and hire_date >= programme.starts_on:
                if hire_date > today:
                    continue  # not started yet: assigned on their first day
                due = _not_in_the_past(hire_date + timedelta(days=programme.hire_due_days), today,
                                       programme.hire_due_days)
                planned.append(NewAssignment(person_id, AssignmentReason.HIRE, "hire", due, department, title))
            elif not programme.remedial:
                planned.append(NewAssignment(person_id, AssignmentReason.INITIAL, "initial",
                                             initial_due, department, title))
            continue
        status, completed_at, was_department, was_title = now_here
        if status in OPEN_STATUSES or status == AssignmentStatus.FAILED:
            continue  # being trained, or waiting for the security team to look at it
        if status == AssignmentStatus.CANCELLED:
            if not programme.remedial:
                planned.append(NewAssignment(person_id, AssignmentReason.INITIAL, f"initial:{today.isoformat()}",
                                             initial_due, department, title))
            continue
        if programme.on_change and (department, title) != (was_department, was_title):
            planned.append(NewAssignment(person_id, AssignmentReason.CHANGE, f"change:{today.isoformat()}",
                                         initial_due, department, title))
            continue
        if programme.recurring_months and completed_at is not None:
            due = add_months(timezone.localdate(completed_at), programme.recurring_months)
            if due - timedelta(days=programme.due_days) <= today:
                # The key is the date the rule gives, so a late run or a re-run finds it taken.
                planned.append(NewAssignment(person_id, AssignmentReason.RECURRING, f"recurring:{due.isoformat()}",
                                             _not_in_the_past(due, today, programme.due_days), department, title))
    return planned


def run_assignments(now: datetime | None = None) -> RunResult:
    """Cancel leavers' open assignments, then assign what each active programme calls for."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    result = RunResult(cancelled=cancel_leavers(now))
    for programme in Programme.objects.filter(active=True).select_related("course", "audience").order_by("pk"):
        try:
            run = _run_programme(programme, now, today)
        except DatabaseError as exc:
            # One programme's failure (e.g. a concurrent run on a database without row locks)
            # must not stop the others; its transaction rolled back, the next run retries.
            logger.exception("Assignment run of programme %s failed", programme.pk)
            run = ProgrammeRun(programme.pk, programme.name, problem=f"The run failed and will be retried: {exc}")
        result.programmes.append(run)
    return result


def cancel_leavers(now: datetime) -> int:
    """Cancel every open assignment of a leaver, each with a "cancelled" event."""
    with transaction.atomic():
        ids = list(Assignment.objects.select_for_update()
                   .filter(status__in=OPEN_STATUSES, person__status=PersonStatus.LEAVER)
                   .values_list("pk", flat=True))
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            Assignment.objects.filter(pk__in=batch, status__in=OPEN_STATUSES).update(
                status=AssignmentStatus.CANCELLED, cancelled_reason=LEAVER_REASON, changed_at=now)
            AssignmentEvent.objects.bulk_create(
                [AssignmentEvent(assignment_id=pk, kind=EventKind.CANCELLED, stage="leaver", at=now,
                                 detail={"reason": LEAVER_REASON}) for pk in batch],
                ignore_conflicts=True)
        if ids:
            # In the same transaction: if the run dies, neither the cancellations nor their record stay.
            record("awareness.leavers_cancelled", actor_label="bastion worker", object_type="awareness.assignment",
                   object_repr="Leavers' open training", after={"cancelled": len(ids), "reason": LEAVER_REASON})
        return len(ids)


def programme_problem(programme: Programme, version: CourseVersion | None, audience: int | None,
                      today: date) -> str:
    """Why the run assigns nothing for this programme, in words; "" if nothing is wrong."""
    if not programme.active:
        return "The programme is paused: nobody is assigned."
    if programme.course.archived:
        return "Its course is archived: nobody is assigned."
    if version is None:
        return "Its course has no published version: nobody is assigned until it is published."
    if audience == 0:
        return "Its audience matches nobody active in the directory: nobody is assigned."
    if programme.starts_on > today:
        return f"It starts on {programme.starts_on:%d %b %Y}: nobody is assigned before then."
    return ""


def latest_version(programme: Programme) -> CourseVersion | None:
    return (CourseVersion.objects.filter(course=programme.course_id, status=VersionStatus.PUBLISHED)
            .order_by("-number").first())


def audience_people(programme: Programme):
    """The active people the programme's audience covers right now."""
    people = programme.audience.people() if programme.audience else Person.objects.all()
    return people.filter(status=PersonStatus.ACTIVE)


def _run_programme(programme: Programme, now: datetime, today: date) -> ProgrammeRun:
    run = ProgrammeRun(programme.pk, programme.name)
    version = latest_version(programme)
    run.problem = programme_problem(programme, version, None, today)
    if run.problem or version is None:
        return run
    audience = list(audience_people(programme).order_by("pk")
                    .values_list("pk", "hire_date", "department", "title"))
    run.audience = len(audience)
    if not audience:
        run.problem = programme_problem(programme, version, 0, today)
        return run
    with transaction.atomic():
        # Serialises runs of this programme: a second run waits, then finds everything assigned.
        Programme.objects.select_for_update().filter(pk=programme.pk).first()
        current = {row[0]: row[1:] for row in Assignment.objects.filter(programme=programme, current=True)
                   .values_list("person_id", "status", "completed_at", "department", "title")}
        planned = plan_programme(programme, audience, current, today)
        for start in range(0, len(planned), BATCH):
            batch = planned[start:start + BATCH]
            superseded = [p.person_id for p in batch if p.person_id in current]
            if superseded:
                Assignment.objects.filter(programme=programme, current=True, person_id__in=superseded).update(
                    current=False, changed_at=now)
            ids = insert_rows(Assignment, [
                {"person_id": p.person_id, "programme_id": programme.pk, "version_id": version.pk,
                 "reason": p.reason, "cycle_key": p.cycle_key, "assigned_at": now, "due_on": p.due_on,
                 "department": p.department, "title": p.title, "changed_at": now}
                for p in batch
            ], returning=True)
            run.emailed += notify.queue_training_assigned(
                [notify.Assigned(pk, p.person_id, p.due_on, p.reason) for pk, p in zip(ids, batch, strict=True)],
                course_title=version.title, now=now)
        for p in planned:
            run.created[p.reason] = run.created.get(p.reason, 0) + 1
        if planned:
            record("awareness.assigned", actor_label="bastion worker", obj=programme, after={
                "version": version.number, "created": run.created, "emailed": run.emailed})
    return run
