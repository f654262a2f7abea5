"""The post-incident review: root cause, what worked, what did not, the incident's deviations
reviewed with the answer to "should the plan change?" (and what), and action items with an owner
and a due date, reminded once per due date.

Closing an incident requires the review completed, or waived by the security lead with a reason
(actions.do_change_status checks ``PostIncidentReview.allows_closing``). While the incident is
open the review may be rewritten and completed or re-opened; once it is closed the review stands
and only its action items' status changes (done later, as the work gets done).
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from bastion.audit.chain import record
from bastion.lib.emails import queue_email
from bastion.people.models import Person

from . import timeline
from .models import (
    MIN_EXPLANATION_LENGTH,
    ActionItem,
    ActionItemStatus,
    EntryKind,
    Incident,
    PostIncidentReview,
    Status,
)

MAX_TEXT = 20_000
MAX_ACTION_ITEMS = 200


@dataclass(frozen=True)
class ActionItemInput:
    """One action item as written in the review: ``id`` of an existing one, or None for a new one."""

    title: str
    owner: Person | None
    due_date: date | None
    status: str = ActionItemStatus.OPEN
    id: int | None = None


def review_of(incident: Incident) -> PostIncidentReview:
    """The incident's review (an empty, unsaved one if nobody has written it yet)."""
    return PostIncidentReview.objects.filter(incident=incident).first() or PostIncidentReview(incident=incident)


def _text_problems(fields: dict[str, str]) -> list[str]:
    return [f"The text of {label!r} is longer than {MAX_TEXT:,} characters."
            for label, text in fields.items() if len(text) > MAX_TEXT]


def _item_problems(items: list[ActionItemInput], existing: set[int]) -> list[str]:
    problems = []
    if len(items) > MAX_ACTION_ITEMS:
        problems.append(f"At most {MAX_ACTION_ITEMS} action items.")
    for n, item in enumerate(items, 1):
        if item.id is not None and item.id not in existing:
            problems.append(f"Action item {n}: this review has no action item {item.id}.")
        if not item.title.strip():
            problems.append(f"Action item {n}: say what is to be done.")
        if item.owner is None:
            problems.append(f"Action item {n}: name its owner.")
        if item.due_date is None:
            problems.append(f"Action item {n}: give its due date.")
        if item.status not in ActionItemStatus.values:
            problems.append(f"Action item {n}: the status is one of {', '.join(ActionItemStatus.values)}.")
    return problems


def _completion_problems(root_cause: str, what_worked: str, what_did_not: str, plan_should_change: bool | None,
                         plan_changes: str) -> list[str]:
    problems = []
    if not root_cause.strip():
        problems.append("Give the root cause (or what is known of it) to complete the review.")
    if not what_worked.strip():
        problems.append("Say what worked to complete the review.")
    if not what_did_not.strip():
        problems.append("Say what did not work to complete the review.")
    if plan_should_change is None:
        problems.append("Having reviewed the deviations, say whether the plan should change.")
    elif plan_should_change and not plan_changes.strip():
        problems.append("Say what should change in the plan.")
    return problems


@transaction.atomic
def do_save_review(*, acting_user, incident: Incident, root_cause: str, what_worked: str, what_did_not: str,
                   plan_should_change: bool | None, plan_changes: str, action_items: list[ActionItemInput],
                   complete: bool = False, request=None, now: datetime | None = None) -> PostIncidentReview:
    """Write the review (action items listed replace those saved: matched by id, new ones added,
    missing ones removed); ``complete`` marks it completed once every part is there, and False
    re-opens a completed one. Refused once the incident is closed."""
    now = now or timezone.now()
    incident = timeline.lock_incident(incident.pk)
    review = review_of(incident)
    problems = []
    if incident.status == Status.CLOSED:
        problems.append("The incident is closed; its review stands (action items can still be marked done).")
    existing = set(review.action_items.values_list("pk", flat=True)) if review.pk else set()
    problems += _text_problems({"root cause": root_cause, "what worked": what_worked, "what did not": what_did_not,
                                "plan changes": plan_changes})
    problems += _item_problems(action_items, existing)
    if complete:
        problems += _completion_problems(root_cause, what_worked, what_did_not, plan_should_change, plan_changes)
    if problems:
        raise ValidationError(problems)
    was_completed = review.completed_at is not None
    review.root_cause, review.what_worked, review.what_did_not = root_cause.strip(), what_worked.strip(), what_did_not.strip()
    review.plan_should_change = plan_should_change
    review.plan_changes = plan_changes.strip() if plan_should_change else ""
    if complete and not was_completed:
        review.completed_at, review.completed_by = now, acting_user
    elif not complete:
        review.completed_at, review.completed_by = None, None
    review.updated_at = now
    review.save()
    kept = {item.id for item in action_items if item.id is not None}
    review.action_items.exclude(pk__in=kept).delete()
    saved = {i.pk: i for i in review.action_items.all()}
    for item in action_items:
        row = saved[item.id] if item.id is not None else ActionItem(review=review)
        done_at = row.done_at if row.status == ActionItemStatus.DONE else now
        assert item.owner is not None and item.due_date is not None  # checked by _item_problems
        row.title, row.owner, row.status = item.title.strip()[:300], item.owner, item.status
        row.due_date = item.due_date
        row.done_at = done_at if item.status == ActionItemStatus.DONE else None
        row.save()
    if complete and not was_completed:
        what = "completed"
    elif was_completed and not complete:
        what = "re-opened"
    else:
        what = "saved"
    changes = f"; the plan should change: {review.plan_changes}" if plan_should_change else (
        "; the plan need not change" if plan_should_change is False else "")
    timeline.append(incident, kind=EntryKind.REVIEW, author=acting_user, now=now, text=(
        f"Post-incident review {what}: {len(action_items)} action item{'s' if len(action_items) != 1 else ''}"
        f"{changes.rstrip('.')}."))
    incident.updated_at = now
    incident.save(update_fields=["updated_at"])
    record(f"incident.review_{what}", actor=acting_user, obj=incident, request=request, after={
        "plan_should_change": plan_should_change, "action_items": len(action_items),
        "completed": review.completed_at is not None})
    return review


