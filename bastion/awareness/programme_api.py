"""Programmes and assignments over JSON. Two routers: ``programmes_router`` (list, get, create,
update) and ``assignments_router`` (list, filtered). The same access helpers and the same form
as the pages, so a script and the security team get the same answer and the same refusals."""

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from bastion.lib.http import MAX_ID, form_refusal, parse_id
from bastion.people.models import Person

from . import access, programme_actions, progress
from .engine import triggers_in_words
from .models import OPEN_STATUSES, Assignment, AssignmentReason, AssignmentStatus, Programme
from .programme_forms import RULE_FIELDS, ProgrammeForm
from .programme_views import with_counts

programmes_router = Router()
assignments_router = Router()


class Ref(Schema):
    id: int
    name: str


class ProgrammeOut(Schema):
    id: int
    name: str
    course: Ref
    audience: Ref | None = Field(description="null: everyone in the directory")
    active: bool
    starts_on: date
    on_hire: bool
    hire_due_days: int
    recurring_months: int | None
    on_change: bool
    remedial: bool
    due_days: int
    reminder_days: list[int]
    escalate_after_days: int | None
    consequence_after_days: int | None
    consequence_notify: str
    incentive_points: int
    incentive_recognition: bool
    incentive_prize_draw: bool
    triggers: str = Field(description="The triggers in words")
    open: int = Field(description="Current assignments not completed yet")
    completed: int
    overdue: int
    created_at: datetime

    @staticmethod
    def resolve_course(obj: Programme) -> dict:
        return {"id": obj.course_id, "name": obj.course.title}

    @staticmethod
    def resolve_audience(obj: Programme) -> dict | None:
        return {"id": obj.audience_id, "name": obj.audience.name} if obj.audience else None

    @staticmethod
    def resolve_triggers(obj: Programme) -> str:
        return triggers_in_words(obj)

    @staticmethod
    def resolve_open(obj) -> int:
        return obj.open_count

    @staticmethod
    def resolve_completed(obj) -> int:
        return obj.completed_count

    @staticmethod
    def resolve_overdue(obj) -> int:
        return obj.overdue_count


class ProgrammePage(Schema):
    items: list[ProgrammeOut]
    count: int


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


class ProgrammeRules(Schema):
    """Every field optional: on create, a missing one takes its default; on update, keeps its value."""

    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    audience: int | None = Field(None, description="A group's id; null for everyone in the directory")
    starts_on: date | None = None
    on_hire: bool | None = None
    hire_due_days: int | None = Field(None, description="0–365")
    recurring_months: int | None = Field(None, description="1–120; null for once only")
    on_change: bool | None = None
    remedial: bool | None = None
    due_days: int | None = Field(None, description="1–365")
    reminder_days: list[int] | None = Field(None, max_length=50, description="Days relative to the due date, "
                                                                             "-60 to 120, e.g. [-7, 0, 3]")
    escalate_after_days: int | None = Field(None, description="1–365; null for never")
    consequence_after_days: int | None = Field(None, description="1–365; null for never")
    consequence_notify: str | None = Field(None, max_length=254, description="The HR contact's email; '' for none")
    incentive_points: int | None = Field(None, description="0–1000")
    incentive_recognition: bool | None = None
    incentive_prize_draw: bool | None = None


class ProgrammeCreate(ProgrammeRules):
    name: str = Field(max_length=200)
    course: int = Field(description="A course's id")


class ProgrammeUpdate(ProgrammeRules):
    name: str | None = Field(None, max_length=200)
    course: int | None = None
    reason: str | None = Field(None, max_length=2000, description="Required when a rule changes")


_NULLABLE = {"audience", "recurring_months", "escalate_after_days", "consequence_after_days"}


