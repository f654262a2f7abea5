"""The demo's incident response plan: the starter plan staffed with the demo's people, approved
by the CEO and the General Counsel after one round of changes, in force for five weeks and
acknowledged by about 60% of those who must read it, with next year's draft begun.

The workflow goes through the plan's actions (install, settings, save, submit, decide), so the
approvals are bound to the content hash and the audit trail is what a real plan leaves. The
actions stamp the present; the demo then moves those moments into the past, and writes the
acknowledgements in bulk (the demo of 100,000 people has thousands of readers).
"""

import copy
import random
from datetime import datetime, timedelta

from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.people.models import Group, GroupKind, Person, PersonStatus
from bastion.response import actions, reminders
from bastion.response.models import Acknowledgement, Approval, Plan, PlanVersion

# Who holds each role of the starter plan, and their deputy, by directory title.
HOLDERS = {
    "incident_commander": ("CISO", "Security Engineer"),
    "scribe": ("Security Analyst", "Security Engineer"),
    "liaison": ("CIO", "IT Manager"),
    "legal": ("General Counsel", None),  # the deputy comes with the General Counsel's request
    "communications": ("CMO", "Marketing Manager"),
    "executive_sponsor": ("COO", "CFO"),
    "ceo": ("Chief Executive Officer", None),
}
LEGAL_DEPUTY_TITLE = "Counsel"
READER_ROLES = [Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.BUSINESS_LEADER, Role.MANAGER]
ACKNOWLEDGED_SHARE = 0.6

UK_HOLIDAYS = ["2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31", "2026-12-25",
               "2026-12-28", "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30",
               "2027-12-27", "2027-12-28"]


def load_response_plan(*, seed: int = 61, ask_readers: bool = True) -> Plan:
    """Install and run the demo's plan. ``ask_readers``: also send the acknowledgement asks and
    reminders the worker would have sent (the large demo leaves them to the worker)."""
    rng = random.Random(seed)
    now = timezone.now()
    lead = User.objects.filter(role=Role.SECURITY_LEAD, is_active=True).order_by("pk").first()
    ceo = _user_of("Chief Executive Officer")
    counsel = _user_of("General Counsel")
    if lead is None or ceo is None or counsel is None:
        raise RuntimeError("The demo plan needs the demo's security lead, CEO and General Counsel users.")
    people = _people_by_title()
    responders = Group.objects.create(
        name="Incident responders", kind=GroupKind.RULE,
        description="Security, IT and Legal staff, who follow the incident response plan.",
        rules=[{"field": "department", "op": "in", "value": "Security, IT, Legal"},
               {"field": "status", "op": "is", "value": "active"}])

    plan = actions.install_starter_plan(acting_user=lead, owner=lead)
    actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[ceo, counsel],
                                    reader_roles=list(READER_ROLES), reader_groups=[responders])
    content = copy.deepcopy(plan.versions.get().content)
    for role in content["roles"]:
        holder, deputy = HOLDERS.get(role["key"], (None, None))
        if holder in people:
            role["holders"] = [{"person": people[holder][0], "deputy": _deputy(people, deputy, people[holder][0])}]
    actions.do_save_draft(acting_user=lead, plan=plan, content=content,
                          summary_of_changes="The starter plan with our people in its roles.")
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = plan.versions.get()
    actions.do_decide(acting_user=counsel, plan=plan, version_number=1, content_hash=version.content_hash,
                      decision="changes_requested",
                      comment="Legal needs a named deputy: I am not reachable at every hour. Please add one of our counsel.")
    legal = next(r for r in content["roles"] if r["key"] == "legal")
    if legal["holders"]:
        legal["holders"][0]["deputy"] = _deputy(people, LEGAL_DEPUTY_TITLE, legal["holders"][0]["person"])
    actions.do_save_draft(acting_user=lead, plan=plan, content=content,
                          summary_of_changes="The starter plan with our people in its roles; a deputy for Legal.")
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version.refresh_from_db()
    for approver in (ceo, counsel):
        actions.do_decide(acting_user=approver, plan=plan, version_number=1, content_hash=version.content_hash,
                          decision="approved", comment="Approved." if approver == ceo else "")
    version.refresh_from_db()
    published_at = _backdate(plan, version, now)
    _acknowledgements(plan, version, published_at, now, rng, ask_readers=ask_readers)
    _next_draft(plan, lead, content, now)
    return plan


def _user_of(title: str) -> User | None:
    return User.objects.filter(person__title=title, role=Role.EXECUTIVE, is_active=True).order_by("pk").first()