@transaction.atomic
def do_waive_review(*, acting_user, incident: Incident, reason: str, request=None,
                    now: datetime | None = None) -> PostIncidentReview:
    """The security lead's waiver of the review (so the incident may close without it): who,
    when and why. The caller checks the role through access.get_incident_for_waiver."""
    now = now or timezone.now()
    incident = timeline.lock_incident(incident.pk)
    review = review_of(incident)
    problems = []
    if incident.status == Status.CLOSED:
        problems.append("The incident is already closed.")
    if review.completed_at is not None:
        problems.append("The review is complete; there is nothing to waive.")
    if review.waived_at is not None:
        problems.append("The review is already waived.")
    if len(reason.strip()) < MIN_EXPLANATION_LENGTH:
        problems.append(f"Explain why the review is waived (at least {MIN_EXPLANATION_LENGTH} characters).")
    elif len(reason) > MAX_TEXT:
        problems.append(f"The reason is longer than {MAX_TEXT:,} characters.")
    if problems:
        raise ValidationError(problems)
    review.waived_at, review.waived_by, review.waiver_reason, review.updated_at = now, acting_user, reason.strip(), now
    review.save()
    timeline.append(incident, kind=EntryKind.REVIEW, author=acting_user, now=now,
                    text=f"Post-incident review waived by {acting_user.email}: {review.waiver_reason}")
    record("incident.review_waived", actor=acting_user, obj=incident, request=request,
           after={"reason": review.waiver_reason})
    return review


@transaction.atomic
def do_set_action_item_status(*, acting_user, item: ActionItem, status: str, request=None,
                              now: datetime | None = None) -> ActionItem:
    """Mark an action item done (or open again), also after the incident has closed."""
    now = now or timezone.now()
    incident = timeline.lock_incident(item.review.incident_id)
    row = ActionItem.objects.select_related("owner").get(pk=item.pk)
    if status not in ActionItemStatus.values:
        raise ValidationError([f"The status is one of {', '.join(ActionItemStatus.values)}."])
    if row.status == status:
        return row
    row.status, row.done_at = status, now if status == ActionItemStatus.DONE else None
    row.save(update_fields=["status", "done_at"])
    timeline.append(incident, kind=EntryKind.REVIEW, author=acting_user, now=now,
                    text=f"Action item {row.title!r} (owner {row.owner}) marked {row.get_status_display().lower()}.")
    record("incident.action_item", actor=acting_user, obj=incident, request=request,
           after={"item": row.pk, "status": status})
    return row


# --- reminders --------------------------------------------------------------------------------

def remind_due_action_items(now: datetime | None = None) -> int:
    """Email each open action item's owner on (or after) its due date, once per due date:
    claimed by setting ``reminded_for`` to the due date with a conditional UPDATE; a due date
    moved later is reminded again. Returns how many were reminded."""
    now = now or timezone.now()
    today = now.date()
    due = list(ActionItem.objects.filter(status=ActionItemStatus.OPEN, due_date__lte=today)
               .filter(Q(reminded_for__isnull=True) | ~Q(reminded_for=F("due_date")))
               .select_related("owner", "review__incident").order_by("due_date", "id")[:1000])
    reminded = 0
    for item in due:
        incident = item.review.incident
        with transaction.atomic():
            claimed = (ActionItem.objects.filter(pk=item.pk, status=ActionItemStatus.OPEN, due_date=item.due_date)
                       .filter(Q(reminded_for__isnull=True) | ~Q(reminded_for=F("due_date")))
                       .update(reminded_for=F("due_date")))
            if not claimed:
                continue
            # A restricted incident's title is for its members; the owner gets the reference.
            queue_email(item.owner.email, "action_item_due", {
                "first_name": item.owner.first_name, "title": item.title, "due_date": item.due_date.isoformat(),
                "reference": incident.reference, "incident_id": incident.pk,
                "incident_title": "" if incident.restricted else incident.title})
            record("incident.action_item_reminder", actor_label="system", obj=incident,
                   after={"item": item.pk, "owner": item.owner.email, "due_date": item.due_date})
            reminded += 1
    return reminded
