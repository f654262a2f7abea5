"""Writes to incidents: each do_* runs in one transaction, locks the incident, and writes its
timeline entry and its audit entry with the change, so all land or none does.

Input is checked here, before anything is written, and refused with a ValidationError naming
every problem (the API answers 422 with them); nothing is half-saved.

Status updates live in updates.py, the post-incident review in review.py, the team after
declaration in team.py and internal notifications sent by email in notices.py (their do_*
functions follow the same pattern). Not yet: deviations not tied to a step.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from bastion.audit.chain import record
from bastion.people.models import Person
from bastion.response.content import (
    CHANNELS,
    CLOCKS,
    FACTS,
    REGULATED_DATA_KINDS,
    fact_value_problem,
    severity_order,
)
from bastion.response.evaluator import EARLIEST_CLOCK, evaluate
from bastion.response.models import Plan
from bastion.systems.models import BusinessSystem

from . import timeline
from .models import (
    DERIVED_CLOCKS,
    DERIVED_FACTS,
    MIN_EXPLANATION_LENGTH,
    ChecklistStep,
    Deviation,
    DeviationKind,
    EntryKind,
    Incident,
    LawEnforcementDecision,
    NotificationDue,
    NotificationStatus,
    PostIncidentReview,
    Status,
    StepState,
    time_text,
)
from .severity import suggest_severity
from .team import team_accounts

# Clock skew tolerated between a client's "now" and ours before a time counts as in the future.
FUTURE_TOLERANCE = timedelta(minutes=2)
MAX_TEXT = 20_000


# --- checks ---------------------------------------------------------------------------------

def _time_problem(label: str, value: Any, now: datetime) -> str | None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        return f"{label} needs a date and time with its time zone."
    if value > now + FUTURE_TOLERANCE:
        return f"{label} is in the future ({time_text(value)}); record what has happened."
    if value < EARLIEST_CLOCK:
        return f"{label} is before 1970."
    return None


def _fact_problems(content: dict, facts: dict) -> list[str]:
    problems = []
    severities = severity_order(content)
    types = {t["key"] for t in content.get("incident_types", [])}
    for name, value in facts.items():
        if name in DERIVED_FACTS:
            problems.append(f"The fact {name!r} comes from the incident itself; set it through its own field.")
        elif name not in FACTS:
            problems.append(f"Unknown fact {name!r} (the facts are: "
                            f"{', '.join(f for f in FACTS if f not in DERIVED_FACTS)}).")
        elif value is not None:
            problem = fact_value_problem(name, value, severities, types)
            if problem:
                problems.append(problem)
    return problems


def _clock_problems(clocks: dict, now: datetime) -> list[str]:
    problems = []
    for name, value in clocks.items():
        if name in DERIVED_CLOCKS:
            problems.append(f"The clock {name!r} comes from the incident itself (detection or declaration time).")
        elif name not in CLOCKS:
            problems.append(f"Unknown clock {name!r} (the clocks are: "
                            f"{', '.join(c for c in CLOCKS if c not in DERIVED_CLOCKS)}).")
        elif value is not None:
            problem = _time_problem(f"The clock {name!r}", value, now)
            if problem:
                problems.append(problem)
    return problems


def _data_problems(data_involved: list[str]) -> list[str]:
    unknown = [d for d in data_involved if d not in REGULATED_DATA_KINDS]
    if unknown:
        return [f"Unknown kinds of data involved: {', '.join(map(str, unknown))} "
                f"(the kinds are: {', '.join(REGULATED_DATA_KINDS)})."]
    return []


def _type_problems(content: dict, type_key: str) -> list[str]:
    types = [t["key"] for t in content.get("incident_types", [])]
    if type_key not in types:
        return [f"{type_key!r} is not an incident type of the plan in force (the types are: {', '.join(types)})."]
    return []


def _refuse(problems: list[str]) -> None:
    if problems:
        raise ValidationError(problems)


def system_tier(systems: list[BusinessSystem]) -> int | None:
    """The most critical effective tier among the systems (latest closed review), or None."""
    if not systems:
        return None
    found = (BusinessSystem.objects.with_effective_tier().filter(pk__in=[s.pk for s in systems])
             .aggregate(best=Min("effective_tier")))
    return found["best"]


def _stored_clocks(clocks: dict[str, datetime | None]) -> dict[str, str]:
    return {name: time_text(value) for name, value in clocks.items() if value is not None}


# --- declaring ------------------------------------------------------------------------------

@transaction.atomic
def do_declare(*, acting_user, title: str, summary: str, detected_at: datetime, reported_by: str, type_key: str,
               affected_systems: Sequence[BusinessSystem] = (), data_involved: Sequence[str] = (),
               facts: dict | None = None, clocks: dict[str, datetime | None] | None = None,
               severity: str | None = None, severity_reason: str = "",
               incident_commander: Person | None = None, scribe: Person | None = None,
               liaison: Person | None = None, legal: Person | None = None,
               restricted: bool = False, members: Sequence = (),
               request=None, now: datetime | None = None) -> Incident:
    """Declare an incident under the plan version in force (refused if none is): the type's
    playbook becomes its checklist, the severity is suggested (severity.py) and may be overridden
    with a reason, and the plan's rules are evaluated into the notifications due."""
    now = now or timezone.now()
    plan = Plan.current()
    version = plan.published() if plan is not None else None
    if version is None:
        raise ValidationError("No incident response plan is in force, so there is nothing to run an incident by: "
                              "publish the plan (the starter plan can be approved as it is) and declare again.")
    content = version.content
    facts, clocks = dict(facts or {}), dict(clocks or {})
    data = sorted(set(data_involved))
    problems = []
    if not title.strip():
        problems.append("A title is required.")
    if not summary.strip():
        problems.append("Say what is known so far.")
    if not reported_by.strip():
        problems.append("Say who or what reported it.")
    problems += [p for p in [_time_problem("The detection time", detected_at, now)] if p]
    problems += _type_problems(content, type_key) + _data_problems(data)
    problems += _fact_problems(content, facts) + _clock_problems(clocks, now)
    _refuse(problems)

    tier = system_tier(list(affected_systems))
    suggested = suggest_severity(severity_order(content), tier, data)
    severity = severity or suggested
    _refuse(_severity_problems(content, severity, suggested, severity_reason))
    if facts.get("corporate_liability_possible") is True and not clocks.get("liability_flagged"):
        clocks["liability_flagged"] = now  # the starter plan's GC/CEO rule counts from this moment

    incident = Incident.objects.create(
        title=title.strip()[:200], summary=summary.strip(), detected_at=detected_at, reported_by=reported_by.strip()[:200],
        declared_at=now, declared_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        plan_version=version, type_key=type_key, system_tier=tier, data_involved=data,
        facts={k: v for k, v in facts.items() if v is not None}, clocks=_stored_clocks(clocks),
        severity=severity, suggested_severity=suggested,
        severity_reason=severity_reason.strip() if severity != suggested else "",
        incident_commander=incident_commander, scribe=scribe, liaison=liaison, legal=legal,
        restricted=restricted, updated_at=now)
    incident.affected_systems.set(affected_systems)
    if restricted:
        members = [*members, *team_accounts([incident_commander, scribe, liaison, legal])]
    if members:
        incident.members.set(members)
    playbook = incident.incident_type().get("playbook", [])
    ChecklistStep.objects.bulk_create([
        ChecklistStep(incident=incident, step_key=s["key"], title=s["title"], description=s.get("description", ""),
                      owner_role=s.get("owner_role", ""), order=n, required=s.get("required", True))
        for n, s in enumerate(playbook, 1)])
    timeline.append(incident, kind=EntryKind.DECLARED, author=acting_user, event_at=now, now=now, text=(
        f"Declared under plan version {version.number} as {incident.incident_type().get('name', type_key)}, "
        f"severity {severity} (suggested {suggested}{'; ' + incident.severity_reason if incident.severity_reason else ''}). "
        f"Detected {time_text(detected_at)}, reported by {incident.reported_by}. {incident.summary}"))
    _sync_notifications(incident, acting_user, now)
    record("incident.declared", actor=acting_user, obj=incident, request=request, after={
        "plan_version": version.number, "type": type_key, "severity": severity, "suggested_severity": suggested,
        "restricted": restricted, "systems": [s.pk for s in affected_systems], "data_involved": data})
    return incident


