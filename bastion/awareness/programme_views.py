"""Programme pages: the list with live counts, a programme's rules and history, create and edit.
Every object comes through access.py; writes go through programme_actions.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from . import access, programme_actions
from .engine import audience_people, latest_version, programme_problem, triggers_in_words
from .models import OPEN_STATUSES, Assignment, AssignmentReason, AssignmentStatus
from .programme_forms import ProgrammeForm

PER_PAGE = 50
CHANGES_SHOWN = 200


def _count(assignments) -> Coalesce:
    """A correlated COUNT per programme, answered from the (programme, current, status) index."""
    counted = assignments.filter(programme=OuterRef("pk")).order_by().values("programme").annotate(
        n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def with_counts(programmes, today=None):
    """Programmes with the counts of their current assignments: open, completed and overdue."""
    today = today or timezone.localdate()
    current = Assignment.objects.filter(current=True)
    return programmes.annotate(
        open_count=_count(current.filter(status__in=OPEN_STATUSES)),
        completed_count=_count(current.filter(status=AssignmentStatus.COMPLETED)),
        overdue_count=_count(current.filter(status__in=OPEN_STATUSES, due_on__lt=today)),
    )


@login_required
def programme_list(request: HttpRequest) -> HttpResponse:
    programmes = with_counts(access.programmes_visible_to(request.user)).select_related("course", "audience")
    page = Paginator(programmes.order_by("name", "id"), PER_PAGE).get_page(request.GET.get("page"))
    for programme in page:
        programme.triggers = triggers_in_words(programme)  # type: ignore[attr-defined]
    return render(request, "awareness/programme_list.html", {
        "page_obj": page, "can_manage": access.can_manage_awareness(request.user)})


def _change_rows(programme):
    labels = {name: field.label for name, field in ProgrammeForm.base_fields.items()}
    rows = []
    for change in programme.changes.select_related("changed_by")[:CHANGES_SHOWN]:
        rows.append({"change": change, "label": labels.get(change.field, change.field),
                     "before": _shown(change.before), "after": _shown(change.after)})
    return rows


def _shown(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dict):
        return str(value.get("name", value))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


@login_required
def programme_detail(request: HttpRequest, pk: int) -> HttpResponse:
    programme = access.get_programme_for_view(request.user, pk)
    today = timezone.localdate()
    version = latest_version(programme)
    audience = audience_people(programme).count()
    counts = with_counts(type(programme).objects.filter(pk=programme.pk), today).values(
        "open_count", "completed_count", "overdue_count").get()
    reasons = dict(AssignmentReason.choices)
    last_assigned = programme.assignments.aggregate(at=Max("assigned_at"))["at"]
    return render(request, "awareness/programme_detail.html", {
        "programme": programme, "version": version, "audience": audience, "counts": counts,
        "problem": programme_problem(programme, version, audience, today),
        "triggers": triggers_in_words(programme), "last_assigned": last_assigned,
        "changes": _change_rows(programme), "can_manage": access.can_manage_awareness(request.user),
        "reminders": reminders_in_words(programme.reminder_days),
        "by_reason": [{**row, "label": reasons.get(row["reason"], row["reason"])} for row in
                      programme.assignments.filter(current=True).order_by("reason").values("reason").annotate(
                          n=Count("*"), open=Count("pk", filter=Q(status__in=OPEN_STATUSES)))],
    })


def reminders_in_words(days: list[int]) -> str:
    def word(d: int) -> str:
        if d == 0:
            return "on the due date"
        n = abs(d)
        return f"{n} day{'s' if n != 1 else ''} {'before' if d < 0 else 'after'}"
    return ", ".join(word(d) for d in days).capitalize() if days else "None"


@login_required
def programme_create(request: HttpRequest) -> HttpResponse:
    access.require_manager(request.user)
    form = ProgrammeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        programme = programme_actions.do_create_programme(acting_user=request.user, request=request,
                                                          fields=form.fields_to_save())
        messages.success(request, f"Programme “{programme.name}” created. The hourly assignment run applies it.")
        return redirect("programme-detail", pk=programme.pk)
    return render(request, "awareness/programme_form.html", {"form": form, "programme": None},
                  status=400 if form.errors else 200)


@login_required
def programme_edit(request: HttpRequest, pk: int) -> HttpResponse:
    programme = access.get_programme_for_edit(request.user, pk)
    form = ProgrammeForm(request.POST or None, programme=programme)
    if request.method == "POST" and form.is_valid():
        changes = programme_actions.do_update_programme(
            acting_user=request.user, request=request, programme=programme, fields=form.fields_to_save(),
            reason=form.cleaned_data.get("reason", ""))
        messages.success(request, f"Saved; {len(changes)} rule change{'s' if len(changes) != 1 else ''} recorded."
                         if changes else "Saved.")
        return redirect("programme-detail", pk=programme.pk)
    return render(request, "awareness/programme_form.html", {"form": form, "programme": programme},
                  status=400 if form.errors else 200)
