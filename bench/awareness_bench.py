"""Awareness programme at 100,000 people and ~1,000,000 assignments: the periodic assignment
run (with work, then again with none), a reminder run, and the progress pages and assignments
API latency (server time)."""

import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bastion.settings")
# Email "configured" (nothing listens: no worker runs here), so messages are queued for sending
# as in production rather than held.
os.environ.setdefault("BASTION_EMAIL_URL", "smtp://127.0.0.1:2525")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from latency import latency  # noqa: E402

from bastion.accounts.actions import do_create_token  # noqa: E402
from bastion.accounts.models import MfaPolicy, Role, User  # noqa: E402
from bastion.awareness.actions import install_starter_curriculum  # noqa: E402
from bastion.awareness.engine import run_assignments  # noqa: E402
from bastion.awareness.followup import reminder_stage, run_followup, stage_name  # noqa: E402
from bastion.awareness.models import (  # noqa: E402
    OPEN_STATUSES,
    Assignment,
    AssignmentEvent,
    AssignmentReason,
    AssignmentStatus,
    EventKind,
    Programme,
)
from bastion.demo.people import build_people, save_people  # noqa: E402
from bastion.outbox.models import OutboxMessage  # noqa: E402
from bastion.people.models import Person, PersonStatus  # noqa: E402

SIZE = int(os.environ.get("BENCH_PEOPLE", "100000"))
RUN_TARGET_S = 60
CHUNK = 4000  # people per bulk insert round (×4 programmes × ~2.5 cycles of assignments)
REMINDER_DAYS = [-7, 0, 3]
# BENCH_REUSE=1 (bench/run.py): the data an earlier run built is kept; only the pages are timed.
REUSE = os.environ.get("BENCH_REUSE") == "1"
REFRESHER = "Bench: phishing refresher"


def at(day: date, rng: random.Random) -> datetime:
    return datetime(day.year, day.month, day.day, rng.randrange(7, 19), rng.randrange(60), tzinfo=UTC)


def create_programmes(today: date) -> list[Programme]:
    courses = install_starter_curriculum()
    programmes = []
    for n, course in enumerate(courses):
        rewards = n < 2  # two programmes give incentives, two do not
        programmes.append(Programme.objects.create(
            name=f"Bench: {course.title}", course=course, starts_on=today - timedelta(days=4 * 365),
            recurring_months=12, due_days=30, hire_due_days=14, reminder_days=REMINDER_DAYS,
            escalate_after_days=7, consequence_after_days=30, consequence_notify="hr@northwind.example",
            incentive_points=10 if rewards else 0, incentive_recognition=rewards, incentive_prize_draw=n == 1))
    return programmes


def history(rng: random.Random, programme: Programme, version_id: int, lessons: list[int], person: tuple,
            today: date) -> list[Assignment]:
    """One person's assignments of one programme, oldest first; the last is the current one."""
    person_id, hire_date, status, department, title = person

    def make(reason: str, key: str, assigned: date, due: date, current: bool) -> Assignment:
        return Assignment(person_id=person_id, programme=programme, version_id=version_id, reason=reason,
                          cycle_key=key, assigned_at=at(assigned, rng), due_on=due, department=department,
                          title=title, current=current)

    def completed(a: Assignment, done_on: date) -> None:
        a.complete(score=rng.choice([70, 80, 80, 90, 90, 100, 100]), now=at(done_on, rng))
        a.started_at = a.completed_at - timedelta(minutes=rng.randrange(10, 40))  # type: ignore[operator]
        a.attempts_used = rng.choice([1, 1, 1, 2])
        a.lessons_done = lessons

    if hire_date is not None and hire_date >= today - timedelta(days=30):
        a = make(AssignmentReason.HIRE, "hire", hire_date, hire_date + timedelta(days=programme.hire_due_days), True)
        r = rng.random()
        if r < 0.2 and hire_date < today:
            completed(a, min(today, hire_date + timedelta(days=rng.randrange(1, 10))))
        elif r < 0.6:
            a.status, a.started_at = AssignmentStatus.IN_PROGRESS, a.assigned_at
        return [a]
    cycles = rng.choice([2, 3])
    latest = today - timedelta(days=rng.randrange(0, 365))
    rows = []
    for k in range(cycles):
        assigned = latest - timedelta(days=365 * (cycles - 1 - k) + rng.randrange(0, 10))
        due = assigned + timedelta(days=programme.due_days)
        key = "initial" if k == 0 else f"recurring:{due.isoformat()}"
        reason = AssignmentReason.INITIAL if k == 0 else AssignmentReason.RECURRING
        a = make(reason, key, assigned, due, current=k == cycles - 1)
        rows.append(a)
        if k < cycles - 1:
            completed(a, assigned + timedelta(days=rng.randrange(1, 40)))
    a = rows[-1]
    r = rng.random()
    if status == PersonStatus.LEAVER:
        if r < 0.5:
            a.status, a.cancelled_reason = AssignmentStatus.CANCELLED, "Left the organisation"
        elif r < 0.75:
            completed(a, min(today, a.due_on - timedelta(days=rng.randrange(0, 20))))
        # the rest still open: the run cancels them
    elif (today - latest).days < 30:  # not yet due
        if r < 0.35:
            completed(a, min(today, latest + timedelta(days=rng.randrange(0, 20))))
        elif r < 0.6:
            a.status, a.started_at = AssignmentStatus.IN_PROGRESS, a.assigned_at
    elif r < 0.78:
        completed(a, min(today, latest + timedelta(days=rng.randrange(1, 40))))
    elif r < 0.86:
        a.status, a.started_at = AssignmentStatus.IN_PROGRESS, a.assigned_at
    elif r < 0.89:
        a.status, a.attempts_used, a.score = AssignmentStatus.FAILED, 3, 40
    return rows


