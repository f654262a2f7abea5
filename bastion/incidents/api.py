"""Incidents over JSON: list, declare, read and update facts; the team (PATCH …/team); an
incident's timeline (and its verification), notifications due (an internal one previewed and
emailed from Bastion: …/notifications/{id}/email and /send) and deviations; status updates (sent, never edited: no PUT or
PATCH exists), the post-incident review and its waiver, and the dossier (JSON and PDF).

Every endpoint gets its incident through access.py: a restricted incident answers 404 to anyone
not a member (or its declarer), and is left out of the list. A SIEM declares with the API token
of a service user holding the security lead or team role. Bodies refuse unknown fields; what
the plan refuses (an unknown type, fact, severity, a time in the future, a severity changed
without a reason) answers 422 with one message per problem, and nothing is saved.
"""

from datetime import date, datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import ConfigDict

from bastion.accounts.models import User
from bastion.lib.http import AuthedRequest
from bastion.people.models import Person
from bastion.systems.models import BusinessSystem

from . import access, actions, dossier, notices, review, team, timeline, updates
from .models import ActionItem, Incident, StatusUpdate

router = Router()

MAX_LIST = 200


def _refusal(problems: list[str], field: str | None = None) -> ValidationError:
    loc = ["body", "payload"] + ([field] if field else [])
    return ValidationError([{"type": "value_error", "loc": loc, "msg": p} for p in problems])


def _django_refusal(error: DjangoValidationError) -> ValidationError:
    return _refusal(list(error.messages))


class SystemRef(Schema):
    id: int
    name: str


class IncidentSummary(Schema):
    id: int
    reference: str
    title: str
    status: str
    type: str = Field(alias="type_key")
    severity: str
    declared_at: datetime
    detected_at: datetime
    restricted: bool
    plan_version: int = Field(alias="plan_version_number")


class IncidentPage(Schema):
    items: list[IncidentSummary]
    count: int


class IncidentOut(Schema):
    id: int
    reference: str
    title: str
    summary: str
    status: str
    type: str = Field(alias="type_key")
    severity: str
    suggested_severity: str
    severity_reason: str
    detected_at: datetime
    declared_at: datetime
    declared_by: str | None = Field(None, description="The declarer's email address")
    reported_by: str
    plan_version: int
    affected_systems: list[SystemRef]
    system_tier: int | None = Field(description="Effective tier of the most critical affected system")
    data_involved: list[str]
    facts: dict[str, Any]
    clocks: dict[str, datetime] = Field(description="Clock times, detection and declaration included")
    incident_commander: str | None = Field(None, description="Email address")
    scribe: str | None = None
    liaison: str | None = None
    legal: str | None = None
    restricted: bool
    members: list[str] = Field(description="Restricted incidents: the members' email addresses")
    law_enforcement_required: bool
    law_enforcement_decision: str
    closed_at: datetime | None

    @staticmethod
    def resolve_declared_by(obj: Incident) -> str | None:
        return obj.declared_by.email if obj.declared_by else None

    @staticmethod
    def resolve_plan_version(obj: Incident) -> int:
        return obj.plan_version.number

    @staticmethod
    def resolve_affected_systems(obj: Incident) -> list[dict]:
        return [{"id": s.pk, "name": s.name} for s in obj.affected_systems.order_by("name")]

    @staticmethod
    def resolve_clocks(obj: Incident) -> dict:
        return {k: v for k, v in obj.clock_times().items() if v is not None}

    @staticmethod
    def resolve_members(obj: Incident) -> list[str]:
        return sorted(obj.members.values_list("email", flat=True))

    @staticmethod
    def resolve_law_enforcement_required(obj: Incident) -> bool:
        return obj.law_enforcement_required()

    @staticmethod
    def resolve_incident_commander(obj: Incident) -> str | None:
        return obj.incident_commander.email if obj.incident_commander else None

    @staticmethod
    def resolve_scribe(obj: Incident) -> str | None:
        return obj.scribe.email if obj.scribe else None

    @staticmethod
    def resolve_liaison(obj: Incident) -> str | None:
        return obj.liaison.email if obj.liaison else None

    @staticmethod
    def resolve_legal(obj: Incident) -> str | None:
        return obj.legal.email if obj.legal else None


