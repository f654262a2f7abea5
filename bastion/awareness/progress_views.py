"""Progress pages: figures by programme, course, department or manager; the people behind them;
one person's training record with everything that happened to it. Managers see their own
people only (access.progress_people); CSV exports follow the same filters."""

import csv
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from bastion.lib.http import parse_id, render_region
from bastion.lib.paging import DeferredJoin
from bastion.lib.spreadsheet import safe_cell

from . import access, followup, progress
from .models import OPEN_STATUSES, Assignment, AssignmentEvent, EventKind, Programme

PER_PAGE = 50
CHART_ROWS = 12

STATUS_FILTERS = {
    "overdue": "Overdue",
    "open": "Not completed",
    "completed": "Completed",
    "failed": "Failed",
    "non_compliant": "Non-compliant",
}


def _scope(request: HttpRequest):
    """The assignments the user may follow, narrowed by the programme chosen in the query."""
    assignments = access.assignments_visible_to(request.user)
    programmes = access.progress_programmes(request.user, assignments)
    chosen = request.GET.get("programme", "")
    if (programme_id := parse_id(chosen)) is not None:
        assignments = assignments.filter(programme_id=programme_id)
    return assignments, programmes, chosen


@login_required
def progress_overview(request: HttpRequest) -> HttpResponse:
    assignments, programmes, chosen = _scope(request)
    today = timezone.localdate()
    by = request.GET.get("by", "department")
    if by not in progress.GROUPINGS:
        by = "department"
    rows, total = progress.figures(assignments, by, today)
    if request.GET.get("format") == "csv":
        return _figures_csv(rows, by)
    # A row per manager is thousands of rows in a large organisation: the table is paged, the
    # chart shows the top few, the CSV has them all.
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    chart: list[dict[str, Any]] = [{"label": r.label, "completion": r.completion or 0.0, "y": 28 + i * 26,
              "width": round(3.2 * (r.completion or 0.0), 1)} for i, r in enumerate(rows[:CHART_ROWS])]
    for bar in chart:
        bar["y_text"] = bar["y"] + 14
        bar["x_value"] = 236 + bar["width"]
    return render_region(request, "awareness/progress_overview.html", "figures", {
        "total": total, "page_obj": page, "by": by,
        "groupings": [("programme", "Programme"), ("course", "Course"), ("department", "Department"),
                      ("manager", "Manager")],
        "programmes": programmes, "chosen": chosen, "chart": chart, "chart_height": 36 + len(chart) * 26,
        "team_only": not access.can_view_all_progress(request.user),
    })


