"""The incident response plan over JSON: the plan and its versions, editing the draft,
submitting it, approvers' decisions, acknowledgements, the diff between versions, and the rule
evaluator (an incident's facts and clocks in, the notifications due out).

Every endpoint gets the plan and its versions through access.py. Invalid content, facts or
clocks answer 422 with one message per problem; a step the plan's state does not allow (a
version not under review, a content hash that does not match, acknowledging an unpublished
version) answers 409 with the reason.
"""

from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, Subquery
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import ConfigDict

from bastion.accounts.models import User
from bastion.lib.http import AuthedRequest
from bastion.people.models import Group, Person

from . import access, actions
from .content import CLOCKS, ContentError
from .diff import diff_versions
from .evaluator import EvaluationError, evaluate
from .models import Acknowledgement, Plan, PlanVersion

router = Router()


class Message(Schema):
    detail: str


class UserRef(Schema):
    id: int
    email: str
    name: str

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.full_name or obj.email


class VersionSummary(Schema):
    number: int
    status: str
    content_hash: str
    summary_of_changes: str
    created_at: datetime
    submitted_at: datetime | None
    published_at: datetime | None
    superseded_at: datetime | None


class PlanOut(Schema):
    id: int
    name: str
    owner: UserRef | None
    approvers: list[UserRef]
    review_interval_months: int
    review_due_on: date | None
    reader_roles: list[str]
    reader_groups: list[str]
    in_force: VersionSummary | None
    versions: list[VersionSummary]


class ApprovalOut(Schema):
    approver: UserRef
    decision: str
    comment: str
    content_hash: str
    at: datetime
    invalidated_at: datetime | None
    invalidated_reason: str


class VersionOut(VersionSummary):
    content: dict[str, Any]
    people: dict[str, str] = Field(description="Directory id → name of everyone the content names")
    approvals: list[ApprovalOut] | None = Field(
        None, description="Every decision on this version (for those who read all versions)")


class DraftIn(Schema):
    model_config = ConfigDict(extra="forbid")

    content: dict[str, Any] = Field(description="The whole structured content (see GET …/versions/{n})")
    summary_of_changes: str | None = Field(None, max_length=5000)


class DecisionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    decision: str = Field(description="approved or changes_requested")
    content_hash: str = Field(max_length=64, description="The content_hash of the version you read")
    comment: str = Field("", max_length=10_000, description="Required when requesting changes")


class SettingsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    owner: str | None = Field(None, max_length=254, description="Email of the plan's owner")
    approvers: list[str] | None = Field(None, max_length=50, description="Emails of the approvers (executives "
                                                                         "or security leads)")
    review_interval_months: int | None = Field(None, ge=1, le=36)
    reader_roles: list[str] | None = Field(None, max_length=7, description="Roles whose users must acknowledge")
    reader_groups: list[str] | None = Field(None, max_length=200, description="Names of groups whose members "
                                                                              "must acknowledge")


class AcknowledgementOut(Schema):
    version: int
    person: str
    at: datetime


class ReaderOut(Schema):
    person_id: int
    email: str
    name: str
    acknowledged_at: datetime | None


class ReaderPage(Schema):
    version: int
    required: int
    acknowledged: int
    items: list[ReaderOut]
    count: int


class ReaderParams(Schema):
    pending: bool | None = Field(None, description="true: only those who have not acknowledged; false: only those who have")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=10_000_000)


class DiffParams(Schema):
    from_version: int = Field(alias="from", ge=1, le=1_000_000)
    to_version: int = Field(alias="to", ge=1, le=1_000_000)


class EvaluateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    facts: dict[str, Any] = Field(default_factory=dict, description="Incident facts (see content.FACTS)")
    clocks: dict[str, datetime | None] = Field(
        default_factory=dict, description="Clock starts with time zone (see content.CLOCKS): " + ", ".join(CLOCKS))
    version: int | None = Field(None, ge=1, description="A version number; default the version in force")


class NotificationDueOut(Schema):
    rule: str
    rule_name: str
    recipient: dict[str, Any]
    recipient_label: str
    status: str
    deadline: datetime | None
    reason: str
    channel: str
    message: str
    clock: str
    source: str


class EvaluationOut(Schema):
    version: int
    items: list[NotificationDueOut]


def _refusal(where: str, messages: list[str]) -> ValidationError:
    return ValidationError([{"type": "value_error", "loc": ["body", "payload", where], "msg": m} for m in messages])


def _version_out(user, version: PlanVersion) -> dict:
    content = version.content
    named = {h.get("person") for r in content.get("roles", []) for h in r.get("holders", [])}
    named |= {h.get("deputy") for r in content.get("roles", []) for h in r.get("holders", [])}
    named |= {x.get("person") for rule in content.get("rules", []) for x in rule.get("recipients", [])}
    people = {str(pk): f"{first} {last}".strip() for pk, first, last in
              Person.objects.filter(pk__in={n for n in named if isinstance(n, int)})
              .values_list("pk", "first_name", "last_name")} if named - {None} else {}
    out = {f: getattr(version, f) for f in VersionSummary.model_fields}
    out.update(content=content, people=people)
    if access.can_view_all_versions(user):
        out["approvals"] = list(version.approvals.select_related("approver").order_by("at", "id"))
    return out


