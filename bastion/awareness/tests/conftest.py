"""The awareness tests' shared organisation: a worked example of progress figures."""

from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from bastion.awareness.actions import install_starter_curriculum
from bastion.awareness.models import (
    Assignment,
    AssignmentEvent,
    AssignmentReason,
    AssignmentStatus,
    EventKind,
    Programme,
)
from bastion.people.models import Person, PersonStatus


@pytest.fixture(autouse=True)
def _empty_cache():
    """Progress figures are cached; each test starts and ends without any."""
    cache.clear()
    yield
    cache.clear()


_n = iter(range(1, 10_000))


def person(first, last, department="Sales", manager=None, **fields) -> Person:
    return Person.objects.create(employee_id=f"G{next(_n):05d}", email=f"{first.lower()}@example.com",
                                 first_name=first, last_name=last, department=department, manager=manager, **fields)


@pytest.fixture
def org(db):
    """Sales (manager Mona): one on time (score 90), one late (70), one overdue, one not yet due.
    Finance: one in progress, not yet due. Plus a leaver and a cancelled one, which don't count."""
    course = install_starter_curriculum()[0]
    programme = Programme.objects.create(name="Basics", course=course)
    version = course.latest_published()
    today = timezone.localdate()
    mona = person("Mona", "Manager", department="Sales")
    people = {}

    def assign(who, due_on, status=AssignmentStatus.ASSIGNED, score=None, done_on=None, **fields):
        a = Assignment(person=who, programme=programme, version=version, reason=AssignmentReason.INITIAL,
                       cycle_key="initial", due_on=due_on, status=status, **fields)
        if done_on:
            a.complete(score=score, now=datetime.combine(done_on, datetime.min.time(),
                                                         tzinfo=timezone.get_current_timezone()))
        a.save()
        people[who.first_name] = who
        return a

    assign(person("Ann", "Ontime", manager=mona), today - timedelta(days=5), score=90, done_on=today - timedelta(days=6))
    assign(person("Ben", "Late", manager=mona), today - timedelta(days=5), score=70, done_on=today - timedelta(days=1))
    overdue = assign(person("Cat", "Overdue", manager=mona), today - timedelta(days=40))
    assign(person("Dan", "Notyet", manager=mona), today + timedelta(days=10))
    assign(person("Eve", "Finance", department="Finance"), today + timedelta(days=3),
           status=AssignmentStatus.IN_PROGRESS)
    assign(person("Gus", "Gone", status=PersonStatus.LEAVER), today - timedelta(days=40))
    assign(person("Hal", "Cancelled"), today - timedelta(days=40), status=AssignmentStatus.CANCELLED)
    AssignmentEvent.objects.create(assignment=overdue, kind=EventKind.CONSEQUENCE, stage="non-compliant",
                                   detail={"action": "Marked non-compliant", "days_overdue": 40})
    return {"programme": programme, "mona": mona, **people}