class IncidentFilters(Schema):
    status: Literal["detection", "triage", "containment", "eradication", "recovery", "closed", "open"] | None = Field(
        None, description="One status, or open (all but closed)")
    limit: int = Field(50, ge=1, le=MAX_LIST)
    offset: int = Field(0, ge=0, le=10_000_000)


class Declaration(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=200)
    summary: str = Field(max_length=20_000, description="What is known")
    detected_at: datetime
    reported_by: str = Field(max_length=200, description="Who or what reported it (a person, a SIEM rule)")
    type: str = Field(max_length=64, description="A key of the plan's incident types")
    affected_systems: list[int] = Field(default_factory=list, max_length=500, description="Business system ids")
    data_involved: list[str] = Field(default_factory=list, max_length=20)
    facts: dict[str, Any] = Field(default_factory=dict, description="The plan's fact vocabulary")
    clocks: dict[str, datetime | None] = Field(default_factory=dict, description="The plan's clock vocabulary")
    severity: str | None = Field(None, max_length=64, description="Leave out to take the suggestion")
    severity_reason: str = Field("", max_length=5000)
    incident_commander: str | None = Field(None, max_length=254, description="Email address of a person")
    scribe: str | None = Field(None, max_length=254)
    liaison: str | None = Field(None, max_length=254)
    legal: str | None = Field(None, max_length=254)
    restricted: bool = False
    members: list[str] = Field(default_factory=list, max_length=200, description="Email addresses of users")


class FactsPatch(Schema):
    """Only what is sent changes. facts and clocks are merged; null removes one."""

    model_config = ConfigDict(extra="forbid")

    facts: dict[str, Any] | None = None
    clocks: dict[str, datetime | None] | None = None
    type: str | None = Field(None, max_length=64)
    severity: str | None = Field(None, max_length=64)
    severity_reason: str | None = Field(None, max_length=5000)
    data_involved: list[str] | None = Field(None, max_length=20)
    affected_systems: list[int] | None = Field(None, max_length=500)


def _systems(ids: list[int]) -> list[BusinessSystem]:
    found = {s.pk: s for s in BusinessSystem.objects.filter(pk__in=ids)}
    unknown = [str(i) for i in ids if i not in found]
    if unknown:
        raise _refusal([f"No business system with id {', '.join(unknown)}."], "affected_systems")
    return list(found.values())


def _people(payload: Declaration) -> dict[str, Person | None]:
    wanted = {name: getattr(payload, name) for name in ("incident_commander", "scribe", "liaison", "legal")}
    emails = {e.lower() for e in wanted.values() if e}
    found = {p.email.lower(): p for p in Person.objects.filter(email__in=emails)} if emails else {}
    problems = [f"{name}: nobody in the directory has the address {email!r}."
                for name, email in wanted.items() if email and email.lower() not in found]
    if problems:
        raise _refusal(problems)
    return {name: found[email.lower()] if email else None for name, email in wanted.items()}


def _members(emails: list[str]) -> list[User]:
    users = {u.email: u for u in User.objects.filter(email__in=[e.lower() for e in emails], is_active=True)}
    problems = [f"No active user has the address {e!r}." for e in emails if e.lower() not in users]
    problems += [f"{u.email} has a role that sees no incidents; only the security lead and team, executives and "
                 "auditors can be members." for u in users.values() if u.role not in access.MEMBER_ROLES]
    if problems:
        raise _refusal(problems, "members")
    return list(users.values())


def _detail(incident_id: int, user) -> Incident:
    return (access.incidents_visible_to(user)
            .select_related("plan_version", "declared_by", "incident_commander", "scribe", "liaison", "legal")
            .get(pk=incident_id))