def past_events(rng: random.Random, programme: Programme, rows: list[Assignment], now: datetime,
                today: date) -> list[AssignmentEvent]:
    """What earlier follow-up runs recorded: reminders for about half the open assignments (up
    to three days ago), most escalations and consequences, and every incentive but the last
    two days'. The run measured then has the rest to do."""
    events = []
    earlier = today - timedelta(days=3)
    for a in rows:
        if a.current and a.status in OPEN_STATUSES:
            stage = reminder_stage(a.due_on, earlier, REMINDER_DAYS)
            if stage is not None and rng.random() < 0.5:
                events.append(AssignmentEvent(assignment_id=a.pk, kind=EventKind.REMINDER, stage=stage_name(stage),
                                              at=now - timedelta(days=3)))
            late = (today - a.due_on).days
            if late >= 10 and rng.random() < 0.6:
                events.append(AssignmentEvent(assignment_id=a.pk, kind=EventKind.ESCALATION, stage="manager",
                                              at=now - timedelta(days=late - 7), detail={"days_overdue": 7}))
            if late >= 33 and rng.random() < 0.6:
                events.append(AssignmentEvent(assignment_id=a.pk, kind=EventKind.CONSEQUENCE, stage="non-compliant",
                                              at=now - timedelta(days=late - 30),
                                              detail={"action": "Marked non-compliant", "days_overdue": 30}))
        elif (programme.incentive_points and a.status == AssignmentStatus.COMPLETED and a.on_time
              and a.completed_at is not None and a.completed_at < now - timedelta(days=2)):
            events.append(AssignmentEvent(assignment_id=a.pk, kind=EventKind.INCENTIVE, stage="on-time",
                                          at=a.completed_at, points=programme.incentive_points))
    return events


def create_history(rng: random.Random, programmes: list[Programme], now: datetime, today: date) -> None:
    people = list(Person.objects.order_by("pk").values_list("pk", "hire_date", "status", "department", "title"))
    versions = {}
    for programme in programmes:
        version = programme.course.latest_published()
        assert version is not None
        versions[programme.pk] = (version.pk, list(version.lessons.values_list("pk", flat=True)))
    for start in range(0, len(people), CHUNK):
        chunk = people[start:start + CHUNK]
        made: list[tuple[Programme, list[Assignment]]] = []
        rows: list[Assignment] = []
        for programme in programmes:
            version_id, lessons = versions[programme.pk]
            these = [a for person in chunk for a in history(rng, programme, version_id, lessons, person, today)]
            made.append((programme, these))
            rows.extend(these)
        Assignment.objects.bulk_create(rows, batch_size=2000)
        events = [e for programme, these in made for e in past_events(rng, programme, these, now, today)]
        AssignmentEvent.objects.bulk_create(events, batch_size=2000)


def team_manager() -> Person:
    """A team manager given six more teams to run (through their managers): ~60 people in all."""
    managers = list(Person.objects.filter(title="Sales Manager", status=PersonStatus.ACTIVE).order_by("pk")[:7])
    boss, others = managers[0], managers[1:]
    Person.objects.filter(pk__in=[m.pk for m in others]).update(manager=boss)
    return boss


def timed(label: str, target_s: float, fn):
    started = time.perf_counter()
    value = fn()
    elapsed = time.perf_counter() - started
    verdict = "OK" if elapsed < target_s else "SLOW"
    print(f"{label:<44} {elapsed:6.2f} s   (target < {target_s:.0f} s) {verdict}", flush=True)
    return value


def duplicates() -> int:
    twice = (Assignment.objects.order_by().values("person", "programme", "cycle_key")
             .annotate(n=Count("pk")).filter(n__gt=1).count())
    two_current = (Assignment.objects.filter(current=True).order_by().values("person", "programme")
                   .annotate(n=Count("pk")).filter(n__gt=1).count())
    return twice + two_current


