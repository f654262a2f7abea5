"""Criticality reviews: leaders rate the systems in scope, the lead closes and keeps the results."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .ranking import DEFAULT_DIMENSIONS, DEFAULT_TIER_THRESHOLDS

IMPACT_CHOICES = [(n, str(n)) for n in range(1, 6)]


def default_dimensions() -> list[dict]:
    return [{"key": key, "label": dimension_label(key), "weight": 1.0} for key in DEFAULT_DIMENSIONS]


def default_tier_thresholds() -> list[float]:
    return list(DEFAULT_TIER_THRESHOLDS)


def dimension_label(key: str) -> str:
    """The label of a default dimension (a review's own dimensions carry their label)."""
    return key.replace("_", " / " if key == "legal_regulatory" else " ").capitalize()

# Days before the deadline when a leader who has not submitted is reminded (most urgent last).
REMINDER_STAGES = (7, 1)


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class ReviewAggregation(models.TextChoices):
    MEAN = "mean", "Mean of the leaders' scores"
    HIGH_WATER = "high_water", "High-water mark (the highest leader's score)"


class CriticalityReview(models.Model):
    """One round of leaders rating how much the business depends on each system in scope."""

    # Which status may follow which: a review is prepared, opened to the leaders, then closed.
    TRANSITIONS = {
        ReviewStatus.DRAFT: {ReviewStatus.OPEN},
        ReviewStatus.OPEN: {ReviewStatus.CLOSED},
        ReviewStatus.CLOSED: set(),
    }

    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT,
                              db_index=True)
    deadline = models.DateField()
    aggregation = models.CharField(max_length=16, choices=ReviewAggregation.choices,
                                   default=ReviewAggregation.MEAN)
    dimensions = models.JSONField(default=default_dimensions)
    tier_thresholds = models.JSONField(default=default_tier_thresholds)
    systems = models.ManyToManyField("systems.BusinessSystem", related_name="criticality_reviews")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def dimension_keys(self) -> list[str]:
        return [d["key"] for d in self.dimensions]

    @property
    def dimension_labels(self) -> dict[str, str]:
        return {d["key"]: d.get("label") or dimension_label(d["key"]) for d in self.dimensions}

    @property
    def tiers(self) -> list[dict]:
        """The tier bands as the lead set them: tier, lowest score, and the next tier's bound."""
        bounds = [float(t) for t in self.tier_thresholds]
        bands = [{"tier": i + 1, "from": low, "below": bounds[i - 1] if i else None} for i, low in enumerate(bounds)]
        bands.append({"tier": len(bounds) + 1, "from": None, "below": bounds[-1] if bounds else None})
        return bands

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[ReviewStatus(self.status)]

    def move_to(self, status: str) -> None:
        """Change status (not saved), refusing a move the map does not allow."""
        if not self.can_move_to(status):
            raise ValidationError(f"A {self.get_status_display().lower()} review cannot become {status}.")
        now = timezone.now()
        if status == ReviewStatus.OPEN:
            self.opened_at = now
        elif status == ReviewStatus.CLOSED:
            self.closed_at = now
        self.status = status


class InvitationStatus(models.TextChoices):
    INVITED = "invited", "Invited"
    DRAFT = "draft", "Draft saved"
    SUBMITTED = "submitted", "Submitted"


class ReviewInvitation(models.Model):
    """A leader (a person in the directory) asked to rate the review's systems."""

    review = models.ForeignKey(CriticalityReview, on_delete=models.CASCADE, related_name="invitations")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="review_invitations")
    status = models.CharField(max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.INVITED)
    submitted_at = models.DateTimeField(null=True, blank=True)
    systems = models.ManyToManyField(
        "systems.BusinessSystem", blank=True, related_name="+",
        help_text="The systems this leader's processes depend on; none chosen = every system in scope")

    class Meta:
        ordering = ["person__last_name", "person__first_name", "id"]
        constraints = [models.UniqueConstraint(fields=["review", "person"], name="review_invitation_unique")]

    def __str__(self) -> str:
        return f"{self.person} in {self.review}"

    def systems_to_rate(self):
        """The systems this leader rates: those chosen for them, else every system in scope."""
        chosen = self.review.systems.filter(pk__in=self.systems.values("pk"))
        return chosen if self.systems.exists() else self.review.systems.all()


class ReviewReminder(models.Model):
    """A reminder sent to a leader who had not submitted: at most one per invitation and stage
    (the unique constraint is the claim that keeps a retried or doubled job from sending twice)."""

    invitation = models.ForeignKey(ReviewInvitation, on_delete=models.CASCADE, related_name="reminders")
    stage = models.CharField(max_length=32, help_text="'7d', '1d' before the deadline, or 'manual:<date>'")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["invitation", "stage"], name="review_reminder_once")]


class ReviewCycleReminder(models.Model):
    """A reminder to the security leads that the yearly review is coming due, once per due date
    and stage."""

    due_on = models.DateField()
    stage = models.CharField(max_length=16, help_text="'30d' before the due date, or 'due'")
    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["due_on", "stage"], name="review_cycle_reminder_once")]


class SystemRating(models.Model):
    """One leader's answer for one system: impact 1–5 per dimension (absent = skipped)."""

    invitation = models.ForeignKey(ReviewInvitation, on_delete=models.CASCADE, related_name="ratings")
    system = models.ForeignKey("systems.BusinessSystem", on_delete=models.CASCADE, related_name="+")
    impacts = models.JSONField(default=dict)
    tolerable_downtime_hours = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invitation", "system"], name="system_rating_unique")]


class ReviewResult(models.Model):
    """A system's place in a closed review, as computed when it closed."""

    review = models.ForeignKey(CriticalityReview, on_delete=models.CASCADE, related_name="results")
    system = models.ForeignKey("systems.BusinessSystem", on_delete=models.CASCADE, related_name="review_results")
    score = models.FloatField(null=True)
    rank = models.PositiveIntegerField(null=True)
    raters = models.PositiveIntegerField(default=0)
    spread = models.FloatField(default=0)
    stdev = models.FloatField(default=0)
    tier = models.PositiveSmallIntegerField(null=True)
    effective_tier = models.PositiveSmallIntegerField(null=True)
    raised_reason = models.TextField(blank=True)
    tolerable_downtime_hours = models.FloatField(null=True)
    rto_gap = models.BooleanField(default=False)
    warranted_share = models.FloatField(null=True)
    actual_share = models.FloatField(null=True)

    class Meta:
        ordering = [models.F("rank").asc(nulls_last=True), "system__name", "id"]
        constraints = [models.UniqueConstraint(fields=["review", "system"], name="review_result_unique")]