@router.get("", response=IncidentPage, summary="List incidents (restricted ones only for their members)")
def list_incidents(request: AuthedRequest, filters: Query[IncidentFilters]):
    incidents = access.incidents_visible_to(request.user)
    if filters.status == "open":
        incidents = incidents.open()
    elif filters.status:
        incidents = incidents.filter(status=filters.status)
    page = (incidents.annotate(plan_version_number=F("plan_version__number"))
            .only("id", "title", "status", "type_key", "severity", "declared_at", "detected_at", "restricted")
            .order_by("-declared_at", "-id"))
    return {"items": list(page[filters.offset:filters.offset + filters.limit]), "count": incidents.count()}


@router.post("", response={201: IncidentOut}, summary="Declare an incident under the plan in force")
def declare(request: AuthedRequest, payload: Declaration):
    access.require_declarer(request.user)
    systems = _systems(payload.affected_systems)
    people = _people(payload)
    members = _members(payload.members)
    try:
        incident = actions.do_declare(
            acting_user=request.user, title=payload.title, summary=payload.summary, detected_at=payload.detected_at,
            reported_by=payload.reported_by, type_key=payload.type, affected_systems=systems,
            data_involved=payload.data_involved, facts=payload.facts, clocks=payload.clocks,
            severity=payload.severity, severity_reason=payload.severity_reason, restricted=payload.restricted,
            members=members, request=request, incident_commander=people["incident_commander"],
            scribe=people["scribe"], liaison=people["liaison"], legal=people["legal"])
    except DjangoValidationError as error:
        raise _django_refusal(error) from None
    return Status(201, _detail(incident.pk, request.user))


@router.get("/{int:incident_id}", response=IncidentOut, summary="One incident")
def get_incident(request: AuthedRequest, incident_id: int):
    access.get_incident_for_view(request.user, incident_id)
    return _detail(incident_id, request.user)


@router.patch("/{int:incident_id}", response=IncidentOut,
              summary="Update facts, clocks, type, severity, data involved or affected systems")
def update_facts(request: AuthedRequest, incident_id: int, payload: FactsPatch):
    incident = access.get_incident_for_edit(request.user, incident_id)
    systems = _systems(payload.affected_systems) if payload.affected_systems is not None else None
    try:
        actions.do_update_facts(acting_user=request.user, incident=incident, facts=payload.facts,
                                clocks=payload.clocks, type_key=payload.type, severity=payload.severity,
                                severity_reason=payload.severity_reason, data_involved=payload.data_involved,
                                affected_systems=systems, request=request)
    except DjangoValidationError as error:
        raise _django_refusal(error) from None
    return _detail(incident_id, request.user)


class TeamPatch(Schema):
    """Only what is sent changes: a role given an email address takes that person of the
    directory, null leaves it empty; members are added and removed by email address."""

    model_config = ConfigDict(extra="forbid")

    incident_commander: str | None = Field(None, max_length=254, description="Email address of a person")
    scribe: str | None = Field(None, max_length=254)
    liaison: str | None = Field(None, max_length=254)
    legal: str | None = Field(None, max_length=254)
    add_members: list[str] = Field(default_factory=list, max_length=200,
                                   description="Email addresses of users (restricted incidents)")
    remove_members: list[str] = Field(default_factory=list, max_length=200, description=team.MEMBERS_RULE)


def _team_people(payload: TeamPatch) -> dict[str, Person | None]:
    wanted = {role: getattr(payload, role) for role in team.TEAM_ROLES if role in payload.model_fields_set}
    emails = {e.lower() for e in wanted.values() if e}
    found = {p.email.lower(): p for p in Person.objects.filter(email__in=emails)} if emails else {}
    problems = [f"{role}: nobody in the directory has the address {email!r}."
                for role, email in wanted.items() if email and email.lower() not in found]
    if problems:
        raise _refusal(problems)
    return {role: found[email.lower()] if email else None for role, email in wanted.items()}


