"""Directory pages: people and groups. Every object comes through access.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from bastion.audit.history import object_history
from bastion.lib.http import is_htmx, render_region
from bastion.lib.paging import DeferredJoin

from . import access, actions
from .forms import GroupForm, PersonForm
from .models import PersonStatus, count_members

PER_PAGE = 50
# Direct reports listed on a person's page; the rest are one click away in the filtered list.
REPORTS_SHOWN = 50
STATUS_FILTERS = [("active", "Active"), ("leaver", "Leavers"), ("all", "Everyone")]


# People ---------------------------------------------------------------------------------------


@login_required
def person_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not access.can_list_people(user):
        raise PermissionDenied
    visible = access.people_visible_to(user)
    filters = {
        "q": request.GET.get("q", "").strip()[:100],
        "department": request.GET.get("department", "").strip()[:100],
        "country": request.GET.get("country", "").strip().upper()[:2],
        "manager": request.GET.get("manager", "").strip()[:64],
        "status": request.GET.get("status", "active"),
    }
    if filters["status"] not in dict(STATUS_FILTERS):
        filters["status"] = "active"

    people = visible.select_related("manager")
    if filters["q"]:
        people = people.search(filters["q"])
    if filters["department"]:
        people = people.filter(department=filters["department"])
    if filters["country"]:
        people = people.filter(country=filters["country"])
    if filters["manager"]:
        people = people.filter(manager__employee_id=filters["manager"])
    if filters["status"] != "all":
        people = people.filter(status=filters["status"])
    listing = DeferredJoin(people.order_by("last_name", "first_name", "id"))
    page = Paginator(listing, PER_PAGE).get_page(  # type: ignore[arg-type,var-annotated]
        request.GET.get("page"))
    return render_region(request, "people/person_list.html", "results", {
        "page_obj": page,
        "filters": filters,
        # An htmx request replaces only the results, so it needs no filter choices.
        "departments": [] if is_htmx(request) else visible.departments(),
        "status_filters": STATUS_FILTERS,
        "can_edit": access.can_edit_people(user),
        "can_import": access.can_import_people(user),
    })


@login_required
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from bastion.awareness.access import can_view_training_of

    user = request.user
    person = access.get_person_for_view(user, pk)
    visible = access.people_visible_to(user)
    reports = visible.filter(manager=person).order_by("last_name", "first_name", "id")
    manager_visible = person.manager_id is not None and visible.filter(pk=person.manager_id).exists()
    context = {
        "person": person,
        "manager_visible": manager_visible,
        "reports": reports[:REPORTS_SHOWN],
        "report_count": reports.count(),
        "can_list": access.can_list_people(user),
        "can_edit": access.can_edit_people(user),
        "groups": None,
        "audit": object_history(user, person),
        "training_visible": can_view_training_of(user, person),
    }
    if access.can_view_groups(user):
        context["groups"] = access.groups_visible_to(user).containing(person)
    return render(request, "people/person_detail.html", context)


@login_required
def person_create(request: HttpRequest) -> HttpResponse:
    access.require_people_editor(request.user)
    form = PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        person = actions.do_create_person(acting_user=request.user, request=request,
                                          **form.directory_fields())
        messages.success(request, f"{person} added to the directory.")
        return redirect(f"/people/{person.pk}/")
    return render(request, "people/person_form.html", {"form": form, "person": None},
                  status=400 if form.errors else 200)


@login_required
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = access.get_person_for_edit(request.user, pk)
    form = PersonForm(request.POST or None, person=person)
    if request.method == "POST" and form.is_valid():
        was_active = person.status == PersonStatus.ACTIVE
        actions.do_update_person(acting_user=request.user, person=person, request=request,
                                 **form.directory_fields())
        if was_active and person.status == PersonStatus.LEAVER:
            messages.success(request, f"Saved. {person} is now a leaver.")
        else:
            messages.success(request, "Saved.")
        return redirect(f"/people/{person.pk}/")
    return render(request, "people/person_form.html", {"form": form, "person": person},
                  status=400 if form.errors else 200)


# Groups ---------------------------------------------------------------------------------------


@login_required
def group_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    q = request.GET.get("q", "").strip()[:100]
    groups = access.groups_visible_to(user)
    if q:
        groups = groups.filter(name__icontains=q)
    page = Paginator(groups.order_by("name", "id"), PER_PAGE).get_page(request.GET.get("page"))
    counts = count_members(list(page))
    return render(request, "people/group_list.html", {
        "page_obj": page, "rows": [(group, counts[group.pk]) for group in page], "q": q,
        "can_edit": access.can_edit_groups(user),
    })


@login_required
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    group = access.get_group_for_view(request.user, pk)
    members = group.people().order_by("last_name", "first_name", "id")
    page = Paginator(members, PER_PAGE).get_page(request.GET.get("page"))
    return render_region(request, "people/group_detail.html", "members", {
        "group": group, "page_obj": page, "can_edit": access.can_edit_groups(request.user),
    })


@login_required
def group_create(request: HttpRequest) -> HttpResponse:
    access.require_group_editor(request.user)
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        group = actions.do_create_group(
            acting_user=request.user, name=data["name"], description=data["description"],
            kind=data["kind"], rules=data["rules"], members=data["add"], request=request,
        )
        messages.success(request, f"Group {group.name} created.")
        return redirect(f"/people/groups/{group.pk}/")
    return render(request, "people/group_form.html", {"form": form, "group": None},
                  status=400 if form.errors else 200)


@login_required
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    group = access.get_group_for_edit(request.user, pk)
    form = GroupForm(request.POST or None, group=group)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actions.do_update_group(
            acting_user=request.user, group=group, name=data["name"],
            description=data["description"], kind=data["kind"], rules=data["rules"],
            add_members=data["add"], remove_members=data["remove"], request=request,
        )
        messages.success(request, "Saved.")
        return redirect(f"/people/groups/{group.pk}/")
    return render(request, "people/group_form.html", {"form": form, "group": group},
                  status=400 if form.errors else 200)
