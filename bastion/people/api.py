"""People and groups over JSON: the same access helpers and the same forms as the pages.

Bodies are checked twice over: the schemas refuse unknown fields and wrong types, then
PersonForm / GroupForm apply the directory's rules, so a page and a script get the same answer.
"""

import re
from datetime import UTC, date, datetime
from typing import Literal

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from pydantic import ConfigDict

from bastion.lib.paging import DeferredJoin

from . import access, actions
from .forms import MAX_IDS_PER_CHANGE, MAX_RULES, GroupForm, PersonForm
from .models import Group, Person

people_router = Router()
groups_router = Router()



class PersonOut(Schema):
    id: int
    employee_id: str
    email: str
    first_name: str
    last_name: str
    department: str
    title: str
    manager: str | None = Field(None, description="The manager's employee id")
    country: str
    language: str
    hire_date: date | None
    leave_date: date | None
    status: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_manager(obj: Person) -> str | None:
        return obj.manager.employee_id if obj.manager_id and obj.manager else None


class PersonPage(Schema):
    items: list[PersonOut]
    count: int


class PersonCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    employee_id: str
    email: str
    first_name: str
    last_name: str
    department: str = ""
    title: str = ""
    manager: str | None = Field(None, description="The manager's employee id")
    country: str = Field("", description="Two-letter ISO 3166 code")
    language: str = ""
    hire_date: str | None = Field(None, description="YYYY-MM-DD", json_schema_extra={"format": "date"})
    leave_date: str | None = Field(None, description="YYYY-MM-DD", json_schema_extra={"format": "date"})
    status: str = Field("active", description="active or leaver")


class PersonPatch(Schema):
    """Only the fields sent are changed; null clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    employee_id: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    department: str | None = None
    title: str | None = None
    manager: str | None = Field(None, description="The manager's employee id")
    country: str | None = None
    language: str | None = None
    hire_date: str | None = Field(None, description="YYYY-MM-DD", json_schema_extra={"format": "date"})
    leave_date: str | None = Field(None, description="YYYY-MM-DD", json_schema_extra={"format": "date"})
    status: str | None = None


class PeopleFilters(Schema):
    q: str | None = Field(None, max_length=100, description="Words in the name or email, or an employee id")
    department: str | None = Field(None, max_length=100)
    country: str | None = Field(None, max_length=2)
    status: Literal["active", "leaver"] | None = Field(None, description="Both when left out")
    manager: str | None = Field(None, max_length=64, description="Direct reports of this employee id")
    updated_since: datetime | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


class Rule(Schema):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="department, country, title, manager, hire_date or status")
    op: str = Field(description="is, is_not, in, contains, after, before or reports_to")
    value: str


class GroupOut(Schema):
    id: int
    name: str
    description: str
    kind: str
    rules: list[Rule]
    rules_in_words: str
    created_at: datetime

    @staticmethod
    def resolve_rules_in_words(obj: Group) -> str:
        return obj.rules_in_words() if obj.is_rule_based else ""


class GroupDetail(GroupOut):
    member_count: int


class GroupPage(Schema):
    items: list[GroupOut]
    count: int


class GroupCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    kind: str = Field("static", description="static or rule")
    rules: list[Rule] = Field(default_factory=list, max_length=MAX_RULES,
                              description="Rule-based groups: all conditions must hold")
    members: list[str] = Field(default_factory=list, max_length=MAX_IDS_PER_CHANGE,
                               description="Static groups: employee ids")


class GroupPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    kind: str | None = None
    rules: list[Rule] | None = Field(None, max_length=MAX_RULES, description="Replaces all conditions")
    add_members: list[str] = Field(default_factory=list, max_length=MAX_IDS_PER_CHANGE)
    remove_members: list[str] = Field(default_factory=list, max_length=MAX_IDS_PER_CHANGE)


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


def _page(queryset: QuerySet | DeferredJoin, limit: int, offset: int) -> dict:
    return {"items": list(queryset[offset:offset + limit]), "count": queryset.count()}


def _refuse(form: forms.Form, rename: dict[str, str] | None = None) -> ValidationError:
    """The form's errors in the shape ninja uses for a body that does not validate (422)."""
    rename = rename or {}
    errors: list[dict] = []
    for name, messages in form.errors.items():
        if name == "__all__":
            loc: list = ["body", "payload"]
        elif match := re.fullmatch(r"rule_(\d+)_(field|op|value)", name):
            loc = ["body", "payload", "rules", int(match[1]), match[2]]
        else:
            loc = ["body", "payload", rename.get(name, name)]
        errors.extend({"type": "value_error", "loc": loc, "msg": msg} for msg in messages)
    return ValidationError(errors)


def _person_form_data(values: dict) -> dict:
    return {name: "" if value is None else value for name, value in values.items()}


# People ---------------------------------------------------------------------------------------