def _accounts(emails: list[str], field: str) -> list[User]:
    users = {u.email: u for u in User.objects.filter(email__in=[e.lower() for e in emails])}
    problems = [f"No user has the address {e!r}." for e in emails if e.lower() not in users]
    if problems:
        raise _refusal(problems, field)
    return list(users.values())


@router.patch("/{int:incident_id}/team", response=IncidentOut,
              summary="Change the team: commander, scribe, liaison, legal and a restricted incident's members")
def change_team(request: AuthedRequest, incident_id: int, payload: TeamPatch):
    incident = access.get_incident_for_team_change(request.user, incident_id)
    people = _team_people(payload)
    add, remove = _accounts(payload.add_members, "add_members"), _accounts(payload.remove_members, "remove_members")
    try:
        team.do_change_team(acting_user=request.user, incident=incident, people=people, add_members=add,
                            remove_members=remove, request=request)
    except DjangoValidationError as error:
        raise _django_refusal(error) from None
    return _detail(incident_id, request.user)


class StatusChange(Schema):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(max_length=16)
    note: str = Field("", max_length=5000)


@router.post("/{int:incident_id}/status", response=IncidentOut, summary="Move the incident to another status")
def change_status(request: AuthedRequest, incident_id: int, payload: StatusChange):
    incident = access.get_incident_for_edit(request.user, incident_id)
    try:
        actions.do_change_status(acting_user=request.user, incident=incident, status=payload.status,
                                 note=payload.note, request=request)
    except DjangoValidationError as error:
        raise _django_refusal(error) from None
    return _detail(incident_id, request.user)


class EntryOut(Schema):
    seq: int
    event_at: datetime
    recorded_at: datetime
    author: str = Field(alias="author_label")
    kind: str
    text: str
    evidence_name: str
    evidence_sha256: str
    evidence_size: int | None
    prev_hash: str
    hash: str


class TimelinePage(Schema):
    items: list[EntryOut]
    count: int


class Paging(Schema):
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


@router.get("/{int:incident_id}/timeline", response=TimelinePage, summary="The timeline, oldest first")
def get_timeline(request: AuthedRequest, incident_id: int, paging: Query[Paging]):
    incident = access.get_incident_for_view(request.user, incident_id)
    entries = incident.timeline.defer("evidence").order_by("seq")
    return {"items": list(entries[paging.offset:paging.offset + paging.limit]), "count": incident.timeline.count()}


class Verification(Schema):
    ok: bool
    checked: int
    head: str = Field(description="The hash of the last entry checked")
    problem: str
    seq: int | None


@router.get("/{int:incident_id}/timeline/verify", response=Verification,
            summary="Recompute the timeline's hash chain and name the first broken entry")
def verify_timeline(request: AuthedRequest, incident_id: int):
    return timeline.verify(access.get_incident_for_view(request.user, incident_id)).__dict__


class NotificationOut(Schema):
    id: int
    rule: str = Field(alias="rule_key")
    rule_name: str
    recipient: str = Field(alias="recipient_label")
    status: str
    deadline: datetime | None
    reason: str
    channel: str
    message: str
    notified_by: str | None = None
    notified_whom: str
    notified_at: datetime | None
    notified_channel: str
    what_was_said: str
    emailed_to: list[str] = Field(description="Sent from Bastion: the addresses the email went to")
    not_required_reason: str
    escalated_at: datetime | None

    @staticmethod
    def resolve_notified_by(obj) -> str | None:
        return obj.notified_by.email if obj.notified_by else None


@router.get("/{int:incident_id}/notifications", response=list[NotificationOut],
            summary="The notifications the plan calls for, soonest deadline first")
def get_notifications(request: AuthedRequest, incident_id: int):
    incident = access.get_incident_for_view(request.user, incident_id)
    return list(incident.notifications.select_related("notified_by"))