def _severity_problems(content: dict, severity: str, suggested: str, reason: str) -> list[str]:
    levels = severity_order(content)
    if severity not in levels:
        return [f"{severity!r} is not a severity level of the plan (the levels are: {', '.join(levels)})."]
    if severity != suggested and not reason.strip():
        return [f"The severity {severity} differs from the suggested {suggested}: say why."]
    return []


# --- facts, clocks, severity, type ----------------------------------------------------------

_UNSET: Any = object()


@transaction.atomic
def do_update_facts(*, acting_user, incident: Incident, facts: dict | None = None,
                    clocks: dict[str, datetime | None] | None = None, type_key: str | None = None,
                    severity: str | None = None, severity_reason: str | None = None,
                    data_involved: list[str] | None = None, affected_systems: list[BusinessSystem] | None = None,
                    request=None, now: datetime | None = None) -> Incident:
    """Change what is known: facts and clocks (merged; None removes one), type, data involved,
    affected systems, severity (with a reason when it differs from the suggestion). The plan's
    rules are evaluated again and the notifications due brought up to date; recorded ones stay.

    A severity that followed the suggestion keeps following it as systems and data change; one
    chosen with a reason stays until changed. Setting corporate_liability_possible starts the
    liability_flagged clock (now) unless it was given."""
    now = now or timezone.now()
    incident = timeline.lock_incident(incident.pk)
    if incident.status == Status.CLOSED:
        raise ValidationError("The incident is closed; its facts can no longer change.")
    content = incident.content
    facts, clocks = dict(facts or {}), dict(clocks or {})
    problems = _fact_problems(content, facts) + _clock_problems(clocks, now)
    if type_key is not None:
        problems += _type_problems(content, type_key)
    if data_involved is not None:
        problems += _data_problems(data_involved)
    _refuse(problems)

    before = _state(incident)
    new_facts = {**incident.facts, **facts}
    new_facts = {k: v for k, v in new_facts.items() if v is not None}
    new_clocks = {**incident.clocks, **_stored_clocks(clocks)}
    for name in [n for n, v in clocks.items() if v is None]:
        new_clocks.pop(name, None)
    if (new_facts.get("corporate_liability_possible") is True and not incident.facts.get("corporate_liability_possible")
            and "liability_flagged" not in new_clocks):
        new_clocks["liability_flagged"] = time_text(now)
    if affected_systems is not None:
        incident.affected_systems.set(affected_systems)
        incident.system_tier = system_tier(list(affected_systems))
    if data_involved is not None:
        incident.data_involved = sorted(set(data_involved))
    followed = incident.severity == incident.suggested_severity
    incident.suggested_severity = suggest_severity(severity_order(content), incident.system_tier, incident.data_involved)
    if severity is not None:
        incident.severity = severity
        if severity_reason is not None:
            incident.severity_reason = severity_reason.strip()
    elif followed:
        incident.severity = incident.suggested_severity
    if incident.severity == incident.suggested_severity:
        incident.severity_reason = ""
    _refuse(_severity_problems(content, incident.severity, incident.suggested_severity, incident.severity_reason))
    old_type = incident.type_key
    if type_key is not None:
        incident.type_key = type_key
    incident.facts, incident.clocks, incident.updated_at = new_facts, new_clocks, now
    incident.save()
    if incident.type_key != old_type:
        _replace_playbook(incident)

    after = _state(incident)
    changed = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
    if not changed:
        return incident
    if "severity" in changed:
        timeline.append(incident, kind=EntryKind.SEVERITY, author=acting_user, now=now, text=(
            f"Severity {before['severity']} → {after['severity']} (suggested {incident.suggested_severity})"
            + (f": {incident.severity_reason}" if incident.severity_reason else ".")))
    rest = {k: v for k, v in changed.items() if k != "severity"}
    if rest:
        timeline.append(incident, kind=EntryKind.FACTS, author=acting_user, now=now, text="Changed: " + "; ".join(
            f"{name} {_words(old)} → {_words(new)}" for name, (old, new) in rest.items()))
    _sync_notifications(incident, acting_user, now)
    record("incident.updated", actor=acting_user, obj=incident, request=request,
           before={k: v[0] for k, v in changed.items()}, after={k: v[1] for k, v in changed.items()})
    return incident


