"""Reminders of the criticality review: leaders who have not answered, and the yearly cycle.

Each reminder is claimed by inserting a row with a unique key (invitation and stage, or due
date and stage) in the same transaction that queues its email: a job that runs twice, or two
workers at once, insert the row only once, so the email goes out once. If queueing fails the
claim rolls back with it and the next run tries again.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.audit.chain import record
from bastion.lib.emails import queue_email
from bastion.lib.tokens import make_link_token

from .review_models import (
    REMINDER_STAGES,
    CriticalityReview,
    InvitationStatus,
    ReviewCycleReminder,
    ReviewInvitation,
    ReviewReminder,
    ReviewStatus,
)

# A leader invited (or reminded) less than this long ago is not reminded yet.
QUIET_PERIOD = timedelta(hours=24)
# The yearly review: due a year after the last one closed; the leads hear 30 days before.
CYCLE_WARNING_DAYS = 30


def reminder_stage(deadline: date, today: date) -> str | None:
    """The reminder due for a review with this deadline today: the most urgent stage reached
    (``"1d"`` on the day before and on the day itself, ``"7d"`` from a week before), or None
    before the first stage and after the deadline."""
    days_left = (deadline - today).days
    reached = [days for days in REMINDER_STAGES if 0 <= days_left <= days]
    return f"{min(reached)}d" if reached else None


def send_answer_reminders(now: datetime | None = None) -> int:
    """Remind every leader of an open review who has not submitted, once per stage. Returns
    the number of reminders queued."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    reviews = CriticalityReview.objects.filter(
        status=ReviewStatus.OPEN, deadline__gte=today, deadline__lte=today + timedelta(days=max(REMINDER_STAGES)))
    for review in reviews:
        stage = reminder_stage(review.deadline, today)
        if stage is None or (review.opened_at and now - review.opened_at < QUIET_PERIOD):
            continue
        pending = (review.invitations.exclude(status=InvitationStatus.SUBMITTED)
                   .exclude(reminders__stage=stage)
                   .exclude(reminders__sent_at__gt=now - QUIET_PERIOD)
                   .select_related("person"))
        for invitation in pending:
            sent += remind(invitation, stage, now=now)
    return sent


def remind(invitation: ReviewInvitation, stage: str, *, now: datetime | None = None) -> int:
    """Claim (invitation, stage) and queue the reminder with a fresh link; 0 if already claimed."""
    from .actions import REVIEW_ANSWER_PURPOSE, review_link_expiry

    now = now or timezone.now()
    review = invitation.review
    try:
        with transaction.atomic():
            ReviewReminder.objects.create(invitation=invitation, stage=stage, sent_at=now)
            token = make_link_token(REVIEW_ANSWER_PURPOSE, invitation.pk,
                                    expires_in=review_link_expiry(review, now))
            queue_email(invitation.person.email, "review_reminder", {
                "person": invitation.person, "review": review,
                "days_left": (review.deadline - timezone.localdate(now)).days,
                "draft": invitation.status == InvitationStatus.DRAFT,
                "path": reverse("review-answer-link", args=[token]),
            })
    except IntegrityError:
        return 0  # someone else sent this one
    return 1


@transaction.atomic
def remind_pending_now(*, acting_user, review: CriticalityReview, request=None) -> int:
    """The lead's "remind those who have not answered": at most once a day per leader."""
    review = CriticalityReview.objects.select_for_update().get(pk=review.pk)
    if review.status != ReviewStatus.OPEN:
        raise ValueError("Only an open review has leaders to remind.")
    now = timezone.now()
    stage = f"manual:{timezone.localdate(now).isoformat()}"
    pending = review.invitations.exclude(status=InvitationStatus.SUBMITTED).select_related("person", "review")
    reminded = [i.person.email for i in pending if remind(i, stage, now=now)]
    if reminded:
        record("review.reminded", actor=acting_user, obj=review, request=request, after={"reminded": reminded})
    return len(reminded)


@dataclass(frozen=True)
class ReviewCycle:
    """Where the yearly review stands: the last closed one, when the next is due, and the
    review under way since then (drafted or open), if any."""

    last_closed: CriticalityReview
    due_on: date
    under_way: CriticalityReview | None
    today: date

    @property
    def days_left(self) -> int:
        return (self.due_on - self.today).days

    @property
    def overdue(self) -> bool:
        return self.under_way is None and self.days_left < 0

    @property
    def due_soon(self) -> bool:
        return self.under_way is None and 0 <= self.days_left <= CYCLE_WARNING_DAYS


def a_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def review_cycle(today: date | None = None) -> ReviewCycle | None:
    """None until a first review has closed."""
    today = today or timezone.localdate()
    last = (CriticalityReview.objects.filter(status=ReviewStatus.CLOSED, closed_at__isnull=False)
            .order_by("-closed_at", "-id").first())
    if last is None or last.closed_at is None:
        return None
    under_way = (CriticalityReview.objects.exclude(status=ReviewStatus.CLOSED)
                 .filter(created_at__gt=last.closed_at).order_by("-created_at", "-id").first())
    return ReviewCycle(last_closed=last, due_on=a_year_after(timezone.localdate(last.closed_at)),
                       under_way=under_way, today=today)


def send_cycle_reminders(now: datetime | None = None) -> int:
    """Tell the security leads when the yearly review is 30 days away, and again once it is
    due, unless a new review is already under way. Returns the number of emails queued."""
    now = now or timezone.now()
    cycle = review_cycle(timezone.localdate(now))
    if cycle is None or cycle.under_way is not None:
        return 0
    stage = "due" if cycle.days_left <= 0 else "30d" if cycle.days_left <= CYCLE_WARNING_DAYS else None
    if stage is None:
        return 0
    leads = list(User.objects.filter(role=Role.SECURITY_LEAD, is_active=True).order_by("email"))
    if not leads:
        return 0
    try:
        with transaction.atomic():
            ReviewCycleReminder.objects.create(due_on=cycle.due_on, stage=stage, sent_at=now, recipients=len(leads))
            for lead in leads:
                queue_email(lead.email, "review_cycle_reminder", {
                    "user": lead, "cycle": cycle, "stage": stage, "path": reverse("review-create")})
    except IntegrityError:
        return 0
    return len(leads)