class EmailPreview(Schema):
    sendable: bool = Field(description="An internal recipient (a plan role or a named person) Bastion can email")
    to: list[str]
    message: str = Field(description="The rule's message with the incident's values filled in")
    problems: list[str] = Field(description="Why it cannot be sent from Bastion")


class EmailIn(Schema):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=notices.MAX_TEXT, description="Sent exactly as written, and recorded")


def _notification(incident: Incident, notification_id: int):
    return get_object_or_404(incident.notifications.all(), pk=notification_id)


@router.get("/{int:incident_id}/notifications/{int:notification_id}/email", response=EmailPreview,
            summary="Who an internal notification would be emailed to, and the pre-filled message")
def preview_notification_email(request: AuthedRequest, incident_id: int, notification_id: int):
    incident = access.get_incident_for_edit(request.user, incident_id)
    row = _notification(incident, notification_id)
    found = notices.recipients(row, incident)
    problems = found.problems if row.is_open else actions.open_problems(row)
    return {"sendable": not problems, "to": found.addresses, "message": notices.fill_message(row, incident),
            "problems": problems}


@router.post("/{int:incident_id}/notifications/{int:notification_id}/send", response=NotificationOut,
             summary="Email an internal notification from Bastion and record it as done (never twice)")
def send_notification(request: AuthedRequest, incident_id: int, notification_id: int, payload: EmailIn):
    incident = access.get_incident_for_edit(request.user, incident_id)
    row = _notification(incident, notification_id)
    try:
        notices.do_send_notification(acting_user=request.user, notification=row, text=payload.text, request=request)
    except DjangoValidationError as error:
        raise _django_refusal(error) from None
    return incident.notifications.select_related("notified_by").get(pk=row.pk)


class DeviationOut(Schema):
    id: int
    step: str | None = Field(None, description="The checklist step's key")
    step_title: str | None = None
    kind: str
    explanation: str
    decided_by: str
    decided_at: datetime
    recorded_by: str | None = None
    recorded_at: datetime

    @staticmethod
    def resolve_step(obj) -> str | None:
        return obj.step.step_key if obj.step else None

    @staticmethod
    def resolve_step_title(obj) -> str | None:
        return obj.step.title if obj.step else None

    @staticmethod
    def resolve_decided_by(obj) -> str:
        return obj.decided_by.email

    @staticmethod
    def resolve_recorded_by(obj) -> str | None:
        return obj.recorded_by.email if obj.recorded_by else None


@router.get("/{int:incident_id}/deviations", response=list[DeviationOut], summary="Deviations from the playbook")
def get_deviations(request: AuthedRequest, incident_id: int):
    incident = access.get_incident_for_view(request.user, incident_id)
    return list(incident.deviations.select_related("step", "decided_by", "recorded_by"))



# --- status updates -------------------------------------------------------------------------

class UpdateIn(Schema):
    """A status update, sent when posted. There is no way to edit one: correct it with a new
    update naming it in ``corrects``."""

    model_config = ConfigDict(extra="forbid")

    what_happened: str = Field(max_length=20_000)
    containment: str = Field(max_length=20_000, description="What is being done to contain it")
    impact: str = Field(max_length=20_000, description="How bad it looks")
    confidence: str = Field(max_length=8, description="low, medium or high")
    unknowns: str = Field(max_length=20_000, description="What is not known yet")
    next_update_at: datetime | None = Field(None, description="Required unless final; in the future")
    final: bool = Field(False, description="The last update (incident resolved): no next update time, no reminder")
    audiences: list[str] = Field(max_length=3, description="executives, all_staff, customers")
    customer_addresses: list[str] = Field(default_factory=list, max_length=5000)
    corrects: int | None = Field(None, description="The id of the update this one corrects")
    beyond_members: bool = Field(False, description="Restricted incidents: confirm sending beyond the members")