def _state(incident: Incident) -> dict:
    return {"type": incident.type_key, "severity": incident.severity, "suggested_severity": incident.suggested_severity,
            "facts": dict(incident.facts), "clocks": dict(incident.clocks), "data_involved": list(incident.data_involved),
            "systems": sorted(incident.affected_systems.values_list("pk", flat=True)), "system_tier": incident.system_tier}


def _words(value: Any) -> str:
    if value in (None, "", [], {}):
        return "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_words(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def _replace_playbook(incident: Incident) -> None:
    """A new type: the old playbook's untouched steps go, the new playbook's steps follow the ones kept."""
    incident.steps.filter(state=StepState.PENDING, deviations__isnull=True).delete()
    kept = set(incident.steps.values_list("step_key", flat=True))
    start = (incident.steps.order_by("-order").values_list("order", flat=True).first() or 0) + 1
    new = [s for s in incident.incident_type().get("playbook", []) if s["key"] not in kept]
    ChecklistStep.objects.bulk_create([
        ChecklistStep(incident=incident, step_key=s["key"], title=s["title"], description=s.get("description", ""),
                      owner_role=s.get("owner_role", ""), order=start + n, required=s.get("required", True))
        for n, s in enumerate(new)])


# --- notifications due ----------------------------------------------------------------------

