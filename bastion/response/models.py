"""The incident response plan: versions of its content, approvals, acknowledgements, and the
claim rows that make each reminder go out once.

A version's content is one JSON document (content.py describes it): diffing, hashing and
editing work on the document as a whole, and an approval is bound to its SHA-256.
"""

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from bastion.accounts.models import Role

from .content import content_hash
from .evaluator import add_months


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"
    SUPERSEDED = "superseded", "Superseded"


class Decision(models.TextChoices):
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"


class Plan(models.Model):
    """The organisation's incident response plan (one per installation) and how it is governed:
    who owns it, who approves a version, who must read it, how often it is reviewed."""

    name = models.CharField(max_length=200, default="Incident response plan")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text="Runs the yearly review; usually the security lead")
    approvers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="plans_to_approve",
                                       help_text="Every one of them approves a version before it is published")
    review_interval_months = models.PositiveSmallIntegerField(default=12)
    reader_roles = models.JSONField(default=list, blank=True,
                                    help_text="Roles (accounts.Role) whose users must acknowledge the plan")
    reader_groups = models.ManyToManyField("people.Group", blank=True, related_name="+",
                                           help_text="Groups whose members must acknowledge the plan")
    created_at = models.DateTimeField(default=timezone.now)
    # Always true and unique: one plan per installation, even when two installs race.
    singleton = models.BooleanField(default=True, editable=False, unique=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> "Plan | None":
        return cls.objects.order_by("pk").first()

    def published(self) -> "PlanVersion | None":
        return self.versions.filter(status=VersionStatus.PUBLISHED).first()

    def working_version(self) -> "PlanVersion | None":
        """The draft or the version in review (at most one), if any."""
        return self.versions.filter(status__in=[VersionStatus.DRAFT, VersionStatus.IN_REVIEW]).first()

    def review_due_on(self) -> date | None:
        """When the published version must have been reviewed: its publication plus the interval."""
        published = self.published()
        if published is None or published.published_at is None:
            return None
        return add_months(timezone.localtime(published.published_at), self.review_interval_months).date()

    def required_readers(self):
        """The people who must acknowledge the plan: active members of the reader groups and
        active people whose user account has one of the reader roles (one query)."""
        from bastion.people.models import GroupKind, Person, PersonStatus, rules_to_q

        wanted = Q(user__role__in=self.reader_roles, user__is_active=True) if self.reader_roles else Q(pk__in=[])
        groups = list(self.reader_groups.all())
        static = [g.pk for g in groups if g.kind == GroupKind.STATIC]
        if static:
            wanted |= Q(pk__in=Person.objects.filter(static_groups__in=static).values("pk"))
        for group in groups:
            if group.kind == GroupKind.RULE:
                wanted |= Q(pk__in=Person.objects.filter(rules_to_q(group.rules)).values("pk"))
        return Person.objects.filter(wanted, status=PersonStatus.ACTIVE)


def valid_reader_roles(roles: list[str]) -> list[str]:
    """The roles given, checked against accounts.Role (ValidationError naming an unknown one)."""
    unknown = [r for r in roles if r not in Role.values]
    if unknown:
        raise ValidationError(f"Unknown role(s): {', '.join(unknown)} (the roles are: {', '.join(Role.values)}).")
    return sorted(set(roles))


class PlanVersion(models.Model):
    """One version of the plan's content, moving draft → in review → published → superseded."""

    # Which status may follow which. A version in review goes back to draft when it is edited
    # or an approver asks for changes; a published one is only ever superseded by the next.
    TRANSITIONS = {
        VersionStatus.DRAFT: {VersionStatus.IN_REVIEW},
        VersionStatus.IN_REVIEW: {VersionStatus.DRAFT, VersionStatus.PUBLISHED},
        VersionStatus.PUBLISHED: {VersionStatus.SUPERSEDED},
        VersionStatus.SUPERSEDED: set(),
    }

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    content = models.JSONField()
    content_hash = models.CharField(max_length=64)
    summary_of_changes = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="plan_version_unique"),
            # One version being worked on, and one in force, at a time.
            models.UniqueConstraint(fields=["plan"], condition=Q(status__in=["draft", "in_review"]),
                                    name="plan_one_working_version"),
            models.UniqueConstraint(fields=["plan"], condition=Q(status="published"),
                                    name="plan_one_published_version"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} (version {self.number})"

    def set_content(self, content: dict) -> None:
        """Set the content and its hash together (the hash is computed in content.py only)."""
        self.content = content
        self.content_hash = content_hash(content)
        self.updated_at = timezone.now()

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[VersionStatus(self.status)]

    def move_to(self, status: str) -> None:
        """Change status (not saved), refusing a move the map does not allow."""
        if not self.can_move_to(status):
            raise ValidationError(f"Version {self.number} is {self.get_status_display().lower()}; "
                                  f"it cannot become {VersionStatus(status).label.lower()}.")
        now = timezone.now()
        if status == VersionStatus.IN_REVIEW:
            self.submitted_at = now
        elif status == VersionStatus.PUBLISHED:
            self.published_at = now
        elif status == VersionStatus.SUPERSEDED:
            self.superseded_at = now
        self.status = status

    @property
    def editable(self) -> bool:
        return self.status in (VersionStatus.DRAFT, VersionStatus.IN_REVIEW)


class ApprovalQuerySet(models.QuerySet["Approval"]):
    def standing(self) -> "ApprovalQuerySet":
        """Decisions not invalidated by a later edit or a new review round."""
        return self.filter(invalidated_at__isnull=True)


class Approval(models.Model):
    """An approver's decision on a version: who, when, and the hash of the exact content they
    decided on. A later edit invalidates it (kept, with the reason, for the record)."""

    version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64)
    at = models.DateTimeField(default=timezone.now)
    invalidated_at = models.DateTimeField(null=True, blank=True)
    invalidated_reason = models.CharField(max_length=200, blank=True)

    objects = ApprovalQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "approver"], condition=Q(invalidated_at__isnull=True),
                                    name="approval_one_standing_decision"),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} by {self.approver} on {self.version}"


class Acknowledgement(models.Model):
    """A person's confirmation that they have read a published version."""

    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="acknowledgements")
    # PROTECT: an acknowledgement is evidence; deleting a person must not erase it.
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="plan_acknowledgements")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text="Signed in as, when not through an emailed link")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["version", "person"], name="plan_acknowledgement_once")]


class AcknowledgementAsk(models.Model):
    """A required reader asked by email to acknowledge a version: once per stage ("ask", then
    the reminders "7d", "21d"), claimed under a unique constraint in the transaction that
    queues the email."""

    version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="asks")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(max_length=16)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["version", "person", "stage"], name="plan_ask_once")]


class PlanReviewReminder(models.Model):
    """A review reminder for the plan due on ``due_on``: once per stage ("30d" before and "due"
    to the owner, "overdue" to the owner and the security leads)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="review_reminders")
    due_on = models.DateField()
    stage = models.CharField(max_length=16)
    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.JSONField(default=list)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["plan", "due_on", "stage"], name="plan_review_reminder_once")]
