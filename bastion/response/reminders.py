"""The plan's reminders: asking required readers to acknowledge the version in force (and
reminding them), and the periodic review reminder to the plan owner, escalating when overdue.

Each email is claimed by inserting a row under a unique constraint (``AcknowledgementAsk``
(version, person, stage), ``PlanReviewReminder`` (plan, due date, stage)) in the transaction
that queues it: a job run twice, or two workers at once, send it once. If queueing fails, the
claim rolls back with it and the next run tries again.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.audit.chain import record
from bastion.lib.emails import queue_email, queue_emails

from . import links
from .models import (
    Acknowledgement,
    AcknowledgementAsk,
    Plan,
    PlanReviewReminder,
    PlanVersion,
    VersionStatus,
)

# Reminders to readers who have not acknowledged, this many days after they were first asked.
ACK_REMINDER_DAYS = (7, 21)
BATCH = 1000
# The review reminder: to the owner 30 days before and on the due date; to the owner and the
# security leads once the review is this many days overdue.
REVIEW_WARNING_DAYS = 30
ESCALATE_AFTER_DAYS = 14
# A plan with no version ever published: its owner is reminded once, this long after it was
# created (a plan nobody approved protects nobody, and the yearly review never starts).
UNPUBLISHED_REMINDER_DAYS = 30


def ask_readers(version: PlanVersion, now: datetime | None = None) -> int:
    """Ask every required reader who has not acknowledged the version (and has not been asked),
    then remind those asked long enough ago. Returns the number of emails queued."""
    now = now or timezone.now()
    if version.status != VersionStatus.PUBLISHED:
        return 0
    sent = _ask(version, "ask", now, None)
    for days in ACK_REMINDER_DAYS:
        sent += _ask(version, f"{days}d", now, now - timedelta(days=days))
    return sent


def _ask(version: PlanVersion, stage: str, now: datetime, asked_before: datetime | None) -> int:
    acknowledged = Acknowledgement.objects.filter(person=OuterRef("pk"), version=version)
    asks = AcknowledgementAsk.objects.filter(person=OuterRef("pk"), version=version)
    people = version.plan.required_readers().exclude(Exists(acknowledged)).exclude(Exists(asks.filter(stage=stage)))
    if asked_before is not None:
        people = people.filter(Exists(asks.filter(stage="ask", at__lte=asked_before)))
    rows = list(people.order_by("pk").values_list("pk", "email", "first_name"))
    sent = 0
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        try:
            with transaction.atomic():
                AcknowledgementAsk.objects.bulk_create([
                    AcknowledgementAsk(version=version, person_id=pk, stage=stage, at=now) for pk, _, _ in batch])
                queue_emails([(email, "plan_acknowledge", {
                    "first_name": first_name, "plan": version.plan, "version": version, "reminder": stage != "ask",
                    "link": settings.BASE_URL + links.acknowledge_link_path(pk, version.number, now=now)})
                    for pk, email, first_name in batch])
                record("plan.acknowledgement_asked", actor_label="bastion worker", obj=version.plan, after={
                    "version": version.number, "stage": stage, "people": [email for _, email, _ in batch]})
        except IntegrityError:
            continue  # another run asked them meanwhile: it sent the emails
        sent += len(batch)
    return sent


def send_acknowledgement_reminders(now: datetime | None = None) -> int:
    """Ask and remind the readers of every plan's version in force."""
    now = now or timezone.now()
    return sum(ask_readers(version, now) for version in PlanVersion.objects.filter(
        status=VersionStatus.PUBLISHED).select_related("plan"))


def review_stage(days_left: int) -> str | None:
    """The review reminder due with this many days left until the review date (negative once
    past it): "30d", "due", "overdue" (escalated), or None while it is far off."""
    if days_left <= -ESCALATE_AFTER_DAYS:
        return "overdue"
    if days_left <= 0:
        return "due"
    if days_left <= REVIEW_WARNING_DAYS:
        return "30d"
    return None


def send_review_reminders(now: datetime | None = None) -> int:
    """Remind each plan's owner that its periodic review is coming due or due, and escalate to
    the security leads once it is overdue; each stage once per due date. Returns emails queued."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    for plan in Plan.objects.select_related("owner"):
        due_on = plan.review_due_on()
        if due_on is None:
            if plan.versions.filter(published_at__isnull=False).exists():
                continue
            # Never published: one reminder, due a month after the plan was created.
            due_on = timezone.localdate(plan.created_at) + timedelta(days=UNPUBLISHED_REMINDER_DAYS)
            days_left = (due_on - today).days
            stage = "unpublished" if days_left <= 0 else None
        else:
            days_left = (due_on - today).days
            stage = review_stage(days_left)
        if stage is None:
            continue
        recipients = {plan.owner.email: plan.owner} if plan.owner and plan.owner.is_active else {}
        if stage == "overdue" or not recipients:
            recipients |= {u.email: u for u in User.objects.filter(role=Role.SECURITY_LEAD, is_active=True)}
        if not recipients:
            continue
        working = plan.working_version()
        try:
            with transaction.atomic():
                PlanReviewReminder.objects.create(plan=plan, due_on=due_on, stage=stage, sent_at=now,
                                                  recipients=sorted(recipients))
                for email, user in sorted(recipients.items()):
                    queue_email(email, "plan_review_reminder", {
                        "user": user, "plan": plan, "stage": stage, "due_on": due_on, "days_left": days_left,
                        "days_overdue": -days_left, "working": working, "path": links.plan_path()})
                record("plan.review_reminded", actor_label="bastion worker", obj=plan,
                       after={"due_on": due_on.isoformat(), "stage": stage, "recipients": sorted(recipients)})
        except IntegrityError:
            continue  # already sent for this due date and stage
        sent += len(recipients)
    return sent

