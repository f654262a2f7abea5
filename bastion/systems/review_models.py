"""Criticality reviews: leaders rate the systems in scope, the lead closes and keeps the results."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .ranking import DEFAULT_DIMENSIONS, DEFAULT_TIER_THRESHOLDS

IMPACT_CHOICES = [(n, str(n)) for n in range(1, 6)]


def default_dimensions() -> list[dict]:
    return [{"key": key, "weight": 1.0} for key in DEFAULT_DIMENSIONS]


def default_tier_thresholds() -> list[float]:
    return list(DEFAULT_TIER_THRESHOLDS)


def dimension_label(key: str) -> str:
    return key.replace("_", " / " if key == "legal_regulatory" else " ").capitalize()


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

    class Meta:
        ordering = ["person__last_name", "person__first_name", "id"]
        constraints = [models.UniqueConstraint(fields=["review", "person"], name="review_invitation_unique")]

    def __str__(self) -> str:
        return f"{self.person} in {self.review}"


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