def recipient_key(recipient: dict) -> str:
    kind = recipient.get("kind")
    if kind == "role":
        return f"role:{recipient['role']}"
    if kind == "person":
        return f"person:{recipient['person']}"
    return f"external:{recipient.get('name', '')}"[:255]


def _sync_notifications(incident: Incident, acting_user, now: datetime) -> None:
    """Bring the incident's NotificationDue rows in line with the evaluator: new ones created,
    open ones updated (deadline, reason), open ones whose rule stopped applying set to not
    required automatically (and re-opened if it applies again). Rows someone recorded as done
    or not required are never touched. One timeline entry lists what changed."""
    found = {(d.rule, recipient_key(d.recipient)): d
             for d in evaluate(incident.content, incident.evaluator_facts(), incident.clock_times())}
    existing = {(n.rule_key, n.recipient_key): n for n in incident.notifications.all()}
    lines, creates, updates = [], [], []
    for key, due in found.items():
        status = NotificationStatus.DUE if due.deadline is not None else NotificationStatus.PENDING
        row = existing.get(key)
        if row is None:
            creates.append(NotificationDue(
                incident=incident, rule_key=due.rule, rule_name=due.rule_name[:300], recipient_key=key[1],
                recipient_label=due.recipient_label[:300], recipient=due.recipient, deadline=due.deadline,
                reason=due.reason, channel=due.channel, message=due.message, status=status, created_at=now))
            lines.append(f"{due.rule_name} → {due.recipient_label}: {_due_words(due.deadline)}")
            continue
        reopened = row.status == NotificationStatus.NOT_REQUIRED and row.not_required_by_id is None
        if not (row.is_open or reopened):
            continue
        if reopened or row.deadline != due.deadline:
            lines.append(f"{row.rule_name} → {row.recipient_label}: {'applies again, ' if reopened else ''}"
                         f"{_due_words(due.deadline)}")
        if reopened or row.status != NotificationStatus.ESCALATED or row.deadline != due.deadline:
            row.status = status
            row.escalated_at = None if row.status != NotificationStatus.ESCALATED else row.escalated_at
            row.not_required_reason = ""
        row.deadline, row.reason = due.deadline, due.reason
        updates.append(row)
    for key, row in existing.items():
        if key not in found and row.is_open:
            row.status = NotificationStatus.NOT_REQUIRED
            row.not_required_reason = "The rule no longer applies to the incident's facts."
            updates.append(row)
            lines.append(f"{row.rule_name} → {row.recipient_label}: no longer applies")
    NotificationDue.objects.bulk_create(creates)
    if updates:
        NotificationDue.objects.bulk_update(updates, ["status", "deadline", "reason", "not_required_reason",
                                                      "escalated_at"])
    if lines:
        timeline.append(incident, kind=EntryKind.NOTIFICATION, author=acting_user, now=now,
                        text="Notifications by the plan: " + "; ".join(lines))


