"""The demo's awareness programme: the starter curriculum run as four yearly programmes for
everyone, with a realistic mix of completed (mostly on time), in-progress, overdue and
not-yet-due assignments, what followed from them (reminders, escalations, consequences,
incentives), and an acceptable-use policy in its second version, acknowledged by most.

Courses and policies go through the awareness actions; the year of history is written in bulk
(the demo of 100,000 people must load in reasonable time) with the same fields the player and
the assignment job write.
"""

import random
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from bastion.awareness import followup, policy_asks
from bastion.awareness.actions import install_starter_curriculum
from bastion.awareness.models import (
    Acknowledgement,
    Assignment,
    AssignmentReason,
    AssignmentStatus,
    Policy,
    PolicyVersion,
    Programme,
)
from bastion.people.models import Person, PersonStatus

from .people import DOMAIN

PROGRAMMES = [
    # (name, course slug index in the starter curriculum, share completed)
    ("Acceptable use (yearly)", 0, 0.78),
    ("Recognising phishing (yearly)", 1, 0.66),
    ("Reporting a security issue (yearly)", 2, 0.58),
    ("Security policy and consequences (yearly)", 3, 0.49),
]

POLICY_V1 = """# Acceptable use of company IT

1. Company laptops, phones and accounts are for work; reasonable personal use is fine.
2. Lock your screen when you step away; never share your password or MFA codes.
3. Install software only from the company portal.
4. Report a lost device or a suspicious message at once: security@{domain}.
"""
POLICY_V2 = POLICY_V1 + """5. Company data goes into approved tools only; do not paste customer or employee data into
   public AI chatbots.
"""


def _at(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(8 + rng.randrange(10), rng.randrange(60)), tzinfo=timezone.get_current_timezone())


def load_awareness(*, seed: int = 2026, follow_up: bool = True) -> None:
    rng = random.Random(seed)
    today = timezone.localdate()
    courses = install_starter_curriculum()
    people = list(Person.objects.filter(status=PersonStatus.ACTIVE).order_by("pk")
                  .values_list("pk", "hire_date", "department", "title"))
    for name, index, completed_share in PROGRAMMES:
        course = courses[index]
        version = course.latest_published()
        assert version is not None
        programme = Programme.objects.create(
            name=name, course=course, starts_on=today - timedelta(days=400), recurring_months=12,
            consequence_notify=f"hr@{DOMAIN}", incentive_prize_draw=index == 1)
        lessons = list(version.lessons.values_list("pk", flat=True))
        rows = []
        for person_id, hire_date, department, title in people:
            a = Assignment(person_id=person_id, programme=programme, version=version, department=department,
                           title=title, reason=AssignmentReason.INITIAL, cycle_key="initial")
            r = rng.random()
            if hire_date and hire_date >= today - timedelta(days=45):
                # A recent hire: assigned on hire, due two weeks after their first day.
                a.reason, a.cycle_key = AssignmentReason.HIRE, "hire"
                a.due_on = hire_date + timedelta(days=programme.hire_due_days)
                if r < 0.5:
                    a.status, a.started_at = AssignmentStatus.IN_PROGRESS, _at(hire_date + timedelta(days=2), rng)
            elif r < completed_share:
                a.due_on = today - timedelta(days=rng.randrange(10, 200))
                late = rng.random() < 0.12
                done_on = (a.due_on + timedelta(days=rng.randrange(1, 9)) if late
                           else a.due_on - timedelta(days=rng.randrange(0, 25)))
                a.complete(score=rng.choice([70, 80, 80, 90, 90, 100, 100]), now=_at(done_on, rng))
                a.attempts_used = rng.choice([1, 1, 1, 2])
                a.lessons_done = lessons
                a.started_at = (a.completed_at or timezone.now()) - timedelta(minutes=rng.randrange(10, 40))
            elif r < completed_share + 0.12:
                a.due_on = today + timedelta(days=rng.randrange(-5, 25))
                a.status = AssignmentStatus.IN_PROGRESS
                a.started_at = _at(min(today, a.due_on) - timedelta(days=rng.randrange(1, 5)), rng)
                a.lessons_done = lessons[:rng.randrange(1, len(lessons))]
            elif r < completed_share + 0.24:
                a.due_on = today - timedelta(days=rng.choice([2, 5, 9, 15, 24, 33, 47]))
            else:
                a.due_on = today + timedelta(days=rng.randrange(1, 30))
            a.assigned_at = _at(a.due_on - timedelta(days=30), rng)
            rows.append(a)
        Assignment.objects.bulk_create(rows, batch_size=2000)
    _policy(people, rng, today)
    if follow_up:
        # A year of on-time completions earns points and draw entries, but no thank-you emails
        # now: those go out as people complete.
        programmes = Programme.objects.filter(name__in=[name for name, *_ in PROGRAMMES])
        programmes.update(incentive_recognition=False)
        followup.run_followup()
        programmes.update(incentive_recognition=True)
        policy_asks.send_policy_asks()


def _policy(people: list[tuple], rng: random.Random, today: date) -> None:
    policy = Policy.objects.create(slug="acceptable-use", title="Acceptable use policy")
    v1 = PolicyVersion.objects.create(policy=policy, number=1, body=POLICY_V1.format(domain=DOMAIN),
                                      published_at=_at(today - timedelta(days=380), rng))
    v2 = PolicyVersion.objects.create(policy=policy, number=2, body=POLICY_V2.format(domain=DOMAIN),
                                      summary_of_changes="New rule 5: approved tools only for company data.",
                                      published_at=_at(today - timedelta(days=30), rng))
    acks = []
    for person_id, *_ in people:
        if rng.random() < 0.92:
            acks.append(Acknowledgement(person_id=person_id, version=v1,
                                        acknowledged_at=_at(today - timedelta(days=rng.randrange(300, 375)), rng)))
        if rng.random() < 0.61:
            acks.append(Acknowledgement(person_id=person_id, version=v2,
                                        acknowledged_at=_at(today - timedelta(days=rng.randrange(0, 29)), rng)))
    Acknowledgement.objects.bulk_create(acks, batch_size=2000)
