"""What follows an assignment by rule: reminders, escalation to the manager, consequences, and
incentives for on-time completion.

Each is an ``AssignmentEvent`` (assignment, kind, stage) under a unique constraint, written in
the same transaction that queues its email: a run repeated, or a second worker, records and
sends nothing twice. Each rule reads its candidates for a programme in one query (no query per
person), and emails are queued in bulk (notify.queue_emails: a few inserts per 500 events), so
a run over 100,000 people stays a handful of queries per programme and per 500 emails.

- **Reminders**: at each of the programme's ``reminder_days`` (relative to the due date, default
  7 days before, on the day, 3 days after), the latest stage reached is sent once; not within
  24 hours of the assignment itself.
- **Escalation**: ``escalate_after_days`` overdue, the person's manager gets one email listing
  all their people newly overdue that far.
- **Consequence**: ``consequence_after_days`` overdue, the person is marked non-compliant (an
  event that can be waived only with a reason) and the programme's HR contact is told, in one
  email listing them.
- **Incentive**: completed by the due date (within the last 30 days): points, a thank-you email
  if the programme says so, and a prize-draw entry if it runs one.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bastion.audit.chain import record
from bastion.lib.bulk import insert_rows
from bastion.lib.emails import queue_emails
from bastion.people.models import PersonStatus

from .links import training_link_path
from .models import (
    OPEN_STATUSES,
    Assignment,
    AssignmentEvent,
    AssignmentStatus,
    EventKind,
    Programme,
)

QUIET_PERIOD = timedelta(hours=24)
# Incentives go to completions of the last 30 days: the hourly run finds each within the hour,
# and does not read a programme's whole history every time.
INCENTIVE_LOOKBACK = timedelta(days=30)
BATCH = 500


@dataclass
class FollowupResult:
    reminders: int = 0
    escalated: int = 0
    managers_emailed: int = 0
    consequences: int = 0
    incentives: int = 0


def stage_name(days: int) -> str:
    """A reminder stage by its day relative to the due date: "-7", "+0", "+3"."""
    return f"{days:+d}"


def reminder_stage(due_on: date, today: date, offsets: list[int]) -> int | None:
    """The latest of ``offsets`` (days relative to the due date) reached today, or None."""
    reached = [o for o in offsets if (today - due_on).days >= o]
    return max(reached) if reached else None


def run_followup(now: datetime | None = None) -> FollowupResult:
    now = now or timezone.now()
    today = timezone.localdate(now)
    result = FollowupResult()
    for programme in Programme.objects.filter(active=True).order_by("pk"):
        send_reminders(programme, now, today, result)
        escalate(programme, now, today, result)
        apply_consequences(programme, now, today, result)
        award_incentives(programme, now, result)
    return result


def _open(programme: Programme):
    """The programme's current open assignments of people still here."""
    return Assignment.objects.filter(programme=programme, current=True, status__in=OPEN_STATUSES,
                                     person__status=PersonStatus.ACTIVE)


def _claim(events: list[AssignmentEvent], send) -> list[AssignmentEvent]:
    """Insert the events and run ``send`` in one transaction; if another run claimed one of
    them meanwhile, fall back to one at a time so each is still recorded (and sent) once.
    Returns the events this run claimed."""
    try:
        with transaction.atomic():
            insert_events(events)
            send(events)
        return events
    except IntegrityError:
        claimed = []
        for event in events:
            try:
                with transaction.atomic():
                    insert_events([event])
                    send([event])
                claimed.append(event)
            except IntegrityError:
                continue
        return claimed


def insert_events(events: list[AssignmentEvent]) -> None:
    """Record the events, a thousand or more per statement (their unique constraint stands)."""
    insert_rows(AssignmentEvent, [{"assignment_id": e.assignment_id, "kind": e.kind, "stage": e.stage, "at": e.at,
                                   "detail": e.detail, "points": e.points} for e in events])


