"""Training progress, live: completion, on-time rate, overdue and average score, grouped by
programme, course, department or manager, over each person's current assignment of each
programme (people still here; cancelled ones left out). One grouped query per view: the
totals are the sum of its rows (``summed``), not a second pass over the assignments.

- **completion**: completed ÷ assigned;
- **on-time rate**: completed by the end of the due day ÷ completed;
- **overdue**: open past the due date;
- **average score**: of the completed ones (their best try).
"""

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from bastion.people.models import Person, PersonStatus

from .models import OPEN_STATUSES, Assignment, AssignmentStatus

GROUPINGS = {
    "programme": ("programme_id", "programme__name"),
    "course": ("version__course_id", "version__course__title"),
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


def counted(assignments: QuerySet[Assignment]) -> QuerySet[Assignment]:
    """The assignments progress counts: current, of people still here, not cancelled."""
    # "Not one of the few people who are not active" rather than a join on the person's status:
    # the same rows, but counting and paging need not visit 100,000 people to find them.
    return (assignments.filter(current=True)
            .exclude(person_id__in=Person.objects.exclude(status=PersonStatus.ACTIVE).values("pk"))
            .exclude(status=AssignmentStatus.CANCELLED))


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
    result.sort(key=lambda f: (-f.overdue, -(f.assigned - f.completed), f.label))
    return result