def _plan_out(user, plan: Plan) -> dict:
    versions = list(access.versions_visible_to(user, plan).order_by("-number"))
    return {"id": plan.pk, "name": plan.name, "owner": plan.owner,
            "approvers": list(plan.approvers.order_by("email")), "review_interval_months": plan.review_interval_months,
            "review_due_on": plan.review_due_on(), "reader_roles": plan.reader_roles,
            "reader_groups": list(plan.reader_groups.order_by("name").values_list("name", flat=True)),
            "in_force": next((v for v in versions if v.status == "published"), None), "versions": versions}


@router.get("", response=PlanOut, summary="The incident response plan and its versions")
def current_plan(request: HttpRequest):
    """Everyone signed in sees the plan and the version in force; the security team, executives
    and the auditor see every version."""
    return _plan_out(request.user, access.current_plan_for_view(request.user))


@router.get("/{int:plan_id}/versions", response=list[VersionSummary], summary="The plan's versions, newest first")
def list_versions(request: HttpRequest, plan_id: int):
    plan = access.get_plan_for_view(request.user, plan_id)
    return list(access.versions_visible_to(request.user, plan).order_by("-number"))


@router.get("/{int:plan_id}/versions/{int:number}", response=VersionOut, summary="One version's structured content")
def get_version(request: HttpRequest, plan_id: int, number: int):
    plan = access.get_plan_for_view(request.user, plan_id)
    return _version_out(request.user, access.get_version_for_view(request.user, plan, number))


@router.put("/{int:plan_id}/draft", response=VersionOut, summary="Save the draft's content")
def save_draft(request: HttpRequest, plan_id: int, payload: DraftIn):
    """Editing the version in force starts a new draft; editing a version in review sends it back
    to draft and invalidates its approvals."""
    plan = access.get_plan_for_edit(request.user, plan_id)
    try:
        version = actions.do_save_draft(acting_user=request.user, plan=plan, content=payload.content,
                                        summary_of_changes=payload.summary_of_changes, request=request)
    except ContentError as error:
        raise _refusal("content", error.messages) from None
    return _version_out(request.user, version)


@router.put("/{int:plan_id}/settings", response=PlanOut, summary="Who owns, approves and must read the plan")
def change_settings(request: HttpRequest, plan_id: int, payload: SettingsIn):
    """Only the fields given change. The security lead only."""
    plan = access.get_plan_for_settings(request.user, plan_id)
    users = {u.email: u for u in User.objects.filter(
        email__in=[e.strip().lower() for e in [*(payload.approvers or []), payload.owner or ""]])}
    errors = []
    for where, emails in (("owner", [payload.owner] if payload.owner else []), ("approvers", payload.approvers or [])):
        unknown = [e for e in emails if e.strip().lower() not in users]
        if unknown:
            errors.append({"type": "value_error", "loc": ["body", "payload", where],
                           "msg": "No user with the email " + ", ".join(unknown) + "."})
    groups = list(Group.objects.filter(name__in=payload.reader_groups or []))
    missing = sorted(set(payload.reader_groups or []) - {g.name for g in groups})
    if missing:
        errors.append({"type": "value_error", "loc": ["body", "payload", "reader_groups"],
                       "msg": "No group named " + ", ".join(missing) + "."})
    if errors:
        raise ValidationError(errors)
    try:
        plan = actions.do_update_plan_settings(
            acting_user=request.user, plan=plan, request=request,
            owner=users[payload.owner.strip().lower()] if payload.owner else None,
            approvers=[users[e.strip().lower()] for e in payload.approvers] if payload.approvers is not None else None,
            review_interval_months=payload.review_interval_months, reader_roles=payload.reader_roles,
            reader_groups=groups if payload.reader_groups is not None else None)
    except (actions.PlanStateError, DjangoValidationError) as error:
        message = error.messages[0] if isinstance(error, DjangoValidationError) else str(error)
        raise _refusal("settings", [message]) from None
    return _plan_out(request.user, plan)


@router.post("/{int:plan_id}/versions/{int:number}/submit", response={200: VersionOut, 409: Message},
             summary="Submit the draft to the approvers")
def submit(request: HttpRequest, plan_id: int, number: int):
    plan = access.get_plan_for_edit(request.user, plan_id)
    version = access.get_version_for_view(request.user, plan, number)
    working = plan.working_version()
    if working is None or working.pk != version.pk:
        return Status(409, {"detail": f"Version {number} is not the draft: only the version being worked on is submitted."})
    try:
        version = actions.do_submit_for_review(acting_user=request.user, plan=plan, request=request)
    except actions.PlanStateError as error:
        return Status(409, {"detail": str(error)})
    return _version_out(request.user, version)