def send_reminders(programme: Programme, now: datetime, today: date, result: FollowupResult) -> None:
    offsets = sorted({int(d) for d in programme.reminder_days})
    if not offsets:
        return
    rows = list(_open(programme).filter(due_on__lte=today - timedelta(days=offsets[0]),
                                        assigned_at__lte=now - QUIET_PERIOD)
                .values_list("pk", "due_on", "person_id", "person__email", "person__first_name", "version__title"))
    if not rows:
        return
    sent = set(AssignmentEvent.objects.filter(
        kind=EventKind.REMINDER, assignment__programme=programme, assignment__current=True,
        assignment__status__in=OPEN_STATUSES).values_list("assignment_id", "stage"))
    due: list[tuple[AssignmentEvent, tuple]] = []
    for row in rows:
        days = reminder_stage(row[1], today, offsets)
        if days is not None and (row[0], stage_name(days)) not in sent:
            event = AssignmentEvent(assignment_id=row[0], kind=EventKind.REMINDER, stage=stage_name(days), at=now,
                                    detail={"days_from_due": (today - row[1]).days})
            due.append((event, row))
    by_event = {id(event): row for event, row in due}

    def send(events: list[AssignmentEvent]) -> None:
        emails = []
        for event in events:
            _, due_on, person_id, email, first_name, course = by_event[id(event)]
            emails.append((email, "training_reminder", {
                "first_name": first_name, "course": course, "due_on": due_on,
                "days_late": (today - due_on).days, "days_left": (due_on - today).days, "programme": programme,
                "link": settings.BASE_URL + training_link_path(person_id, now=now)}))
        queue_emails(emails)
        # In the claim's transaction: the reminders, their emails and their record stand or fall together.
        record("awareness.reminded", actor_label="bastion worker", obj=programme,
               after={"reminders": len(events), "people": [email for email, _, _ in emails]})

    for start in range(0, len(due), BATCH):
        result.reminders += len(_claim([event for event, _ in due[start:start + BATCH]], send))


def escalate(programme: Programme, now: datetime, today: date, result: FollowupResult) -> None:
    if programme.escalate_after_days is None:
        return
    rows = list(_open(programme).filter(
        due_on__lte=today - timedelta(days=programme.escalate_after_days),
        person__manager__isnull=False, person__manager__status=PersonStatus.ACTIVE,
    ).exclude(events__kind=EventKind.ESCALATION).order_by("person__last_name", "person__first_name", "pk")
        .values_list("pk", "due_on", "person__first_name", "person__last_name", "person__manager_id",
                     "person__manager__email", "person__manager__first_name", "version__title"))
    by_manager: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        by_manager[row[4]].append(row)

    def listed(people: list[tuple], ids: set[int]) -> list[dict]:
        return [{"name": f"{r[2]} {r[3]}", "course": r[7], "due_on": r[1], "days_overdue": (today - r[1]).days}
                for r in people if r[0] in ids]

    def events_for(people: list[tuple]) -> list[AssignmentEvent]:
        return [AssignmentEvent(assignment_id=row[0], kind=EventKind.ESCALATION, stage="manager", at=now,
                                detail={"manager": people[0][5], "days_overdue": (today - row[1]).days})
                for row in people]

    def escalate_one(people: list[tuple]) -> None:
        def send(claimed: list[AssignmentEvent]) -> None:
            shown = listed(people, {e.assignment_id for e in claimed})
            if shown:
                queue_emails([(people[0][5], "training_escalation", {"first_name": people[0][6], "people": shown,
                                                                      "programme": programme})])
                _record_escalations(programme, [(people[0][5], [s["name"] for s in shown])])

        claimed = _claim(events_for(people), send)
        if claimed:
            result.escalated += len(claimed)
            result.managers_emailed += 1

    # Managers in groups of about BATCH escalations, each group one transaction; if another run
    # claimed any of a group's meanwhile, its managers are taken one by one (as _claim does).
    groups: list[list[list[tuple]]] = [[]]
    size = 0
    for people in by_manager.values():
        if size >= BATCH:
            groups.append([])
            size = 0
        groups[-1].append(people)
        size += len(people)
    for group in groups:
        if not group:
            continue
        try:
            with transaction.atomic():
                insert_events([e for people in group for e in events_for(people)])
                queue_emails([(people[0][5], "training_escalation", {
                    "first_name": people[0][6], "people": listed(people, {r[0] for r in people}),
                    "programme": programme}) for people in group])
                _record_escalations(programme, [(people[0][5], [f"{r[2]} {r[3]}" for r in people]) for people in group])
        except IntegrityError:
            for people in group:
                escalate_one(people)
        else:
            result.escalated += sum(len(people) for people in group)
            result.managers_emailed += len(group)


def _record_escalations(programme: Programme, told: list[tuple[str, list[str]]]) -> None:
    """The audit entry of escalations, written in the transaction that claims them."""
    record("awareness.escalated", actor_label="bastion worker", obj=programme, after={
        "managers": len(told), "assignments": sum(len(names) for _, names in told),
        "told": {manager: names for manager, names in told}})