def setup(now: datetime) -> None:
    rng = random.Random(2027)
    today = timezone.localdate(now)
    started = time.perf_counter()
    if not Person.objects.filter(employee_id="E000001").exists():  # else the people bench built them
        save_people(build_people(SIZE, today=today))
    team_manager()
    programmes = create_programmes(today)
    create_history(rng, programmes, now, today)
    if connection.vendor == "postgresql":
        # What autovacuum does soon after a bulk load: without statistics the planner takes a
        # 100,000-row table for a small one. (SQLite gathers none unless told: left as deployed.)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"setup: {Person.objects.count():,} people "
          f"({Person.objects.filter(status=PersonStatus.LEAVER).count():,} leavers), {len(programmes)} programmes, "
          f"{Assignment.objects.count():,} assignments "
          f"({Assignment.objects.filter(current=True, status__in=OPEN_STATUSES).count():,} open), "
          f"{AssignmentEvent.objects.count():,} events in {time.perf_counter() - started:.1f} s", flush=True)


def measure(now: datetime) -> None:
    programmes = list(Programme.objects.order_by("pk"))
    if REUSE and any(p.name == REFRESHER for p in programmes):
        print("reusing the data and runs of an earlier bench: pages only", flush=True)
    else:
        measure_runs(now, programmes)
    measure_pages(programmes)


def measure_runs(now: datetime, programmes: list[Programme]) -> None:
    today = timezone.localdate(now)

    # (a) The periodic run with work: a new programme for everyone, leavers' open assignments to
    # cancel, recurring assignments falling due; then again at once, with nothing left to do.
    courses = [p.course for p in programmes]
    Programme.objects.create(name=REFRESHER, course=courses[1], starts_on=today,
                             recurring_months=12, reminder_days=REMINDER_DAYS,
                             consequence_notify="hr@northwind.example")
    outbox_before = OutboxMessage.objects.count()
    first = timed("assignment run (new programme for everyone)", RUN_TARGET_S, lambda: run_assignments(now))
    print(f"  created {first.created:,} ({', '.join(f'{k} {v:,}' for p in first.programmes for k, v in p.created.items())}),"
          f" cancelled {first.cancelled:,}, emails queued {OutboxMessage.objects.count() - outbox_before:,}", flush=True)
    second = timed("assignment run again (nothing to do)", RUN_TARGET_S, lambda: run_assignments(now))
    print(f"  created {second.created:,}; duplicates: {duplicates()}", flush=True)

    # (b) The follow-up run: reminders, escalations, consequences and incentives due.
    outbox_before = OutboxMessage.objects.count()
    result = timed("follow-up run (reminders and the rest)", RUN_TARGET_S, lambda: run_followup(now))
    print(f"  reminders {result.reminders:,}, escalated {result.escalated:,} to {result.managers_emailed:,} managers, "
          f"consequences {result.consequences:,}, incentives {result.incentives:,}, "
          f"emails queued {OutboxMessage.objects.count() - outbox_before:,}", flush=True)
    again = timed("follow-up run again (nothing to do)", RUN_TARGET_S, lambda: run_followup(now))
    print(f"  reminders {again.reminders}, escalated {again.escalated}, consequences {again.consequences}, "
          f"incentives {again.incentives}", flush=True)



def measure_pages(programmes: list[Programme]) -> None:
    """(c) Progress pages and the assignments API."""
    boss = Person.objects.filter(title="Sales Manager", status=PersonStatus.ACTIVE).order_by("pk").first()
    assert boss is not None
    policy = MfaPolicy.current()
    policy.required_roles = []
    policy.save()
    lead = (User.objects.filter(email="bench-awareness-lead@example.com").first()
            or User.objects.create_user(email="bench-awareness-lead@example.com", role=Role.SECURITY_LEAD))
    web = Client(HTTP_HOST="127.0.0.1")
    web.force_login(lead)
    overview = ["/awareness/progress/?by=department", "/awareness/progress/?by=manager",
                "/awareness/progress/?by=programme"]
    latency(web, "progress overview (lead)", overview, rounds=5)
    people_pages = ["/awareness/progress/people/", "/awareness/progress/people/?page=50",
                    "/awareness/progress/people/?status=overdue"]
    latency(web, "progress people (lead)", people_pages, rounds=5)
    team = Person.objects.reporting_to(boss).count()
    manager = (User.objects.filter(email="bench-awareness-manager@example.com").first()
               or User.objects.create_user(email="bench-awareness-manager@example.com", role=Role.MANAGER,
                                           person=boss))
    mine = Client(HTTP_HOST="127.0.0.1")
    mine.force_login(manager)
    latency(mine, f"progress (manager of {team})", ["/awareness/progress/", "/awareness/progress/people/"], rounds=10)
    _, raw = do_create_token(user=lead, name="bench-awareness")
    api = Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Bearer {raw}"})
    someone = Person.objects.filter(status=PersonStatus.ACTIVE).order_by("pk")[SIZE // 2]
    apis = ["/api/v1/assignments", "/api/v1/assignments?overdue=true", "/api/v1/assignments?status=open",
            f"/api/v1/assignments?programme={programmes[0].pk}", f"/api/v1/assignments?person={someone.email}",
            "/api/v1/assignments?offset=50000"]
    latency(api, "assignments API list", apis, rounds=5)


def main() -> None:
    now = timezone.now()
    if REUSE and Assignment.objects.exists():
        print(f"setup: reusing {Assignment.objects.count():,} assignments", flush=True)
    else:
        setup(now)
    measure(now)


if __name__ == "__main__":
    main()
