"""Writes of the incident response plan, each in one transaction with its audit entry.

The workflow: ``do_save_draft`` (editing a published plan starts a new draft version; editing a
version after an approval invalidates the approval) → ``do_submit_for_review`` (emails the named
approvers) → ``do_decide`` by each approver, stating the version and content hash they read →
published automatically when every approver has approved that exact content (the previous
version is superseded, required readers are asked to acknowledge) → ``do_acknowledge``.

Who approves: the plan is "approved by the named senior managers", so every named approver is
an executive (Role.EXECUTIVE) with an active account, and a version is published only when every
one of them has approved its exact content. The security lead and team, who edit and submit the
plan, are never approvers, so nobody approves their own work. A named approver who is deactivated
or loses the executive role cannot decide, and blocks publication (and submission) until the lead
changes the approvers explicitly; the plan never publishes because an approver went away.
Changing the approvers withdraws every standing decision on the version being worked on and, if
it is in review, asks each approver now named again: the new panel approves the version as a
whole, and the change itself never publishes.

Refusals raise PlanStateError (a ValueError) with a message fit to show; invalid content raises
content.ContentError with every problem. Nothing is written when either is raised.
"""

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from bastion.accounts.models import User
from bastion.audit.chain import diff, record
from bastion.lib.emails import queue_email
from bastion.people.models import Group, Person, PersonStatus

from . import links
from .access import APPROVER_ROLES
from .content import check_content, content_hash
from .models import (
    Acknowledgement,
    Approval,
    Decision,
    Plan,
    PlanVersion,
    VersionStatus,
    valid_reader_roles,
)
from .starter import starter_content


class PlanStateError(ValueError):
    """The plan is not in a state that allows this (e.g. approving a version not in review)."""


def _person_ids(content: dict) -> set[int]:
    """The directory ids the content names, those that exist (one query)."""
    named: set[int] = set()
    for role in content.get("roles", []) if isinstance(content, dict) else []:
        for holder in role.get("holders", []) if isinstance(role, dict) else []:
            if isinstance(holder, dict):
                named |= {v for v in (holder.get("person"), holder.get("deputy")) if isinstance(v, int)}
    for rule in content.get("rules", []) if isinstance(content, dict) else []:
        for recipient in rule.get("recipients", []) if isinstance(rule, dict) else []:
            if isinstance(recipient, dict) and isinstance(recipient.get("person"), int):
                named.add(recipient["person"])
    return set(Person.objects.filter(pk__in=named).values_list("pk", flat=True)) if named else set()


def validate_plan_content(content) -> None:
    """Raise ContentError with every problem, people checked against the directory."""
    check_content(content, person_ids=_person_ids(content))


def _summary(version: PlanVersion) -> dict:
    content = version.content
    return {"version": version.number, "status": version.status, "content_hash": version.content_hash,
            "sections": len(content.get("sections", [])), "roles": len(content.get("roles", [])),
            "incident_types": len(content.get("incident_types", [])), "rules": len(content.get("rules", []))}