def apply_consequences(programme: Programme, now: datetime, today: date, result: FollowupResult) -> None:
    if programme.consequence_after_days is None:
        return
    rows = list(_open(programme).filter(due_on__lte=today - timedelta(days=programme.consequence_after_days))
                .exclude(events__kind=EventKind.CONSEQUENCE).order_by("person__last_name", "person__first_name", "pk")
                .values_list("pk", "due_on", "person__first_name", "person__last_name", "person__email",
                             "person__department", "version__title"))
    if not rows:
        return
    action = "Marked non-compliant"
    events = [AssignmentEvent(assignment_id=row[0], kind=EventKind.CONSEQUENCE, stage="non-compliant", at=now,
                              detail={"action": action, "days_overdue": (today - row[1]).days,
                                      "notified": programme.consequence_notify})
              for row in rows]
    by_id = {row[0]: row for row in rows}

    def send(claimed: list[AssignmentEvent]) -> None:
        if programme.consequence_notify:
            queue_emails([(programme.consequence_notify, "training_consequence", {
                "programme": programme, "days": programme.consequence_after_days, "people": [
                    {"name": f"{by_id[e.assignment_id][2]} {by_id[e.assignment_id][3]}",
                     "email": by_id[e.assignment_id][4], "department": by_id[e.assignment_id][5],
                     "course": by_id[e.assignment_id][6], "due_on": by_id[e.assignment_id][1]}
                    for e in claimed]})])
        record("awareness.consequence_applied", actor_label="bastion worker", obj=programme, after={
            "action": action, "notified": programme.consequence_notify or None,
            "people": [by_id[e.assignment_id][4] for e in claimed]})

    result.consequences += len(_claim(events, send))


def award_incentives(programme: Programme, now: datetime, result: FollowupResult) -> None:
    if not (programme.incentive_points or programme.incentive_recognition or programme.incentive_prize_draw):
        return
    rows = list(Assignment.objects.filter(programme=programme, status=AssignmentStatus.COMPLETED,
                                          completed_at__gte=now - INCENTIVE_LOOKBACK, on_time=True)
                .exclude(events__kind=EventKind.INCENTIVE)
                .values_list("pk", "person_id", "person__email", "person__first_name", "version__title"))
    if not rows:
        return
    events = [AssignmentEvent(assignment_id=row[0], kind=EventKind.INCENTIVE, stage="on-time", at=now,
                              points=programme.incentive_points,
                              detail={"recognition": programme.incentive_recognition,
                                      "prize_draw": programme.incentive_prize_draw})
              for row in rows]
    by_id = {row[0]: row for row in rows}

    def send(claimed: list[AssignmentEvent]) -> None:
        record("awareness.incentive_awarded", actor_label="bastion worker", obj=programme, after={
            "points": programme.incentive_points, "recognition": programme.incentive_recognition,
            "prize_draw": programme.incentive_prize_draw,
            "people": [by_id[e.assignment_id][2] for e in claimed]})
        if not programme.incentive_recognition:
            return
        totals = points_by_person([by_id[e.assignment_id][1] for e in claimed])
        emails = []
        for event in claimed:
            _, person_id, email, first_name, course = by_id[event.assignment_id]
            emails.append((email, "training_recognition", {
                "first_name": first_name, "course": course, "points": event.points,
                "total": totals.get(person_id, 0), "prize_draw": programme.incentive_prize_draw}))
        queue_emails(emails)

    for start in range(0, len(events), BATCH):
        result.incentives += len(_claim(events[start:start + BATCH], send))


def points_by_person(person_ids: list[int]) -> dict[int, int]:
    """Each person's points from every incentive they have earned.

    Two indexed reads (their assignments by person, then those assignments' incentive events)
    rather than one join: a planner without statistics would read every incentive ever earned.
    """
    owner = dict(Assignment.objects.filter(person_id__in=person_ids).values_list("pk", "person_id"))
    totals: dict[int, int] = dict.fromkeys(person_ids, 0)
    ids = list(owner)
    for start in range(0, len(ids), 5000):
        for assignment_id, points in AssignmentEvent.objects.filter(
                assignment_id__in=ids[start:start + 5000], kind=EventKind.INCENTIVE).values_list("assignment_id", "points"):
            totals[owner[assignment_id]] += points
    return totals


class WaiverError(ValueError):
    pass


@transaction.atomic
def do_waive(*, acting_user, event: AssignmentEvent, reason: str, request=None) -> AssignmentEvent:
    """Waive a consequence, with the reason written down; it stays on record as waived."""
    reason = (reason or "").strip()
    event = AssignmentEvent.objects.select_for_update().select_related("assignment__person").get(pk=event.pk)
    if event.kind != EventKind.CONSEQUENCE:
        raise WaiverError("Only a consequence can be waived.")
    if event.waived_at is not None:
        raise WaiverError("This consequence was already waived.")
    if len(reason) < 10:
        raise WaiverError("Say why the consequence is waived (at least 10 characters).")
    event.waived_at, event.waived_by, event.waive_reason = timezone.now(), acting_user, reason
    event.save(update_fields=["waived_at", "waived_by", "waive_reason"])
    record("awareness.consequence_waived", actor=acting_user, obj=event.assignment, request=request,
           after={"person": event.assignment.person.email, "consequence": event.detail.get("action"),
                  "reason": reason})
    return event
