"""Register pages: the list, a system, its form, and the budget. Every object comes through access.py."""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, F, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from bastion.audit.history import object_history
from bastion.lib.http import is_htmx, render_region
from bastion.people.models import Person

from . import access, actions, review_history
from .forms import BudgetForm, SystemForm
from .models import DataClassification, Hosting, SecurityBudget

PER_PAGE = 50
STATUS_FILTERS = [("active", "In use"), ("retired", "Retired"), ("all", "All")]
REGULATED_FILTERS = [
    ("any", "Any regulated data"), ("none", "No regulated data"), ("personal_data", "Personal data"),
    ("health_data", "Health data"), ("card_data", "Card data"), ("financial_reporting", "Financial reporting"),
]
_REGULATED = ("personal_data", "health_data", "card_data", "financial_reporting")


def _choice(request: HttpRequest, name: str, allowed, default: str = "") -> str:
    value = request.GET.get(name, default)
    return value if value in allowed else default


def filter_systems(systems, *, q: str = "", status: str = "", classification: str = "",
                   hosting: str = "", owner: str = "", regulated: str = ""):
    """The register narrowed by the list's filters (shared by the page and the API)."""
    if q:
        systems = systems.filter(name__icontains=q)
    if status and status != "all":
        systems = systems.filter(status=status)
    if classification:
        systems = systems.filter(data_classification=classification)
    if hosting:
        systems = systems.filter(hosting=hosting)
    if owner:
        systems = systems.filter(owner__email__iexact=owner)
    if regulated == "any":
        systems = systems.filter(Q(personal_data=True) | Q(health_data=True) | Q(card_data=True)
                                 | Q(financial_reporting=True))
    elif regulated == "none":
        systems = systems.filter(**{name: False for name in _REGULATED})
    elif regulated in _REGULATED:
        systems = systems.filter(**{regulated: True})
    return systems


@login_required
def system_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    visible = access.systems_visible_to(user)
    filters = {
        "q": request.GET.get("q", "").strip()[:100],
        "status": _choice(request, "status", dict(STATUS_FILTERS), "active"),
        "classification": _choice(request, "classification", DataClassification.values),
        "hosting": _choice(request, "hosting", Hosting.values),
        "owner": request.GET.get("owner", "").strip()[:254],
        "regulated": _choice(request, "regulated", dict(REGULATED_FILTERS)),
    }
    systems = filter_systems(visible, **filters).select_related("owner").annotate(
        dependency_count=Count("dependencies")).order_by("name", "id")
    page = Paginator(systems, PER_PAGE).get_page(request.GET.get("page"))
    owners = [] if is_htmx(request) else (
        Person.objects.filter(pk__in=visible.exclude(owner=None).values("owner"))
        .order_by("last_name", "first_name").only("first_name", "last_name", "email"))
    return render_region(request, "systems/system_list.html", "results", {
        "page_obj": page,
        "filters": filters,
        "owners": owners,
        "status_filters": STATUS_FILTERS,
        "regulated_filters": REGULATED_FILTERS,
        "classifications": DataClassification.choices,
        "hostings": Hosting.choices,
        "can_edit": access.can_edit_systems(user), "can_see_reviews": access.can_view_reviews(user),
    })


@login_required
def system_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    system = access.get_system_for_view(user, pk)
    context = {
        "system": system,
        "processes": [line for line in system.business_processes.splitlines() if line.strip()],
        "depends_on": system.dependencies.order_by("name").only("name", "status"),
        "depended_on_by": system.dependents.order_by("name").only("name", "status"),
        "rto_over_mtd": (system.rto_hours is not None and system.mtd_hours is not None
                         and system.rto_hours > system.mtd_hours),
        "can_edit": access.can_edit_systems(user),
        "audit": object_history(user, system),
        "criticality": review_history.system_history(user, system),
    }
    return render(request, "systems/system_detail.html", context)


def _warn(request: HttpRequest, form: SystemForm) -> None:
    for warning in form.warnings:
        messages.warning(request, warning)


@login_required
def system_create(request: HttpRequest) -> HttpResponse:
    access.require_systems_editor(request.user)
    form = SystemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        system = actions.do_create_system(acting_user=request.user, request=request,
                                          dependencies=form.cleaned_data["dependencies"],
                                          **form.system_fields())
        messages.success(request, f"{system} added to the register.")
        _warn(request, form)
        return redirect(f"/systems/{system.pk}/")
    return render(request, "systems/system_form.html", {"form": form, "system": None},
                  status=400 if form.errors else 200)


@login_required
def system_edit(request: HttpRequest, pk: int) -> HttpResponse:
    system = access.get_system_for_edit(request.user, pk)
    form = SystemForm(request.POST or None, system=system)
    if request.method == "POST" and form.is_valid():
        actions.do_update_system(acting_user=request.user, system=system, request=request,
                                 dependencies=form.cleaned_data["dependencies"], **form.system_fields())
        messages.success(request, "Saved.")
        _warn(request, form)
        return redirect(f"/systems/{system.pk}/")
    return render(request, "systems/system_form.html", {"form": form, "system": system},
                  status=400 if form.errors else 200)


@login_required
def budget(request: HttpRequest) -> HttpResponse:
    """The year's security budget against the spend on each system in use, largest spend first."""
    user = request.user
    visible = access.systems_visible_to(user)
    can_edit = access.can_edit_systems(user)
    year = timezone.localdate().year
    current = SecurityBudget.objects.filter(year=year).first()
    active = visible.active()
    # Largest spend first; systems without a figure last on every database.
    systems = active.select_related("owner").order_by(F("security_spend").desc(nulls_last=True), "name", "id")
    page = Paginator(systems, PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page)
    initial = {"total": current.total, "currency": current.currency} if current else {"currency": "EUR"}
    form = BudgetForm(request.POST or None, systems=rows if can_edit else (), initial=initial)
    if request.method == "POST":
        access.require_systems_editor(user)
        if form.is_valid():
            actions.do_set_budget(acting_user=user, year=year, total=form.cleaned_data["total"],
                                  currency=form.cleaned_data["currency"], spends=form.spends(),
                                  request=request)
            messages.success(request, "Budget saved.")
            return redirect(request.get_full_path())
    spent = active.aggregate(total=Sum("security_spend"))["total"] or Decimal(0)
    total = current.total if current else None
    return render(request, "systems/budget.html", {
        "year": year, "budget": current, "spent": spent,
        "spent_share": (spent / total * 100) if total else None,
        "page_obj": page, "form": form, "can_edit": can_edit,
        "rows": [{"system": s, "field": form[f"spend_{s.pk}"] if can_edit else None,
                  "share": (s.security_spend / spent * 100) if spent and s.security_spend is not None else None}
                 for s in rows],
    }, status=400 if form.errors else 200)
