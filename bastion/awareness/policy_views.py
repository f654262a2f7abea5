"""Policies: the list with acknowledgement counts, a new policy, a policy's current text,
history and who has (not) acknowledged its current version, a CSV of that, and a new version.
Every object comes through access.py; counts and filters are computed in the database."""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, DateTimeField, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from bastion.lib.markdown import render_markdown
from bastion.lib.spreadsheet import safe_cell
from bastion.people.models import Person

from . import access, policy_actions
from .course_forms import PolicyForm, PolicyVersionForm
from .models import Acknowledgement, PolicyVersion

PER_PAGE = 50
ACK_FILTERS = [("", "Everyone"), ("yes", "Acknowledged"), ("no", "Not yet")]


def with_acknowledgement_counts(policies):
    """Policies with their current version's id and number, and how many active people have
    acknowledged that version."""
    current = PolicyVersion.objects.filter(policy_id=OuterRef("pk")).order_by("-number")
    acknowledged = (Acknowledgement.objects.filter(version_id=OuterRef("current_version_id"),
                                                   person__status="active")
                    .order_by().values("version_id").annotate(n=Count("*")).values("n"))
    return policies.annotate(
        current_version_id=Subquery(current.values("pk")[:1]),
        current_number=Subquery(current.values("number")[:1]),
        current_published_at=Subquery(current.values("published_at")[:1], output_field=DateTimeField()),
        acknowledged=Coalesce(Subquery(acknowledged, output_field=IntegerField()), 0),
    )


def acknowledgement_status(version: PolicyVersion | None, *, department: str = "", acknowledged: str = ""):
    """Active people with when they acknowledged ``version`` (None: not yet), filtered."""
    people = Person.objects.active()
    if department:
        people = people.filter(department=department)
    acknowledged_at = Acknowledgement.objects.filter(person_id=OuterRef("pk"), version=version)
    people = people.annotate(acknowledged_at=Subquery(acknowledged_at.values("acknowledged_at")[:1]))
    if acknowledged == "yes":
        people = people.filter(acknowledged_at__isnull=False)
    elif acknowledged == "no":
        people = people.filter(acknowledged_at__isnull=True)
    return people.only("first_name", "last_name", "email", "department", "title").order_by(
        "last_name", "first_name", "id")


def _filters(request: HttpRequest) -> dict:
    acknowledged = request.GET.get("acknowledged", "")
    return {"department": request.GET.get("department", "").strip()[:100],
            "acknowledged": acknowledged if acknowledged in dict(ACK_FILTERS) else ""}


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    policies = with_acknowledgement_counts(access.policies_visible_to(user)).order_by("title", "id")
    page = Paginator(policies, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "awareness/policy_list.html", {
        "page_obj": page, "active_people": Person.objects.active().count(),
        "can_edit": access.can_manage_awareness(user),
    })


@login_required
def policy_create(request: HttpRequest) -> HttpResponse:
    access.require_manager(request.user)
    form = PolicyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        policy = policy_actions.do_create_policy(acting_user=request.user, request=request, **form.cleaned_data)
        messages.success(request, f"{policy.title} published as version 1: everyone is asked to acknowledge it.")
        return redirect(f"/awareness/policies/{policy.pk}/")
    return render(request, "awareness/policy_form.html", {"form": form, "policy": None},
                  status=400 if form.errors else 200)


@login_required
def policy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    policy = access.get_policy_for_view(user, pk)
    versions = list(policy.versions.select_related("published_by").annotate(
        acknowledged=Count("acknowledgements")).order_by("-number"))
    current = versions[0] if versions else None
    filters = _filters(request)
    people = acknowledgement_status(current, **filters)
    page = Paginator(people, PER_PAGE).get_page(request.GET.get("page"))
    active = Person.objects.active()
    acknowledged = Acknowledgement.objects.filter(version=current, person__status="active").count() if current else 0
    return render(request, "awareness/policy_detail.html", {
        "policy": policy, "current": current, "versions": versions,
        "body": render_markdown(current.body) if current else "",
        "page_obj": page, "filters": filters, "ack_filters": ACK_FILTERS,
        "departments": active.departments(), "active_people": active.count(), "acknowledged": acknowledged,
        "can_edit": access.can_manage_awareness(user),
    })


@login_required
def policy_acknowledgements_csv(request: HttpRequest, pk: int) -> HttpResponse:
    policy = access.get_policy_for_view(request.user, pk)
    current = policy.current_version()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="policy-{policy.slug}-acknowledgements.csv"'
    writer = csv.writer(response)
    writer.writerow(["employee_id", "email", "first_name", "last_name", "department", "title", "policy",
                     "version", "acknowledged", "acknowledged_at"])
    people = acknowledgement_status(current, **_filters(request)).only(
        "employee_id", "first_name", "last_name", "email", "department", "title")
    for person in people.iterator(chunk_size=2000):
        at = person.acknowledged_at  # type: ignore[attr-defined]
        writer.writerow([safe_cell(v) for v in (
            person.employee_id, person.email, person.first_name, person.last_name, person.department,
            person.title, policy.slug, current.number if current else "", "yes" if at else "no",
            at.isoformat() if at else "")])
    return response


@login_required
def policy_new_version(request: HttpRequest, pk: int) -> HttpResponse:
    policy = access.get_policy_for_edit(request.user, pk)
    current = policy.current_version()
    form = PolicyVersionForm(request.POST or None, initial={"body": current.body if current else ""})
    if request.method == "POST" and form.is_valid():
        version = policy_actions.do_publish_policy_version(acting_user=request.user, policy=policy,
                                                           request=request, **form.cleaned_data)
        messages.success(request, f"Version {version.number} published: everyone is asked to acknowledge "
                                  "it again.")
        return redirect(f"/awareness/policies/{policy.pk}/")
    return render(request, "awareness/policy_form.html", {"form": form, "policy": policy, "current": current},
                  status=400 if form.errors else 200)
