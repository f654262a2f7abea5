from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone


class DataClassification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


class Hosting(models.TextChoices):
    ON_PREMISES = "on_premises", "On premises"
    PRIVATE_CLOUD = "private_cloud", "Private cloud"
    PUBLIC_CLOUD = "public_cloud", "Public cloud (IaaS/PaaS)"
    SAAS = "saas", "SaaS (vendor-hosted)"
    HYBRID = "hybrid", "Hybrid"


class SystemStatus(models.TextChoices):
    ACTIVE = "active", "In use"
    RETIRED = "retired", "Retired"


class BusinessSystemQuerySet(models.QuerySet["BusinessSystem"]):
    def active(self) -> "BusinessSystemQuerySet":
        return self.filter(status=SystemStatus.ACTIVE)

    def with_effective_tier(self) -> "BusinessSystemQuerySet":
        """Annotate ``effective_tier``: the system's effective tier in the latest closed review that
        included it (None if never reviewed, or unrated there). One query for a whole list."""
        latest = (ReviewResult.objects.filter(system_id=models.OuterRef("pk"), review__status=ReviewStatus.CLOSED)
                  .order_by("-review__closed_at", "-review_id").values("effective_tier")[:1])
        return self.annotate(effective_tier=models.Subquery(latest, output_field=models.PositiveSmallIntegerField()))


class BusinessSystem(models.Model):
    """A system the business runs on, as the register records it."""

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_systems",
        help_text="The business owner (a person in the directory)",
    )
    business_processes = models.TextField(
        blank=True, help_text="The business processes it serves, one per line"
    )
    data_classification = models.CharField(
        max_length=16, choices=DataClassification.choices, default=DataClassification.INTERNAL
    )
    personal_data = models.BooleanField(default=False, help_text="Holds personal data (GDPR)")
    health_data = models.BooleanField(default=False, help_text="Holds health data (HIPAA, GDPR art. 9)")
    card_data = models.BooleanField(default=False, help_text="Holds payment card data (PCI DSS)")
    financial_reporting = models.BooleanField(default=False, help_text="Feeds financial reporting (SOX)")
    users_count = models.PositiveIntegerField(null=True, blank=True, help_text="Approximate number of users")
    hosting = models.CharField(max_length=16, choices=Hosting.choices, default=Hosting.SAAS)
    hosting_detail = models.CharField(max_length=200, blank=True, help_text="Vendor, region or data centre")
    dependencies = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="dependents",
        help_text="Systems this one needs in order to work",
    )
    rto_hours = models.DecimalField(
        "RTO (hours)", max_digits=8, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal(0))], help_text="Recovery time objective, as documented",
    )
    rpo_hours = models.DecimalField(
        "RPO (hours)", max_digits=8, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal(0))], help_text="Recovery point objective: data loss tolerated",
    )
    mtd_hours = models.DecimalField(
        "MTD (hours)", max_digits=8, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal(0))], help_text="Maximum tolerable downtime",
    )
    security_spend = models.DecimalField(
        "Annual security spend", max_digits=14, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="What is spent a year protecting this system (tools, people, services)",
    )
    status = models.CharField(max_length=16, choices=SystemStatus.choices, default=SystemStatus.ACTIVE, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = BusinessSystemQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def regulated_data(self) -> list[str]:
        flags = [("personal_data", "Personal data"), ("health_data", "Health data"),
                 ("card_data", "Card data"), ("financial_reporting", "Financial reporting")]
        return [label for name, label in flags if getattr(self, name)]

    def current_effective_tier(self) -> int | None:
        """The effective tier from the latest closed review that included this system (None if never
        reviewed). Uses the ``with_effective_tier()`` annotation when the object came from it."""
        if "effective_tier" in self.__dict__:
            return self.__dict__["effective_tier"]
        return (ReviewResult.objects.filter(system=self, review__status=ReviewStatus.CLOSED)
                .order_by("-review__closed_at", "-review_id").values_list("effective_tier", flat=True).first())


class SecurityBudget(models.Model):
    """The year's total security budget, against which each system's spend is compared."""

    year = models.PositiveIntegerField(unique=True)
    total = models.DecimalField(max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal(0))])
    currency = models.CharField(max_length=3, default="EUR")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-year"]

    def __str__(self) -> str:
        return f"{self.year}: {self.total} {self.currency}"


from .review_models import (  # noqa: E402  (the review's models live beside the register's)
    CriticalityReview,
    InvitationStatus,
    ReviewAggregation,
    ReviewCycleReminder,
    ReviewInvitation,
    ReviewReminder,
    ReviewResult,
    ReviewStatus,
    SystemRating,
)

__all__ = ["BusinessSystem", "CriticalityReview", "InvitationStatus", "ReviewAggregation",
           "ReviewCycleReminder", "ReviewInvitation", "ReviewReminder", "ReviewResult", "ReviewStatus", "SecurityBudget", "SystemRating"]