@router.post("/{int:plan_id}/versions/{int:number}/decision", response={201: ApprovalOut, 409: Message},
             summary="Approve the version in review, or request changes")
def decide(request: AuthedRequest, plan_id: int, number: int, payload: DecisionIn):
    """Only the plan's named approvers. State the content_hash of the version you read: if the
    content has changed since, the decision is refused."""
    plan = access.get_plan_for_decision(request.user, plan_id)
    access.get_version_for_view(request.user, plan, number)
    if payload.decision not in ("approved", "changes_requested"):
        raise _refusal("decision", ["The decision is approved or changes_requested."])
    if payload.decision == "changes_requested" and not payload.comment.strip():
        raise _refusal("comment", ["Say which changes you are asking for."])
    try:
        approval = actions.do_decide(acting_user=request.user, plan=plan, version_number=number,
                                     content_hash=payload.content_hash, decision=payload.decision,
                                     comment=payload.comment, request=request)
    except actions.PlanStateError as error:
        return Status(409, {"detail": str(error)})
    return Status(201, approval)


@router.post("/{int:plan_id}/versions/{int:number}/acknowledge", response={201: AcknowledgementOut, 409: Message},
             summary="Acknowledge that you have read the version in force")
def acknowledge(request: HttpRequest, plan_id: int, number: int):
    plan = access.get_plan_for_view(request.user, plan_id)
    version = access.get_version_for_view(request.user, plan, number)
    person = access.person_acknowledging(request.user)
    if person is None:
        return Status(409, {"detail": "Your account is not linked to a person in the directory; ask the "
                                      "security team to link it, then acknowledge."})
    try:
        ack = actions.do_acknowledge(version=version, person=person, acting_user=request.user, request=request)
    except actions.PlanStateError as error:
        return Status(409, {"detail": str(error)})
    return Status(201, {"version": version.number, "person": person.email, "at": ack.at})


@router.get("/{int:plan_id}/versions/{int:number}/acknowledgements", response=ReaderPage,
            summary="The required readers of a version and who has acknowledged it")
def acknowledgements(request: HttpRequest, plan_id: int, number: int, params: Query[ReaderParams]):
    plan = access.get_plan_for_view(request.user, plan_id)
    access.require_acknowledgement_reader(request.user)
    version = access.get_version_for_view(request.user, plan, number)
    acks = Acknowledgement.objects.filter(version=version, person=OuterRef("pk"))
    readers = plan.required_readers()
    listed = readers.annotate(acknowledged_at=Subquery(acks.values("at")[:1]))
    if params.pending is not None:
        listed = listed.exclude(Exists(acks)) if params.pending else listed.filter(Exists(acks))
    page = listed.order_by("last_name", "first_name", "pk").values(
        "pk", "email", "first_name", "last_name", "acknowledged_at")[params.offset:params.offset + params.limit]
    return {"version": version.number, "required": readers.count(),
            "acknowledged": readers.filter(Exists(acks)).count(), "count": listed.count(),
            "items": [{"person_id": row["pk"], "email": row["email"],
                       "name": f"{row['first_name']} {row['last_name']}".strip(),
                       "acknowledged_at": row["acknowledged_at"]} for row in page]}


@router.get("/{int:plan_id}/diff", response=dict[str, Any], summary="What changed between two versions")
def version_diff(request: HttpRequest, plan_id: int, params: Query[DiffParams]):
    """Sections as line diffs; roles, severity levels, incident types and steps, calendars and
    rules added, removed or changed field by field."""
    plan = access.get_plan_for_view(request.user, plan_id)
    old = access.get_version_for_view(request.user, plan, params.from_version)
    new = access.get_version_for_view(request.user, plan, params.to_version)
    return diff_versions(old, new).as_dict()


@router.post("/evaluate", response={200: EvaluationOut, 409: Message},
             summary="The notifications due for an incident's facts and clocks")
def evaluate_rules(request: HttpRequest, payload: EvaluateIn):
    """Against the version in force (or another version, for those who may read it). Each rule
    that applies gives one entry per recipient: due (with its deadline) or pending (its clock
    has not started)."""
    plan = access.current_plan_for_view(request.user)
    if payload.version is not None:
        version = access.get_version_for_view(request.user, plan, payload.version)
    else:
        found = plan.published()
        if found is None:
            return Status(409, {"detail": "No version of the plan is in force yet."})
        version = found
    try:
        due = evaluate(version.content, payload.facts, payload.clocks)
    except EvaluationError as error:
        raise _refusal("facts", error.messages) from None
    return {"version": version.number, "items": [{**n.__dict__, "recipient_label": n.recipient_label} for n in due]}
