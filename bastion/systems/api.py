"""The register over JSON: the same access helpers and the same form as the pages.

Bodies are checked twice over: the schemas refuse unknown fields and wrong types, then
SystemForm applies the register's rules, so a page and a script get the same answer.
"""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from django.db.models import Count
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from bastion.lib.http import form_refusal

from . import access, actions, review_history
from .forms import MAX_DEPENDENCIES, SystemForm
from .models import BusinessSystem
from .views import filter_systems

router = Router()


class SystemRef(Schema):
    id: int
    name: str


class SystemOut(Schema):
    id: int
    name: str
    description: str
    owner: str | None = Field(None, description="The owner's email address")
    business_processes: list[str]
    data_classification: str
    personal_data: bool
    health_data: bool
    card_data: bool
    financial_reporting: bool
    users_count: int | None
    hosting: str
    hosting_detail: str
    rto_hours: Decimal | None
    rpo_hours: Decimal | None
    mtd_hours: Decimal | None
    security_spend: Decimal | None
    status: str
    dependency_count: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_owner(obj: BusinessSystem) -> str | None:
        return obj.owner.email if obj.owner_id and obj.owner else None

    @staticmethod
    def resolve_business_processes(obj: BusinessSystem) -> list[str]:
        return [line.strip() for line in obj.business_processes.splitlines() if line.strip()]


class SystemDetail(SystemOut):
    dependencies: list[SystemRef] = Field(description="Systems this one depends on")
    dependents: list[SystemRef] = Field(description="Systems that depend on this one")

    @staticmethod
    def resolve_dependencies(obj) -> list[dict]:
        return [{"id": s.pk, "name": s.name} for s in obj.dependencies_list]

    @staticmethod
    def resolve_dependents(obj) -> list[dict]:
        return [{"id": s.pk, "name": s.name} for s in obj.dependents_list]


class SystemPage(Schema):
    items: list[SystemOut]
    count: int


class SystemFilters(Schema):
    q: str | None = Field(None, max_length=100, description="Part of the name")
    status: Literal["active", "retired"] | None = Field(None, description="Both when left out")
    classification: Literal["public", "internal", "confidential", "restricted"] | None = None
    owner: str | None = Field(None, max_length=254, description="The owner's email address")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


_HOURS = Field(None, ge=0, description="Hours, 0 or more")


class SystemCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    owner: str | None = Field(None, description="The owner's email address (a person in the directory)")
    business_processes: list[str] = Field(default_factory=list, max_length=200)
    data_classification: str = Field("internal", description="public, internal, confidential or restricted")
    personal_data: bool = False
    health_data: bool = False
    card_data: bool = False
    financial_reporting: bool = False
    users_count: int | None = None
    hosting: str = Field("saas", description="on_premises, private_cloud, public_cloud, saas or hybrid")
    hosting_detail: str = ""
    depends_on: list[str] = Field(default_factory=list, max_length=MAX_DEPENDENCIES,
                                  description="Names of the systems this one depends on")
    rto_hours: Decimal | None = None
    rpo_hours: Decimal | None = None
    mtd_hours: Decimal | None = None
    security_spend: Decimal | None = None
    status: str = Field("active", description="active or retired")