def _due_words(deadline: datetime | None) -> str:
    return f"due by {time_text(deadline)}" if deadline is not None else "pending (its clock has not started)"


@transaction.atomic
def do_record_notification(*, acting_user, notification: NotificationDue, notified_by: Person | None,
                           notified_whom: str, notified_at: datetime | None, channel: str, what_was_said: str,
                           request=None, now: datetime | None = None) -> NotificationDue:
    """Record a notification as done: who notified whom, when, how and what they were told."""
    now = now or timezone.now()
    incident = timeline.lock_incident(notification.incident_id)
    row = NotificationDue.objects.get(pk=notification.pk)
    problems = open_problems(row)
    if notified_by is None:
        problems.append("Say who notified them.")
    if not notified_whom.strip():
        problems.append("Say whom exactly was notified (name, office, reference).")
    if channel not in CHANNELS:
        problems.append(f"Unknown channel {channel!r} (the channels are: {', '.join(CHANNELS)}).")
    if not what_was_said.strip():
        problems.append("Say what they were told.")
    problems += [p for p in [_time_problem("The time of the notification", notified_at, now)] if p]
    _refuse(problems)
    row.status = NotificationStatus.DONE
    row.notified_by, row.notified_whom, row.notified_at = notified_by, notified_whom.strip()[:300], notified_at
    row.notified_channel, row.what_was_said, row.recorded_by = channel, what_was_said.strip(), acting_user
    row.save()
    late = " (after its deadline)" if row.deadline and notified_at and notified_at > row.deadline else ""
    timeline.append(incident, kind=EntryKind.NOTIFICATION, author=acting_user, event_at=notified_at, now=now, text=(
        f"{row.rule_name}: {notified_by} notified {row.notified_whom} by {CHANNELS[channel]}{late}. "
        f"What was said: {row.what_was_said}"))
    record("incident.notification_done", actor=acting_user, obj=incident, request=request, after={
        "notification": row.pk, "rule": row.rule_key, "recipient": row.recipient_label, "by": notified_by.pk if notified_by else None,
        "whom": row.notified_whom, "at": notified_at, "channel": channel})
    return row