@people_router.get("", response=PersonPage, summary="List people")
def list_people(request: HttpRequest, filters: Query[PeopleFilters]):
    """People you may see, ordered by name. Managers see their own reporting line."""
    if not access.can_list_people(request.user):
        raise PermissionDenied
    people = access.people_visible_to(request.user).select_related("manager")
    if filters.q:
        people = people.search(filters.q)
    if filters.department:
        people = people.filter(department=filters.department)
    if filters.country:
        people = people.filter(country=filters.country.upper())
    if filters.status:
        people = people.filter(status=filters.status)
    if filters.manager:
        people = people.filter(manager__employee_id=filters.manager)
    if filters.updated_since:
        since = filters.updated_since
        if timezone.is_naive(since):
            since = since.replace(tzinfo=UTC)
        try:
            since = since.astimezone(UTC)
        except OverflowError:
            raise HttpError(422, "updated_since is outside the range of dates Bastion can store.") from None
        people = people.filter(updated_at__gte=since)
    return _page(DeferredJoin(people.order_by("last_name", "first_name", "id")), filters.limit, filters.offset)


@people_router.get("/{int:person_id}", response=PersonOut, summary="One person")
def get_person(request: HttpRequest, person_id: int):
    return access.get_person_for_view(request.user, person_id)


@people_router.post("", response={201: PersonOut}, summary="Add a person")
def create_person(request: HttpRequest, payload: PersonCreate):
    access.require_people_editor(request.user)
    form = PersonForm(_person_form_data(payload.model_dump()))
    if not form.is_valid():
        raise _refuse(form)
    person = actions.do_create_person(acting_user=request.user, request=request,
                                      **form.directory_fields())
    return Status(201, person)


@people_router.patch("/{int:person_id}", response=PersonOut, summary="Change a person")
def update_person(request: HttpRequest, person_id: int, payload: PersonPatch):
    person = access.get_person_for_edit(request.user, person_id)
    values = {**person.snapshot(), **payload.model_dump(exclude_unset=True)}
    form = PersonForm(_person_form_data(values), person=person)
    if not form.is_valid():
        raise _refuse(form)
    return actions.do_update_person(acting_user=request.user, person=person, request=request,
                                    **form.directory_fields())


# Groups ---------------------------------------------------------------------------------------


def _group_form_data(values: dict, group: Group | None = None) -> dict:
    """The API body as GroupForm data: the group's current values, overlaid with what was sent."""
    data = GroupForm.initial_for(group) if group is not None else {}
    for name in ("name", "description", "kind"):
        if values.get(name) is not None:
            data[name] = values[name]
    if values.get("rules") is not None:
        data = {k: v for k, v in data.items() if not k.startswith("rule_")}
        for i, rule in enumerate(values["rules"]):
            data.update({f"rule_{i}_{part}": rule[part] for part in ("field", "op", "value")})
    data["add_members"] = "\n".join(values.get("members") or values.get("add_members") or [])
    data["remove_members"] = "\n".join(values.get("remove_members") or [])
    return data


@groups_router.get("", response=GroupPage, summary="List groups")
def list_groups(request: HttpRequest, page: Query[PageParams],
                q: str | None = Query(None, max_length=100, description="Part of the name"),
                kind: Literal["static", "rule"] | None = None):
    groups = access.groups_visible_to(request.user)
    if q:
        groups = groups.filter(name__icontains=q)
    if kind:
        groups = groups.filter(kind=kind)
    return _page(groups.order_by("name", "id"), page.limit, page.offset)


@groups_router.get("/{int:group_id}", response=GroupDetail, summary="One group, with its member count")
def get_group(request: HttpRequest, group_id: int):
    group = access.get_group_for_view(request.user, group_id)
    group.member_count = group.people().count()  # type: ignore[attr-defined]
    return group


@groups_router.get("/{int:group_id}/members", response=PersonPage, summary="A group's members now")
def group_members(request: HttpRequest, group_id: int, page: Query[PageParams]):
    group = access.get_group_for_view(request.user, group_id)
    members = group.people().select_related("manager").order_by("last_name", "first_name", "id")
    return _page(members, page.limit, page.offset)


@groups_router.post("", response={201: GroupDetail}, summary="Create a group")
def create_group(request: HttpRequest, payload: GroupCreate):
    access.require_group_editor(request.user)
    form = GroupForm(_group_form_data(payload.model_dump()))
    if not form.is_valid():
        raise _refuse(form, {"add_members": "members"})
    data = form.cleaned_data
    group = actions.do_create_group(
        acting_user=request.user, name=data["name"], description=data["description"],
        kind=data["kind"], rules=data["rules"], members=data["add"], request=request,
    )
    group.member_count = group.people().count()  # type: ignore[attr-defined]
    return Status(201, group)


@groups_router.patch("/{int:group_id}", response=GroupDetail, summary="Change a group")
def update_group(request: HttpRequest, group_id: int, payload: GroupPatch):
    group = access.get_group_for_edit(request.user, group_id)
    form = GroupForm(_group_form_data(payload.model_dump(exclude_unset=True), group), group=group)
    if not form.is_valid():
        raise _refuse(form)
    data = form.cleaned_data
    actions.do_update_group(
        acting_user=request.user, group=group, name=data["name"], description=data["description"],
        kind=data["kind"], rules=data["rules"], add_members=data["add"],
        remove_members=data["remove"], request=request,
    )
    group.member_count = group.people().count()  # type: ignore[attr-defined]
    return group