class UpdateOut(Schema):
    id: int
    number: int
    what_happened: str
    containment: str
    impact: str
    confidence: str
    unknowns: str
    next_update_at: datetime | None
    final: bool
    audiences: list[str]
    customer_addresses: list[str]
    recipient_count: int
    corrects: int | None = Field(None, alias="corrects_id")
    sent_at: datetime
    sent_by: str | None = None

    @staticmethod
    def resolve_sent_by(obj) -> str | None:
        return obj.sent_by.email if obj.sent_by else None


@router.get("/{int:incident_id}/updates", response=list[UpdateOut], summary="Status updates sent, oldest first")
def get_updates(request: AuthedRequest, incident_id: int):
    incident = access.get_incident_for_view(request.user, incident_id)
    return list(incident.updates.select_related("sent_by").order_by("number"))


@router.post("/{int:incident_id}/updates", response={201: UpdateOut}, summary="Send a status update")
def send_update(request: AuthedRequest, incident_id: int, payload: UpdateIn):
    incident = access.get_incident_for_edit(request.user, incident_id)
    corrects = None
    if payload.corrects is not None:
        corrects = StatusUpdate.objects.filter(pk=payload.corrects).first()
        if corrects is None:
            raise _refusal([f"No status update with id {payload.corrects}."], "corrects")
    try:
        update = updates.do_send_update(
            acting_user=request.user, incident=incident, what_happened=payload.what_happened,
            containment=payload.containment, impact=payload.impact, confidence=payload.confidence,
            unknowns=payload.unknowns, next_update_at=payload.next_update_at, audiences=payload.audiences,
            customer_addresses=payload.customer_addresses, corrects=corrects, beyond_members=payload.beyond_members,
            final=payload.final, request=request)
    except DjangoValidationError as error:
        raise _django_refusal(error) from None
    return Status(201, update)


@router.get("/{int:incident_id}/updates/{int:update_id}", response=UpdateOut,
            summary="One status update (never editable: correct it with a new one)")
def get_update(request: AuthedRequest, incident_id: int, update_id: int):
    incident = access.get_incident_for_view(request.user, incident_id)
    return get_object_or_404(incident.updates.select_related("sent_by"), pk=update_id)


# --- post-incident review -------------------------------------------------------------------

class ActionItemIn(Schema):
    model_config = ConfigDict(extra="forbid")

    id: int | None = Field(None, description="An existing item's id; leave out for a new one")
    title: str = Field(max_length=300)
    owner: str = Field(max_length=254, description="Email address of a person in the directory")
    due_date: date
    status: str = Field("open", max_length=8)


class ReviewIn(Schema):
    """The whole review; action items listed replace those saved."""

    model_config = ConfigDict(extra="forbid")

    root_cause: str = Field("", max_length=20_000)
    what_worked: str = Field("", max_length=20_000)
    what_did_not: str = Field("", max_length=20_000)
    plan_should_change: bool | None = None
    plan_changes: str = Field("", max_length=20_000)
    action_items: list[ActionItemIn] = Field(default_factory=list, max_length=200)
    complete: bool = Field(False, description="Mark it completed (every part needed); false re-opens it")


class ActionItemOut(Schema):
    id: int
    title: str
    owner: str
    due_date: date
    status: str
    done_at: datetime | None

    @staticmethod
    def resolve_owner(obj) -> str:
        return obj.owner.email


class ReviewOut(Schema):
    root_cause: str
    what_worked: str
    what_did_not: str
    plan_should_change: bool | None
    plan_changes: str
    completed_at: datetime | None
    completed_by: str | None = None
    waived_at: datetime | None
    waived_by: str | None = None
    waiver_reason: str
    allows_closing: bool
    action_items: list[ActionItemOut]
    deviations: list[DeviationOut] = Field(description="The incident's deviations, for the review")


class Waiver(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=20_000)


class ActionItemStatusIn(Schema):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(max_length=8)