def _figures_csv(rows: list[progress.Figures], by: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="training-progress-by-{by}.csv"'
    writer = csv.writer(response)
    writer.writerow([by, "assigned", "completed", "completion %", "on-time %", "overdue", "in progress",
                     "failed", "average score"])
    for r in rows:
        writer.writerow([safe_cell(r.label), r.assigned, r.completed, _pct(r.completion), _pct(r.on_time_rate), r.overdue,
                         r.in_progress, r.failed, _pct(r.average_score)])
    return response


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


class _ById(DeferredJoin):
    """The page's ids from the filters and ordering alone; then those rows, with their person and
    course, looked up by id and nothing else (the filters have done their work). The count is
    given (from the cache), not counted again."""

    def __init__(self, queryset, count: int | None) -> None:
        super().__init__(queryset)
        self.counted = count

    def count(self) -> int:
        return self.queryset.count() if self.counted is None else self.counted

    def __getitem__(self, index: slice) -> list:
        ids = list(self.queryset.values_list("pk", flat=True)[index])
        rows = Assignment.objects.select_related("person", "programme", "version").in_bulk(ids)
        return [rows[pk] for pk in ids if pk in rows]


@login_required
def progress_people(request: HttpRequest) -> HttpResponse:
    assignments, programmes, chosen = _scope(request)
    today = timezone.localdate()
    team_only = not access.can_view_all_progress(request.user)
    listed = progress.counted(assignments, team=team_only)
    status = request.GET.get("status", "")
    if status == "overdue":
        listed = listed.filter(status__in=OPEN_STATUSES, due_on__lt=today)
    elif status == "open":
        listed = listed.filter(status__in=OPEN_STATUSES)
    elif status in ("completed", "failed"):
        listed = listed.filter(status=status)
    elif status == "non_compliant":
        listed = listed.filter(status__in=OPEN_STATUSES, events__kind=EventKind.CONSEQUENCE,
                               events__waived_at__isnull=True)
    department = request.GET.get("department", "").strip()[:100]
    if department:
        listed = listed.filter(person__department=department)
    q = request.GET.get("q", "").strip()[:100]
    if q:
        listed = listed.filter(Q(person__last_name__istartswith=q) | Q(person__first_name__istartswith=q)
                               | Q(person__email__istartswith=q))
    # By due date, then the order they were assigned in: both in the (due_on, id) index, so a page
    # is found without sorting every current assignment by the person's name.
    listed = listed.select_related("person", "programme", "version").order_by("due_on", "pk")
    if request.GET.get("format") == "csv":
        return _people_csv(listed, today)
    # Non-compliance turns on follow-up events, which the change stamp does not cover: counted live.
    count = None if status == "non_compliant" else progress.count(listed, today)
    page = Paginator(_ById(listed, count), PER_PAGE).get_page(  # type: ignore[arg-type,var-annotated]
        request.GET.get("page"))
    return render_region(request, "awareness/progress_people.html", "people", {
        "page_obj": page, "programmes": programmes, "chosen": chosen, "status": status, "department": department,
        "q": q, "statuses": STATUS_FILTERS.items(), "today": today,
        "departments": access.progress_people(request.user).departments(),
        "team_only": team_only,
    })


def _people_csv(listed, today: date) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="training-assignments.csv"'
    writer = csv.writer(response)
    writer.writerow(["employee_id", "name", "email", "department", "programme", "course", "version", "status",
                     "due_on", "completed_at", "on_time", "score", "days_overdue"])
    for a in listed.iterator(chunk_size=2000):
        writer.writerow([safe_cell(a.person.employee_id), safe_cell(str(a.person)), safe_cell(a.person.email),
                         safe_cell(a.person.department), safe_cell(a.programme.name), safe_cell(a.version.title),
                         a.version.number, a.get_status_display(), a.due_on.isoformat(),
                         a.completed_at.isoformat() if a.completed_at else "",
                         "" if a.on_time is None else ("yes" if a.on_time else "no"),
                         "" if a.score is None else a.score, a.days_overdue(today)])
    return response


@login_required
def person_record(request: HttpRequest, person_pk: int) -> HttpResponse:
    """One person's training: every assignment and everything that happened to it."""
    person = get_object_or_404(access.progress_people(request.user), pk=person_pk)
    assignments = list(access.assignments_visible_to(request.user).filter(person=person)
                       .select_related("programme", "version").order_by("-assigned_at", "-pk"))
    events = list(AssignmentEvent.objects.filter(assignment__in=[a.pk for a in assignments])
                  .select_related("assignment__version", "waived_by").order_by("-at", "-pk"))
    return render(request, "awareness/person_record.html", {
        "person": person, "assignments": assignments, "events": events,
        "points": followup.points_by_person([person.pk]).get(person.pk, 0),
        "can_waive": access.can_manage_awareness(request.user), "today": timezone.localdate(),
    })


@login_required
@require_POST
def waive_consequence(request: HttpRequest, event_pk: int) -> HttpResponse:
    if not access.can_manage_awareness(request.user):
        raise PermissionDenied
    event = get_object_or_404(AssignmentEvent.objects.select_related("assignment"), pk=event_pk)
    try:
        followup.do_waive(acting_user=request.user, event=event, reason=request.POST.get("reason", ""),
                          request=request)
    except followup.WaiverError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Consequence waived; the reason is on record.")
    return redirect("awareness-person", person_pk=event.assignment.person_id)



@login_required
def awareness_home(request: HttpRequest) -> HttpResponse:
    """The security team's way in: programmes, courses, policies, images and progress."""
    access.require_viewer(request.user)
    from .models import Course, Policy

    return render(request, "awareness/home.html", {
        "total": progress.figures(access.assignments_visible_to(request.user), "programme")[1],
        "programmes": Programme.objects.filter(active=True).count(),
        "courses": Course.objects.filter(archived=False).count(),
        "policies": Policy.objects.count(),
        "can_manage": access.can_manage_awareness(request.user),
    })
