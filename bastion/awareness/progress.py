"""Training progress, live: completion, on-time rate, overdue and average score, grouped by
programme, course, department or manager, over each person's current assignment of each
programme (people still here; cancelled ones left out). One grouped query per view: the
totals are the sum of its rows (``summed``), not a second pass over the assignments.

- **completion**: completed ÷ assigned;
- **on-time rate**: completed by the end of the due day ÷ completed;
- **overdue**: open past the due date;
- **average score**: of the completed ones (their best try).

The figures are live but not recomputed on every view: each result is cached under the exact
query it answers, the day, and when the figures last changed (``changed_stamp``: the newest
assignment change and the newest directory change). Any change makes a new key, so a cached
figure is never older than the data; an unchanged programme is counted once.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import cast

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from bastion.people.models import Person, PersonStatus

from .models import OPEN_STATUSES, Assignment, AssignmentStatus, Course, Programme

# Deleting rows does not move the change stamp (nothing in the figures' path deletes
# assignments or people); an hour bounds how long such a change could go unseen.
CACHE_SECONDS = 3600

# (key, label) of each grouping; programme and course names are looked up after counting.
GROUPINGS = {
    "programme": ("programme_id", "programme_id"),
    "course": ("version__course_id", "version__course_id"),
    "department": ("person__department", "person__department"),
    "manager": ("person__manager_id", "person__manager__last_name"),
}


@dataclass(frozen=True)
class Figures:
    key: object
    label: str
    assigned: int
    completed: int
    on_time: int
    overdue: int
    in_progress: int
    failed: int
    average_score: float | None
    scored: int = 0
    score_sum: int = 0

    @property
    def completion(self) -> float | None:
        return 100 * self.completed / self.assigned if self.assigned else None

    @property
    def on_time_rate(self) -> float | None:
        return 100 * self.on_time / self.completed if self.completed else None

    @property
    def not_started(self) -> int:
        return self.assigned - self.completed - self.in_progress - self.failed


def counted(assignments: QuerySet[Assignment], *, team: bool = False) -> QuerySet[Assignment]:
    """The assignments progress counts: current, of people still here, not cancelled.

    ``team``: the assignments are those of a manager's people (by person id). "current" is then
    asked as ``current > false``, the same rows: a planner without statistics (SQLite as
    deployed) takes an equality on the first column of the (current, due_on, id) index for the
    most selective term and walks the whole company's current assignments in due order to find a
    page of one team's, where the team's own rows by person are a few hundred."""
    # "Not one of the few people who are not active" rather than a join on the person's status:
    # the same rows, but counting and paging need not visit 100,000 people to find them.
    return (assignments.filter(current__gt=False) if team else assignments.filter(current=True)
            ).exclude(person_id__in=Person.objects.exclude(status=PersonStatus.ACTIVE).values("pk")
                      ).exclude(status=AssignmentStatus.CANCELLED)


def _measures(today: date) -> dict:
    return {
        "assigned": Count("pk"),
        "completed": Count("pk", filter=Q(status=AssignmentStatus.COMPLETED)),
        "on_time_n": Count("pk", filter=Q(status=AssignmentStatus.COMPLETED, on_time=True)),
        "overdue": Count("pk", filter=Q(status__in=OPEN_STATUSES, due_on__lt=today)),
        "in_progress": Count("pk", filter=Q(status=AssignmentStatus.IN_PROGRESS)),
        "failed": Count("pk", filter=Q(status=AssignmentStatus.FAILED)),
        # The average as sum and count, so that rows can be added up into totals.
        "score_sum": Sum("score", filter=Q(status=AssignmentStatus.COMPLETED)),
        "scored": Count("score", filter=Q(status=AssignmentStatus.COMPLETED)),
    }


def _figures(row: dict, key: object, label: str) -> Figures:
    return Figures(key=key, label=label, assigned=row["assigned"], completed=row["completed"],
                   on_time=row["on_time_n"], overdue=row["overdue"], in_progress=row["in_progress"],
                   failed=row["failed"], average_score=row["score_sum"] / row["scored"] if row["scored"] else None,
                   scored=row["scored"], score_sum=row["score_sum"] or 0)


def totals(assignments: QuerySet[Assignment], today: date | None = None) -> Figures:
    today = today or timezone.localdate()
    row = counted(assignments).aggregate(**_measures(today))
    return _figures(row, None, "All")


def summed(rows: list[Figures]) -> Figures:
    """The totals of grouped rows (each assignment is in exactly one row)."""
    scored = sum(r.scored for r in rows)
    score_sum = sum(r.score_sum for r in rows)
    return Figures(key=None, label="All", assigned=sum(r.assigned for r in rows),
                   completed=sum(r.completed for r in rows), on_time=sum(r.on_time for r in rows),
                   overdue=sum(r.overdue for r in rows), in_progress=sum(r.in_progress for r in rows),
                   failed=sum(r.failed for r in rows), average_score=score_sum / scored if scored else None,
                   scored=scored, score_sum=score_sum)


def grouped(assignments: QuerySet[Assignment], by: str, today: date | None = None) -> list[Figures]:
    """One row of figures per programme, course, department or manager, most overdue first."""
    today = today or timezone.localdate()
    key, label = GROUPINGS[by]
    fields = [key] if key == label else [key, label]
    if by == "manager":
        fields.append("person__manager__first_name")
    rows = counted(assignments).order_by().values(*fields).annotate(**_measures(today))
    result = []
    for row in rows:
        if by == "manager":
            name = (f"{row['person__manager__first_name']} {row[label]}" if row[key] is not None
                    else "No manager")
        else:
            name = row[label] or ("No department" if by == "department" else "—")
        result.append(_figures(row, row[key], name))
    result.sort(key=_most_overdue)
    return _named(result, by)


def changed_stamp() -> str:
    """When anything progress counts last changed: every write to an assignment's status or
    "current" sets its changed_at, every directory change a person's updated_at. One MAX per
    query, so each is read from the end of its index."""
    assignment = Assignment.objects.aggregate(at=Max("changed_at"))["at"]
    person = Person.objects.aggregate(at=Max("updated_at"))["at"]
    return f"{assignment.timestamp() if assignment else 0}:{person.timestamp() if person else 0}"


def cached[T](queryset: QuerySet, what: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept under the SQL of ``queryset`` (which says whose and which assignments:
    the user's scope and the filters), ``what`` is computed from it, and the change stamp."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # it matches nothing (e.g. no such person): nothing to keep
        return compute()
    text = f"{sql}|{params!r}|{what}|{changed_stamp()}"
    key = "progress:" + hashlib.sha256(text.encode()).hexdigest()
    return cast(T, cache.get_or_set(key, compute, CACHE_SECONDS))


def figures(assignments: QuerySet[Assignment], by: str, today: date | None = None) -> tuple[list[Figures], Figures]:
    """``grouped`` rows and their total, from the cache while nothing has changed. Programme and
    course names are looked up afresh (a rename does not touch the assignments)."""
    today = today or timezone.localdate()

    def compute() -> tuple[list[Figures], Figures]:
        rows = grouped(assignments, by, today)
        return rows, summed(rows)

    rows, total = cached(counted(assignments), f"grouped:{by}:{today.isoformat()}", compute)
    return _named(rows, by), total


def _named(rows: list[Figures], by: str) -> list[Figures]:
    """Programme or course rows with their current names, most overdue first."""
    if by not in ("programme", "course"):
        return rows
    names: dict[object, str]
    if by == "programme":
        names = dict(Programme.objects.filter(pk__in=[r.key for r in rows]).values_list("pk", "name"))
    else:
        names = dict(Course.objects.filter(pk__in=[r.key for r in rows]).values_list("pk", "title"))
    return sorted((replace(r, label=names.get(r.key, "—")) for r in rows), key=_most_overdue)


def count(queryset: QuerySet, today: date) -> int:
    """The number of rows in a filtered list of assignments, from the cache while nothing changed."""
    return cached(queryset, f"count:{today.isoformat()}", queryset.count)


def _most_overdue(f: Figures) -> tuple:
    return (-f.overdue, -(f.assigned - f.completed), f.label)