def _form_value(value: Any) -> str | None:
    """A value as the form posts it (None: the field left out of the data)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value.pk)
    return str(value)


def _form_data(base: dict[str, Any], payload: ProgrammeRules) -> dict[str, str]:
    """The form's data: ``base`` (defaults, or the programme's values) overlaid with what the
    payload sets. A nullable field sent as null is cleared; another field sent as null keeps."""
    sent = payload.model_dump(exclude_unset=True)
    values = dict(base)
    for name, value in sent.items():
        if value is None and name not in _NULLABLE and name != "reason":
            continue
        values[name] = value
    data = {}
    for name, value in values.items():
        shown = _form_value(value)
        if shown is not None:
            data[name] = shown
    return data


def _defaults() -> dict[str, Any]:
    values = {name: Programme._meta.get_field(name).get_default()  # type: ignore[union-attr]
              for name in RULE_FIELDS}
    values["starts_on"] = timezone.localdate()
    return values


def _current(programme: Programme) -> dict[str, Any]:
    values = {name: getattr(programme, name) for name in RULE_FIELDS}
    values["name"] = programme.name
    return values


def _counted(pk: int) -> Programme:
    return with_counts(Programme.objects.filter(pk=pk)).select_related("course", "audience").get()


@programmes_router.get("", response=ProgrammePage, summary="List training programmes")
def list_programmes(request: HttpRequest, page: Query[PageParams]):
    """By name, with the counts of current assignments."""
    programmes = access.programmes_visible_to(request.user)
    listed = with_counts(programmes).select_related("course", "audience").order_by("name", "id")
    return {"items": list(listed[page.offset:page.offset + page.limit]), "count": programmes.count()}


@programmes_router.get("/{int:programme_id}", response=ProgrammeOut, summary="One training programme")
def get_programme(request: HttpRequest, programme_id: int):
    return _counted(access.get_programme_for_view(request.user, programme_id).pk)


@programmes_router.post("", response={201: ProgrammeOut}, summary="Create a training programme")
def create_programme(request: HttpRequest, payload: ProgrammeCreate):
    """The next hourly assignment run applies it."""
    access.require_manager(request.user)
    form = ProgrammeForm(_form_data(_defaults(), payload))
    if not form.is_valid():
        raise form_refusal(form)
    programme = programme_actions.do_create_programme(acting_user=request.user, request=request,
                                                      fields=form.fields_to_save())
    return Status(201, _counted(programme.pk))


@programmes_router.patch("/{int:programme_id}", response=ProgrammeOut, summary="Change a training programme")
def update_programme(request: HttpRequest, programme_id: int, payload: ProgrammeUpdate):
    """Only the fields sent change. A rule change needs a `reason`; each changed rule is recorded
    with the date, the user and the reason."""
    programme = access.get_programme_for_edit(request.user, programme_id)
    form = ProgrammeForm(_form_data(_current(programme), payload), programme=programme)
    if not form.is_valid():
        raise form_refusal(form)
    programme_actions.do_update_programme(acting_user=request.user, request=request, programme=programme,
                                          fields=form.fields_to_save(), reason=form.cleaned_data.get("reason", ""))
    return _counted(programme.pk)


# --- assignments -------------------------------------------------------------------------

class PersonRef(Schema):
    id: int
    email: str
    name: str


class VersionRef(Schema):
    id: int
    title: str
    number: int


class AssignmentOut(Schema):
    id: int
    person: PersonRef
    programme: Ref
    course_version: VersionRef
    reason: str
    status: str
    current: bool
    assigned_at: datetime
    due_on: date
    started_at: datetime | None
    completed_at: datetime | None
    score: int | None
    attempts_used: int
    days_overdue: int

    @staticmethod
    def resolve_person(obj) -> dict:
        return {"id": obj.person_id, "email": obj.person.email, "name": str(obj.person)}

    @staticmethod
    def resolve_programme(obj) -> dict:
        return {"id": obj.programme_id, "name": obj.programme.name}

    @staticmethod
    def resolve_course_version(obj) -> dict:
        return {"id": obj.version_id, "title": obj.version.title, "number": obj.version.number}

    @staticmethod
    def resolve_days_overdue(obj) -> int:
        return obj.days_overdue()


class AssignmentPage(Schema):
    items: list[AssignmentOut]
    count: int


class AssignmentFilters(Schema):
    person: str | None = Field(None, max_length=254, description="A person's id or email")
    status: Literal["assigned", "in_progress", "completed", "failed", "cancelled", "open"] | None = Field(
        None, description="A status, or `open` for assigned or in progress")
    programme: int | None = Field(None, ge=1, le=MAX_ID, description="A programme's id")
    reason: Literal[tuple(AssignmentReason.values)] | None = None  # type: ignore[valid-type]
    overdue: bool | None = Field(None, description="true: open and past the due date; false: not overdue")
    current: bool | None = Field(None, description="true: each person's latest assignment of the programme")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


@assignments_router.get("", response=AssignmentPage, summary="List training assignments")
def list_assignments(request: HttpRequest, filters: Query[AssignmentFilters]):
    """Those of the people whose progress you may follow (a manager: their reports), by due date."""
    assignments = access.assignments_visible_to(request.user)
    if filters.person:
        person = filters.person.strip()
        if person.isascii() and person.isdigit():
            assignments = assignments.filter(person_id=parse_id(person) or 0)
        else:
            # Emails are kept in lower case: the unique index finds them; any other spelling is
            # still found, by a scan.
            ids = (list(Person.objects.filter(email=person.lower()).values_list("pk", flat=True))
                   or list(Person.objects.filter(email__iexact=person).values_list("pk", flat=True)))
            assignments = assignments.filter(person_id__in=ids)
    if filters.status == "open":
        assignments = assignments.filter(status__in=OPEN_STATUSES)
    elif filters.status:
        assignments = assignments.filter(status=AssignmentStatus(filters.status))
    if filters.programme is not None:
        assignments = assignments.filter(programme_id=filters.programme)
    if filters.reason:
        assignments = assignments.filter(reason=filters.reason)
    if filters.current is not None:
        assignments = assignments.filter(current=filters.current)
    if filters.overdue is not None:
        today = timezone.localdate()
        overdue = {"status__in": OPEN_STATUSES, "due_on__lt": today}
        assignments = assignments.filter(**overdue) if filters.overdue else assignments.exclude(**overdue)
    # A deferred join in one statement: the page's ids come from the (due_on, id) index alone, then
    # only those rows are joined and loaded, so a deep offset walks index entries, not rows.
    ordered = assignments.order_by("due_on", "id")
    page_ids = ordered.values("pk")[filters.offset:filters.offset + filters.limit]
    listed = (Assignment.objects.filter(pk__in=page_ids).select_related("person", "programme", "version")
              .order_by("due_on", "id"))
    # Counting a million rows costs more than the page: kept while nothing has changed (as the
    # progress pages do), keyed by the filters and the change stamp.
    return {"items": list(listed), "count": progress.count(assignments, timezone.localdate())}