@transaction.atomic
def do_notification_not_required(*, acting_user, notification: NotificationDue, reason: str, request=None,
                                  now: datetime | None = None) -> NotificationDue:
    """Record that a notification the rules call for is not required, and why."""
    now = now or timezone.now()
    incident = timeline.lock_incident(notification.incident_id)
    row = NotificationDue.objects.get(pk=notification.pk)
    problems = open_problems(row)
    if len(reason.strip()) < MIN_EXPLANATION_LENGTH:
        problems.append(f"Explain fully why it is not required (at least {MIN_EXPLANATION_LENGTH} characters).")
    _refuse(problems)
    row.status, row.not_required_reason, row.not_required_by = NotificationStatus.NOT_REQUIRED, reason.strip(), acting_user
    row.save()
    timeline.append(incident, kind=EntryKind.NOTIFICATION, author=acting_user, now=now,
                    text=f"{row.rule_name} → {row.recipient_label}: not required. {row.not_required_reason}")
    record("incident.notification_not_required", actor=acting_user, obj=incident, request=request,
           after={"notification": row.pk, "rule": row.rule_key, "recipient": row.recipient_label,
                  "reason": row.not_required_reason})
    return row


def open_problems(row: NotificationDue) -> list[str]:
    if row.is_open:
        return []
    if row.status == NotificationStatus.NOT_REQUIRED and row.not_required_by_id is None:
        return [f"The rule {row.rule_name!r} no longer applies to this incident; there is nothing to record."]
    return [f"This notification is already recorded as {row.get_status_display().lower()}."]


# --- status and law enforcement -------------------------------------------------------------

@transaction.atomic
def do_change_status(*, acting_user, incident: Incident, status: str, note: str = "", request=None,
                     now: datetime | None = None) -> Incident:
    """Move the incident along the transition map. Closing is refused while the plan's
    law-enforcement criteria are met and no decision is recorded, and until the post-incident
    review is completed or waived by the security lead (review.py)."""
    now = now or timezone.now()
    incident = timeline.lock_incident(incident.pk)
    old = incident.status
    incident.move_to(status, now)
    if status == Status.CLOSED and incident.law_enforcement_required() and not incident.law_enforcement_decision:
        raise ValidationError("A crime is suspected or a ransom was demanded: record the law-enforcement decision "
                              "(reported or not, why, and the contact) before closing.")
    if status == Status.CLOSED:
        review = PostIncidentReview.objects.filter(incident=incident).first()
        if review is None or not review.allows_closing:
            raise ValidationError("Complete the post-incident review, or have the security lead waive it with a "
                                  "reason, before closing.")
    incident.updated_at = now
    incident.save(update_fields=["status", "closed_at", "updated_at"])
    timeline.append(incident, kind=EntryKind.STATUS, author=acting_user, now=now,
                    text=f"Status {Status(old).label} → {Status(status).label}." + (f" {note.strip()}" if note.strip() else ""))
    record("incident.status", actor=acting_user, obj=incident, request=request,
           before={"status": old}, after={"status": status})
    return incident


@transaction.atomic
def do_record_law_enforcement_decision(*, acting_user, incident: Incident, decision: str, rationale: str,
                                       contact: str, decided_by: Person | None, decided_at: datetime | None,
                                       request=None, now: datetime | None = None) -> Incident:
    """The decision on reporting to law enforcement: reported or not, why, the contact, who and when."""
    now = now or timezone.now()
    incident = timeline.lock_incident(incident.pk)
    problems = []
    if decision not in LawEnforcementDecision.values:
        problems.append(f"The decision is one of: {', '.join(LawEnforcementDecision.values)}.")
    if len(rationale.strip()) < MIN_EXPLANATION_LENGTH:
        problems.append(f"Give the reasons for the decision (at least {MIN_EXPLANATION_LENGTH} characters).")
    if decision == LawEnforcementDecision.REPORTED and not contact.strip():
        problems.append("Name the law-enforcement contact and reference.")
    if decided_by is None:
        problems.append("Say who decided.")
    problems += [p for p in [_time_problem("The time of the decision", decided_at, now)] if p]
    _refuse(problems)
    incident.law_enforcement_decision, incident.law_enforcement_rationale = decision, rationale.strip()
    incident.law_enforcement_contact, incident.law_enforcement_decided_by = contact.strip()[:300], decided_by
    incident.law_enforcement_decided_at, incident.updated_at = decided_at, now
    incident.save()
    timeline.append(incident, kind=EntryKind.LAW_ENFORCEMENT, author=acting_user, event_at=decided_at, now=now, text=(
        f"{LawEnforcementDecision(decision).label}, decided by {decided_by}"
        + (f" (contact: {incident.law_enforcement_contact})" if incident.law_enforcement_contact else "")
        + f": {incident.law_enforcement_rationale}"))
    record("incident.law_enforcement", actor=acting_user, obj=incident, request=request,
           after={"decision": decision, "decided_by": decided_by.pk if decided_by else None, "contact": contact})
    return incident