def _review_out(incident: Incident) -> dict:
    found = review.review_of(incident)
    items = list(found.action_items.select_related("owner")) if found.pk else []
    return {
        "root_cause": found.root_cause, "what_worked": found.what_worked, "what_did_not": found.what_did_not,
        "plan_should_change": found.plan_should_change, "plan_changes": found.plan_changes,
        "completed_at": found.completed_at, "completed_by": found.completed_by.email if found.completed_by else None,
        "waived_at": found.waived_at, "waived_by": found.waived_by.email if found.waived_by else None,
        "waiver_reason": found.waiver_reason, "allows_closing": found.allows_closing, "action_items": items,
        "deviations": list(incident.deviations.select_related("step", "decided_by", "recorded_by")),
    }


def _owners(emails: list[str]) -> dict[str, Person]:
    wanted = {e.lower() for e in emails}
    found = {p.email.lower(): p for p in Person.objects.filter(email__in=wanted)} if wanted else {}
    problems = [f"Nobody in the directory has the address {e!r}." for e in sorted(wanted - set(found))]
    if problems:
        raise _refusal(problems, "action_items")
    return found


@router.get("/{int:incident_id}/review", response=ReviewOut, summary="The post-incident review")
def get_review(request: AuthedRequest, incident_id: int):
    return _review_out(access.get_incident_for_view(request.user, incident_id))


@router.put("/{int:incident_id}/review", response=ReviewOut, summary="Write (and complete) the post-incident review")
def put_review(request: AuthedRequest, incident_id: int, payload: ReviewIn):
    incident = access.get_incident_for_edit(request.user, incident_id)
    owners = _owners([i.owner for i in payload.action_items])
    items = [review.ActionItemInput(id=i.id, title=i.title, owner=owners[i.owner.lower()], due_date=i.due_date,
                                    status=i.status) for i in payload.action_items]
    try:
        review.do_save_review(acting_user=request.user, incident=incident, root_cause=payload.root_cause,
                              what_worked=payload.what_worked, what_did_not=payload.what_did_not,
                              plan_should_change=payload.plan_should_change, plan_changes=payload.plan_changes,
                              action_items=items, complete=payload.complete, request=request)
    except DjangoValidationError as error:
        raise _django_refusal(error) from None
    return _review_out(incident)


@router.post("/{int:incident_id}/review/waive", response=ReviewOut,
             summary="Waive the review (security lead, with a reason) so the incident may close without it")
def waive_review(request: AuthedRequest, incident_id: int, payload: Waiver):
    incident = access.get_incident_for_waiver(request.user, incident_id)
    try:
        review.do_waive_review(acting_user=request.user, incident=incident, reason=payload.reason, request=request)
    except DjangoValidationError as error:
        raise _django_refusal(error) from None
    return _review_out(incident)


@router.post("/{int:incident_id}/review/items/{int:item_id}", response=ActionItemOut,
             summary="Mark an action item done or open (also after closing)")
def set_action_item_status(request: AuthedRequest, incident_id: int, item_id: int, payload: ActionItemStatusIn):
    incident = access.get_incident_for_edit(request.user, incident_id)
    item = get_object_or_404(ActionItem.objects.select_related("review"), pk=item_id, review__incident=incident)
    try:
        return review.do_set_action_item_status(acting_user=request.user, item=item, status=payload.status,
                                                request=request)
    except DjangoValidationError as error:
        raise _django_refusal(error) from None


# --- dossier --------------------------------------------------------------------------------

@router.get("/{int:incident_id}/dossier", response=dict[str, Any],
            summary="Every record of the incident, with the timeline's hashes and its verification")
def get_dossier(request: AuthedRequest, incident_id: int):
    return dossier.dossier(access.get_incident_for_view(request.user, incident_id))


@router.get("/{int:incident_id}/dossier.pdf", summary="The dossier as PDF", response={200: None})
def get_dossier_pdf(request: AuthedRequest, incident_id: int):
    incident = access.get_incident_for_view(request.user, incident_id)
    response = HttpResponse(dossier.render_dossier_pdf(incident), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{dossier.dossier_pdf_filename(incident)}"'
    return response