class SystemPatch(Schema):
    """Only the fields sent are changed; null clears an optional field. depends_on replaces the list."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    owner: str | None = None
    business_processes: list[str] | None = Field(None, max_length=200)
    data_classification: str | None = None
    personal_data: bool | None = None
    health_data: bool | None = None
    card_data: bool | None = None
    financial_reporting: bool | None = None
    users_count: int | None = None
    hosting: str | None = None
    hosting_detail: str | None = None
    depends_on: list[str] | None = Field(None, max_length=MAX_DEPENDENCIES)
    rto_hours: Decimal | None = None
    rpo_hours: Decimal | None = None
    mtd_hours: Decimal | None = None
    security_spend: Decimal | None = None
    status: str | None = None


# API names that differ from the form's.
_FORM_NAME = {"owner": "owner_email"}
_API_NAME = {v: k for k, v in _FORM_NAME.items()}


def _form_data(values: dict) -> dict:
    """An API body as SystemForm data."""
    data = {}
    for name, value in values.items():
        if name in ("business_processes", "depends_on"):
            value = "\n".join(value or [])
        elif value is None:
            value = ""
        data[_FORM_NAME.get(name, name)] = value
    # An unchecked box is absent from a form; here it is false.
    return {k: v for k, v in data.items() if v is not False}


def _detail(system: BusinessSystem) -> BusinessSystem:
    system.dependencies_list = list(system.dependencies.order_by("name").only("pk", "name"))  # type: ignore[attr-defined]
    system.dependents_list = list(system.dependents.order_by("name").only("pk", "name"))  # type: ignore[attr-defined]
    system.dependency_count = len(system.dependencies_list)  # type: ignore[attr-defined]
    return system


@router.get("", response=SystemPage, summary="List business systems")
def list_systems(request: HttpRequest, filters: Query[SystemFilters]):
    """The register, ordered by name."""
    systems = filter_systems(access.systems_visible_to(request.user), q=filters.q or "",
                             status=filters.status or "", classification=filters.classification or "",
                             owner=filters.owner or "")
    page = systems.select_related("owner").annotate(dependency_count=Count("dependencies")).order_by("name", "id")
    return {"items": list(page[filters.offset:filters.offset + filters.limit]), "count": systems.count()}


@router.get("/{int:system_id}", response=SystemDetail, summary="One system, with its dependencies and dependents")
def get_system(request: HttpRequest, system_id: int):
    return _detail(access.get_system_for_view(request.user, system_id))


@router.post("", response={201: SystemDetail}, summary="Add a system")
def create_system(request: HttpRequest, payload: SystemCreate):
    access.require_systems_editor(request.user)
    form = SystemForm(_form_data(payload.model_dump()))
    if not form.is_valid():
        raise form_refusal(form, _API_NAME)
    system = actions.do_create_system(acting_user=request.user, request=request,
                                      dependencies=form.cleaned_data["dependencies"], **form.system_fields())
    return Status(201, _detail(system))


@router.patch("/{int:system_id}", response=SystemDetail, summary="Change a system")
def update_system(request: HttpRequest, system_id: int, payload: SystemPatch):
    system = access.get_system_for_edit(request.user, system_id)
    current = SystemForm.initial_for(system)
    sent = {_FORM_NAME.get(k, k): v for k, v in _form_data(payload.model_dump(exclude_unset=True)).items()}
    unset_flags = {k for k, v in payload.model_dump(exclude_unset=True).items() if v is False}
    data = {k: v for k, v in current.items() if v is not None and v is not False and k not in unset_flags}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.update(sent)
    form = SystemForm(data, system=system)
    if not form.is_valid():
        raise form_refusal(form, _API_NAME)
    actions.do_update_system(acting_user=request.user, system=system, request=request,
                             dependencies=form.cleaned_data["dependencies"], **form.system_fields())
    return _detail(system)


class HistoryPoint(Schema):
    review_id: int
    title: str = Field(description="The review's title")
    closed_at: datetime
    rank: int | None = Field(description="1 = the most critical; null when nobody rated the system")
    ranked_count: int = Field(description="How many systems the review ranked")
    score: float | None
    tier: int | None
    effective_tier: int | None = Field(description="The tier after dependency propagation")
    raised_reason: str = Field(description="Why the effective tier is above the tier, if it is")


class SystemHistory(Schema):
    system: SystemRef
    items: list[HistoryPoint] = Field(description="One point per closed review that included the system, oldest first")


@router.get("/{int:system_id}/history", response=SystemHistory,
            summary="How a system's rank and tier moved across the closed criticality reviews")
def system_history(request: HttpRequest, system_id: int):
    system = access.get_system_for_view(request.user, system_id)
    points = review_history.system_points(request.user, system)
    return {"system": {"id": system.pk, "name": system.name}, "items": [
        {"review_id": p["review"].pk, "title": p["review"].title, "closed_at": p["review"].closed_at,
         "rank": p["result"].rank, "ranked_count": p["ranked_count"], "score": p["result"].score,
         "tier": p["result"].tier, "effective_tier": p["result"].effective_tier,
         "raised_reason": p["result"].raised_reason} for p in points]}