# --- checklist and deviations ---------------------------------------------------------------

@dataclass(frozen=True)
class DeviationReason:
    """Why the plan was not followed: the full explanation, who decided and when."""

    explanation: str
    decided_by: Person | None
    decided_at: datetime | None


def _deviation_problems(reason: DeviationReason | None, what: str, now: datetime) -> list[str]:
    if reason is None:
        return [f"{what} is a deviation from the plan: give the full explanation, who decided and when."]
    problems = []
    if len(reason.explanation.strip()) < MIN_EXPLANATION_LENGTH:
        problems.append(f"Explain fully why the plan was not appropriate, what was done instead and the risk "
                        f"accepted (at least {MIN_EXPLANATION_LENGTH} characters).")
    if reason.decided_by is None:
        problems.append("Say who decided.")
    problems += [p for p in [_time_problem("The time of the decision", reason.decided_at, now)] if p]
    return problems


def _step(incident: Incident, step_key: str) -> ChecklistStep:
    step = incident.steps.filter(step_key=step_key).first()
    if step is None:
        raise ValidationError(f"The checklist has no step {step_key!r}.")
    if step.state != StepState.PENDING:
        raise ValidationError(f"The step {step.title!r} is already {step.get_state_display().lower()}.")
    return step


def _deviate(incident: Incident, step: ChecklistStep, kind: str, reason: DeviationReason, acting_user,
             now: datetime) -> Deviation:
    assert reason.decided_by is not None and reason.decided_at is not None  # checked by _deviation_problems
    deviation = Deviation.objects.create(
        incident=incident, step=step, kind=kind, explanation=reason.explanation.strip()[:MAX_TEXT],
        decided_by=reason.decided_by, decided_at=reason.decided_at, recorded_by=acting_user, recorded_at=now)
    timeline.append(incident, kind=EntryKind.DEVIATION, author=acting_user, event_at=reason.decided_at, now=now, text=(
        f"Deviation — step {step.order} {step.title!r} {DeviationKind(kind).label.lower()}, decided by "
        f"{reason.decided_by}: {deviation.explanation}"))
    return deviation


def _finish(incident: Incident, step: ChecklistStep, state: str, acting_user, now: datetime, note: str) -> None:
    step.state, step.done_at, step.done_by, step.note = state, now, acting_user, note.strip()[:MAX_TEXT]
    step.save()
    incident.updated_at = now
    incident.save(update_fields=["updated_at"])


@transaction.atomic
def do_complete_step(*, acting_user, incident: Incident, step_key: str, note: str = "",
                     deviation: DeviationReason | None = None, request=None, now: datetime | None = None) -> ChecklistStep:
    """Mark a step done. Done while an earlier required step is still pending, it is done out of
    order: a deviation, refused without its explanation."""
    now = now or timezone.now()
    incident = timeline.lock_incident(incident.pk)
    step = _step(incident, step_key)
    earlier = list(incident.steps.filter(order__lt=step.order, required=True, state=StepState.PENDING)
                   .values_list("title", flat=True))
    if earlier:
        _refuse(_deviation_problems(deviation, f"Doing {step.title!r} before {', '.join(map(repr, earlier))}", now))
    _finish(incident, step, StepState.DONE, acting_user, now, note)
    timeline.append(incident, kind=EntryKind.STEP, author=acting_user, now=now,
                    text=f"Step {step.order} done: {step.title}." + (f" {step.note}" if step.note else ""))
    if earlier and deviation is not None:
        _deviate(incident, step, DeviationKind.OUT_OF_ORDER, deviation, acting_user, now)
    record("incident.step_done", actor=acting_user, obj=incident, request=request,
           after={"step": step_key, "out_of_order": bool(earlier)})
    return step