def _people_by_title() -> dict[str, list[int]]:
    titles = {t for pair in HOLDERS.values() for t in pair if t} | {LEGAL_DEPUTY_TITLE}
    found: dict[str, list[int]] = {}
    for pk, title in (Person.objects.filter(title__in=titles, status=PersonStatus.ACTIVE).order_by("pk")
                      .values_list("pk", "title")):
        found.setdefault(title, []).append(pk)
    return found


def _deputy(people: dict[str, list[int]], title: str | None, holder: int) -> int | None:
    return next((pk for pk in people.get(title or "", []) if pk != holder), None)


def _at(moment: datetime, rng: random.Random) -> datetime:
    """A moment in office hours on the day of ``moment`` (local time)."""
    local = timezone.localtime(moment)
    return local.replace(hour=8 + rng.randrange(9), minute=rng.randrange(60), second=0, microsecond=0)


def _backdate(plan: Plan, version: PlanVersion, now: datetime) -> datetime:
    """Move the plan's history into the past: drafted six weeks ago, sent back for a change,
    resubmitted, and published five weeks ago."""
    day = timedelta(days=1)
    rng = random.Random(version.pk)
    published_at = _at(now - 35 * day, rng)
    first_submitted, resubmitted = _at(now - 41 * day, rng), _at(now - 37 * day, rng)
    Plan.objects.filter(pk=plan.pk).update(created_at=_at(now - 45 * day, rng))
    PlanVersion.objects.filter(pk=version.pk).update(
        created_at=_at(now - 45 * day, rng), updated_at=resubmitted, submitted_at=resubmitted,
        published_at=published_at)
    # The decisions in order: Legal's request for a change, then the CEO's and Legal's approvals.
    decisions = list(version.approvals.order_by("at", "id"))
    moments = [first_submitted + timedelta(days=1), published_at - timedelta(hours=3), published_at]
    for approval, moment in zip(decisions, moments[-len(decisions):], strict=True):
        Approval.objects.filter(pk=approval.pk).update(
            at=moment, invalidated_at=resubmitted if approval.invalidated_at else None)
    return published_at


def _acknowledgements(plan: Plan, version: PlanVersion, published_at: datetime, now: datetime,
                      rng: random.Random, *, ask_readers: bool) -> None:
    """About 60% of the required readers acknowledged, most in the first week (the owner and the
    approvers among them); the others were asked on publication and reminded after 7 and 21
    days. The demo's manager and business leader have not yet, so a newcomer can."""
    readers = list(plan.required_readers().order_by("pk").values_list("pk", flat=True))
    signed_in = dict(User.objects.filter(person__isnull=False).values_list("person_id", "role"))
    first = {pk for pk, role in signed_in.items() if role in (Role.SECURITY_LEAD, Role.EXECUTIVE)}
    not_yet = {pk for pk, role in signed_in.items() if role in (Role.MANAGER, Role.BUSINESS_LEADER)}
    version.refresh_from_db()
    if ask_readers:
        reminders.ask_readers(version, now=published_at + timedelta(minutes=20))
    acks = []
    for pk in readers:
        if pk in not_yet or (pk not in first and rng.random() >= ACKNOWLEDGED_SHARE):
            continue
        days = 0 if pk in first else rng.choice([0, 0, 1, 1, 2, 3, 4, 6, 9, 13, 22, 30])
        moment = min(_at(published_at + timedelta(days=days), rng), now - timedelta(hours=1))
        acks.append(Acknowledgement(version=version, person_id=pk, at=max(moment, published_at + timedelta(minutes=30))))
    Acknowledgement.objects.bulk_create(acks, batch_size=2000)
    if ask_readers:
        for days in reminders.ACK_REMINDER_DAYS:
            reminders.ask_readers(version, now=published_at + timedelta(days=days, hours=1))


def _next_draft(plan: Plan, lead: User, content: dict, now: datetime) -> None:
    """Next year's plan begun: UK bank holidays for the London office's business-day deadlines."""
    content = copy.deepcopy(content)
    content["calendars"].append({"key": "GB", "name": "England and Wales bank holidays",
                                 "time_zone": "Europe/London", "holidays": UK_HOLIDAYS})
    version = actions.do_save_draft(acting_user=lead, plan=plan, content=content,
                                    summary_of_changes="Adds the UK bank holidays (London office).")
    PlanVersion.objects.filter(pk=version.pk).update(created_at=now - timedelta(days=3),
                                                     updated_at=now - timedelta(days=2))