@transaction.atomic
def install_starter_plan(*, acting_user=None, owner: User | None = None, request=None) -> Plan:
    """Create the plan with the starter content as draft version 1 (it still needs approval).
    If a plan exists already it is returned unchanged."""
    existing = Plan.objects.select_for_update().order_by("pk").first()
    if existing is not None:
        return existing
    user = acting_user if getattr(acting_user, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            # Plan.singleton is unique: of two installs racing, the second fails here.
            plan = Plan.objects.create(owner=owner or user)
    except IntegrityError:
        return Plan.objects.order_by("pk").get()
    version = PlanVersion(plan=plan, number=1, created_by=user,
                          summary_of_changes="The starter plan shipped with Bastion.")
    version.set_content(starter_content())
    version.save()
    record("plan.installed", actor=acting_user, obj=plan, request=request, after=_summary(version))
    return plan


@transaction.atomic
def do_update_plan_settings(*, acting_user, plan: Plan, owner: User | None = None,
                            approvers: Iterable[User] | None = None, review_interval_months: int | None = None,
                            reader_roles: list[str] | None = None, reader_groups: Iterable[Group] | None = None,
                            name: str | None = None, request=None) -> Plan:
    """Change who owns, approves and must read the plan, and how often it is reviewed (only the
    arguments given). Approvers must be active executives. Changing the approvers of a version
    in review withdraws every standing decision on it and asks each approver now named again;
    it never publishes the version."""
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    before = _settings_state(plan)
    approvers_changed = False
    if approvers is not None:
        approvers = list(approvers)
        wrong = [u.email for u in approvers if not u.has_role(*APPROVER_ROLES)]
        if wrong:
            raise PlanStateError("Approvers are executives (senior management) with an active account; not: "
                                 + ", ".join(wrong) + ".")
        approvers_changed = {u.pk for u in approvers} != set(plan.approvers.values_list("pk", flat=True))
        plan.approvers.set(approvers)
    if reader_groups is not None:
        plan.reader_groups.set(list(reader_groups))
    if owner is not None:
        plan.owner = owner
    if review_interval_months is not None:
        if not 1 <= review_interval_months <= 36:
            raise PlanStateError("The review interval is 1 to 36 months.")
        plan.review_interval_months = review_interval_months
    if reader_roles is not None:
        plan.reader_roles = valid_reader_roles(reader_roles)
    if name is not None:
        plan.name = name.strip()[:200] or plan.name
    plan.save()
    old, new = diff(before, _settings_state(plan))
    if new:
        record("plan.settings_changed", actor=acting_user, obj=plan, before=old, after=new, request=request)
    working = plan.working_version()
    if approvers_changed and working is not None:
        # Decisions on the version being worked on were given by another panel: withdrawn, also on
        # a draft (an approval standing from before a request for changes must not count).
        withdrawn = _invalidate(working, "The approvers changed: every approver decides again.")
        if working.status == VersionStatus.IN_REVIEW:
            asked = _ask_approvers(plan, working, acting_user, plan.approvers.order_by("email"))
            record("plan.review_restarted", actor=acting_user, obj=plan, request=request,
                   after={"version": working.number, "decisions_withdrawn": withdrawn, "approvers": asked})
        elif withdrawn:
            record("plan.decisions_withdrawn", actor=acting_user, obj=plan, request=request,
                   after={"version": working.number, "decisions_withdrawn": withdrawn,
                          "reason": "The approvers changed."})
    return plan


def _ask_approvers(plan: Plan, version: PlanVersion, submitted_by, approvers) -> list[str]:
    """Email each approver a request to review the version; their emails."""
    emails = []
    for approver in approvers:
        queue_email(approver.email, "plan_review_request", {
            "approver": approver, "plan": plan, "version": version, "submitted_by": submitted_by,
            "path": links.version_path(version.number)})
        emails.append(approver.email)
    return emails


def _approvers_who_cannot_decide(plan: Plan) -> list[User]:
    """Named approvers whose account is deactivated or who are no longer executives."""
    return [u for u in plan.approvers.order_by("email") if not u.has_role(*APPROVER_ROLES)]


def _cannot_decide_message(unable: list[User]) -> str:
    return (", ".join(u.email for u in unable) + (" is" if len(unable) == 1 else " are")
            + " named as approver but can no longer approve (account deactivated or no longer an executive): "
              "the lead must change the approvers before this version can be approved.")


def _settings_state(plan: Plan) -> dict:
    return {"name": plan.name, "owner": plan.owner.email if plan.owner else None,
            "approvers": sorted(plan.approvers.values_list("email", flat=True)),
            "review_interval_months": plan.review_interval_months, "reader_roles": sorted(plan.reader_roles),
            "reader_groups": sorted(plan.reader_groups.values_list("name", flat=True))}


@transaction.atomic
def do_save_draft(*, acting_user, plan: Plan, content: dict, summary_of_changes: str | None = None,
                  request=None) -> PlanVersion:
    """Save the plan's content (validated here: ContentError lists every problem).

    Saves into the version being worked on; when there is none (only a published version), a
    new draft version starts, even with unchanged content (that is how a yearly review re-approves
    the plan as it is). Saving a version in review sends it back to draft, and any change
    invalidates the standing approvals: approvers must approve the new content."""
    validate_plan_content(content)
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    version = plan.working_version()
    new_hash = content_hash(content)
    if version is None:
        number = (plan.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = PlanVersion(plan=plan, number=number, created_by=acting_user)
    elif version.content_hash == new_hash and summary_of_changes in (None, version.summary_of_changes):
        return version  # nothing changed
    changed = version.pk is None or version.content_hash != new_hash
    was_in_review = version.status == VersionStatus.IN_REVIEW
    if summary_of_changes is not None:
        version.summary_of_changes = summary_of_changes.strip()
    version.set_content(content)
    invalidated = []
    if changed and version.pk is not None:
        invalidated = _invalidate(version, "The content changed after this decision.")
        if was_in_review:
            version.move_to(VersionStatus.DRAFT)
    version.save()
    record("plan.draft_saved", actor=acting_user, obj=plan, request=request,
           after={**_summary(version), **({"approvals_invalidated": invalidated} if invalidated else {}),
                  **({"back_to_draft": True} if changed and was_in_review else {})})
    return version


def _invalidate(version: PlanVersion, reason: str, decision: str | None = None) -> list[str]:
    standing = version.approvals.standing()
    if decision:
        standing = standing.filter(decision=decision)
    emails = sorted(standing.values_list("approver__email", flat=True))
    standing.update(invalidated_at=timezone.now(), invalidated_reason=reason)
    return emails


@transaction.atomic
def do_submit_for_review(*, acting_user, plan: Plan, request=None) -> PlanVersion:
    """Send the draft to the named approvers: each gets an email asking for their decision.

    Earlier requests for changes are closed (this is a new round); approvals of this exact
    content still stand, and if every approver has approved it already it is published now."""
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    version = plan.working_version()
    if version is None or version.status != VersionStatus.DRAFT:
        raise PlanStateError("There is no draft to submit: edit the plan first." if version is None
                             else f"Version {version.number} is already in review.")
    approvers = list(plan.approvers.order_by("email"))
    if not approvers:
        raise PlanStateError("Name the approvers first: nobody could approve this version.")
    unable = _approvers_who_cannot_decide(plan)
    if unable:
        raise PlanStateError(_cannot_decide_message(unable))
    _invalidate(version, "A new review round began.", Decision.CHANGES_REQUESTED)
    version.move_to(VersionStatus.IN_REVIEW)
    version.submitted_by = acting_user
    version.save(update_fields=["status", "submitted_at", "submitted_by"])
    approved = set(version.approvals.standing().filter(decision=Decision.APPROVED, content_hash=version.content_hash)
                   .values_list("approver_id", flat=True))
    _ask_approvers(plan, version, acting_user, [a for a in approvers if a.pk not in approved])
    record("plan.submitted", actor=acting_user, obj=plan, request=request,
           after={**_summary(version), "approvers": [a.email for a in approvers]})
    _publish_if_approved(version, acting_user, request)
    return version


@transaction.atomic
def do_decide(*, acting_user: User, plan: Plan, version_number: int, content_hash: str, decision: str,
              comment: str = "", request=None) -> Approval:
    """Record a named approver's decision on the version in review. They state the version
    number and content hash they read; a mismatch is refused (the content may have changed
    under them). Requesting changes needs a comment and sends the version back to draft; the
    last approval publishes it."""
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    if not plan.approvers.filter(pk=acting_user.pk, is_active=True, role__in=APPROVER_ROLES).exists():
        raise PlanStateError("Only the plan's named approvers can approve it or request changes.")
    if decision not in Decision.values:
        raise PlanStateError(f"The decision is {' or '.join(Decision.values)}.")
    comment = (comment or "").strip()
    if decision == Decision.CHANGES_REQUESTED and not comment:
        raise PlanStateError("Say which changes you are asking for.")
    version = plan.working_version()
    if version is None or version.status != VersionStatus.IN_REVIEW:
        raise PlanStateError(f"Version {version_number} is not under review: no version is in review now.")
    if version.number != version_number:
        raise PlanStateError(f"Version {version_number} is not under review: version {version.number} is.")
    if content_hash != version.content_hash:
        raise PlanStateError(
            f"The content of version {version.number} is not the one you read (you stated "
            f"{content_hash[:12] or 'no hash'}…, it is now {version.content_hash[:12]}…). Reload it and review again.")
    previous = _invalidate_own(version, acting_user)
    approval = Approval.objects.create(version=version, approver=acting_user, decision=decision, comment=comment,
                                       content_hash=version.content_hash)
    record(f"plan.{decision}", actor=acting_user, obj=plan, request=request,
           after={"version": version.number, "content_hash": version.content_hash, "comment": comment,
                  **({"replaces": previous} if previous else {})})
    if decision == Decision.CHANGES_REQUESTED:
        version.move_to(VersionStatus.DRAFT)
        version.save(update_fields=["status"])
        recipients = {u.email: u for u in (plan.owner, version.submitted_by) if u is not None and u.is_active}
        for user in recipients.values():
            queue_email(user.email, "plan_changes_requested", {
                "user": user, "approver": acting_user, "plan": plan, "version": version, "comment": comment,
                "path": links.version_path(version.number)})
    else:
        _publish_if_approved(version, acting_user, request)
    return approval


def _invalidate_own(version: PlanVersion, approver: User) -> str | None:
    """An approver who decides again replaces their standing decision on this version."""
    mine = version.approvals.standing().filter(approver=approver)
    previous = mine.values_list("decision", flat=True).first()
    mine.update(invalidated_at=timezone.now(), invalidated_reason="Replaced by a later decision.")
    return previous


def _publish_if_approved(version: PlanVersion, acting_user, request) -> bool:
    """Publish the version if every named approver, each still an active executive, has
    approved its exact content. A named approver who can no longer decide blocks it."""
    plan = version.plan
    approvers = set(plan.approvers.values_list("pk", flat=True))
    able = set(plan.approvers.filter(is_active=True, role__in=APPROVER_ROLES).values_list("pk", flat=True))
    approved = set(version.approvals.standing().filter(decision=Decision.APPROVED, content_hash=version.content_hash)
                   .values_list("approver_id", flat=True))
    if not approvers or able != approvers or not approvers <= approved:
        return False
    previous = plan.published()
    if previous is not None:
        previous.move_to(VersionStatus.SUPERSEDED)
        previous.save(update_fields=["status", "superseded_at"])
    version.move_to(VersionStatus.PUBLISHED)
    version.save(update_fields=["status", "published_at"])
    record("plan.published", actor=acting_user, obj=plan, request=request,
           after={**_summary(version), "approved_by": sorted(
               User.objects.filter(pk__in=approved).values_list("email", flat=True)),
               "supersedes": previous.number if previous else None})
    from .tasks import ask_readers_to_acknowledge

    version_pk = version.pk
    transaction.on_commit(lambda: ask_readers_to_acknowledge.enqueue(version_pk))
    return True


@transaction.atomic
def do_acknowledge(*, version: PlanVersion, person: Person, acting_user=None, request=None) -> Acknowledgement:
    """Record that the person has read the version. Only the version in force can be
    acknowledged, by someone still in the directory (not a leaver); acknowledging it again
    changes nothing (also when two requests race: the second returns the first's record)."""
    version = PlanVersion.objects.select_for_update().get(pk=version.pk)
    if person.status != PersonStatus.ACTIVE:
        raise PlanStateError(f"{person.first_name} {person.last_name} has left the organisation: only current "
                             "staff acknowledge the plan.")
    if version.status != VersionStatus.PUBLISHED:
        if version.status == VersionStatus.SUPERSEDED:
            raise PlanStateError(f"Version {version.number} has been replaced; acknowledge the plan in force.")
        raise PlanStateError(f"Version {version.number} is not published yet; only the plan in force is acknowledged.")
    existing = Acknowledgement.objects.filter(version=version, person=person).first()
    if existing is not None:
        return existing
    user = acting_user if getattr(acting_user, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            acknowledgement = Acknowledgement.objects.create(version=version, person=person, user=user)
    except IntegrityError:  # a concurrent request acknowledged first
        return Acknowledgement.objects.get(version=version, person=person)
    record("plan.acknowledged", actor=user, actor_label=None if user else person.email, obj=version.plan,
           request=request, after={"version": version.number, "person": person.email})
    return acknowledgement