@transaction.atomic
def do_skip_step(*, acting_user, incident: Incident, step_key: str, deviation: DeviationReason | None = None,
                 note: str = "", request=None, now: datetime | None = None) -> ChecklistStep:
    """Skip a step. Skipping a required step is a deviation, refused without its explanation;
    an optional one (the playbook says so) is skipped with a note."""
    now = now or timezone.now()
    incident = timeline.lock_incident(incident.pk)
    step = _step(incident, step_key)
    if step.required:
        _refuse(_deviation_problems(deviation, f"Skipping the required step {step.title!r}", now))
    _finish(incident, step, StepState.SKIPPED, acting_user, now, note)
    timeline.append(incident, kind=EntryKind.STEP, author=acting_user, now=now,
                    text=f"Step {step.order} skipped: {step.title}." + (f" {step.note}" if step.note else ""))
    if step.required and deviation is not None:
        _deviate(incident, step, DeviationKind.SKIPPED, deviation, acting_user, now)
    record("incident.step_skipped", actor=acting_user, obj=incident, request=request,
           after={"step": step_key, "required": step.required})
    return step


@transaction.atomic
def do_deviate(*, acting_user, incident: Incident, step_key: str, deviation: DeviationReason | None,
               note: str = "", request=None, now: datetime | None = None) -> ChecklistStep:
    """Mark a step done differently from the playbook: always a deviation, refused without its
    explanation."""
    now = now or timezone.now()
    incident = timeline.lock_incident(incident.pk)
    step = _step(incident, step_key)
    _refuse(_deviation_problems(deviation, f"Doing {step.title!r} differently", now))
    assert deviation is not None
    _finish(incident, step, StepState.DONE_DIFFERENTLY, acting_user, now, note)
    _deviate(incident, step, DeviationKind.DONE_DIFFERENTLY, deviation, acting_user, now)
    record("incident.step_deviated", actor=acting_user, obj=incident, request=request, after={"step": step_key})
    return step


# --- timeline -------------------------------------------------------------------------------

@transaction.atomic
def do_add_timeline_entry(*, acting_user, incident: Incident, text: str, event_at: datetime | None = None,
                          evidence: tuple[str, bytes] | None = None, request=None, now: datetime | None = None):
    """Append a note (and optionally an evidence file, stored with its SHA-256) to the timeline."""
    now = now or timezone.now()
    incident = timeline.lock_incident(incident.pk)
    problems = []
    if not text.strip():
        problems.append("Say what happened.")
    elif len(text) > MAX_TEXT:
        problems.append(f"The text is longer than {MAX_TEXT:,} characters.")
    if event_at is not None:
        problems += [p for p in [_time_problem("The event time", event_at, now)] if p]
    if evidence is not None:
        name, content = evidence
        if not name.strip():
            problems.append("The evidence file needs a name.")
        if len(content) > timeline.MAX_EVIDENCE_BYTES:
            problems.append(f"The evidence file is {len(content):,} bytes; at most "
                            f"{timeline.MAX_EVIDENCE_BYTES:,} are allowed.")
    _refuse(problems)
    entry = timeline.append(incident, kind=EntryKind.EVIDENCE if evidence else EntryKind.NOTE, author=acting_user,
                            event_at=event_at, evidence=evidence, text=text.strip(), now=now)
    record("incident.timeline_entry", actor=acting_user, obj=incident, request=request,
           after={"seq": entry.seq, "kind": entry.kind, "evidence_sha256": entry.evidence_sha256})
    return entry
