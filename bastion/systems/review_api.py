"""Criticality reviews over JSON: list, create (a draft), get, and a closed review's results.

The same access helpers and the same form as the pages: a script and the lead get the same answer.
"""

from datetime import date, datetime

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import ConfigDict

from bastion.lib.counting import count_of
from bastion.lib.http import form_refusal

from . import access, actions
from .models import CriticalityReview, InvitationStatus, ReviewInvitation, ReviewStatus
from .ranking import DEFAULT_DIMENSIONS
from .review_forms import EXTRA_DIMENSIONS, ReviewForm
from .review_models import dimension_label

router = Router()


class DimensionOut(Schema):
    key: str
    label: str
    weight: float

    @staticmethod
    def resolve_label(obj: dict) -> str:
        return obj.get("label") or dimension_label(obj["key"])


class ReviewOut(Schema):
    id: int
    title: str
    status: str
    deadline: date
    aggregation: str
    dimensions: list[DimensionOut]
    tier_thresholds: list[float]
    systems_count: int
    invited: int
    submitted: int
    opened_at: datetime | None
    closed_at: datetime | None


class ReviewPage(Schema):
    items: list[ReviewOut]
    count: int


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


class DimensionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(None, max_length=40, description="A default dimension's key")
    label: str | None = Field(None, max_length=60, description="Another dimension's name")
    weight: float = Field(1.0, ge=0, le=10)


class ReviewCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str
    deadline: date = Field(description="The last day leaders can answer; not in the past")
    aggregation: str = Field("mean", description="mean or high_water")
    systems: list[int] = Field(default_factory=list, max_length=10_000, description="Ids of the systems in scope")
    all_active: bool = Field(False, description="Every system in use, instead of `systems`")
    leaders: list[str] = Field(max_length=1000, description="Emails of people in the directory to invite")
    dimensions: list[DimensionIn] | None = Field(
        None, max_length=len(DEFAULT_DIMENSIONS) + EXTRA_DIMENSIONS,
        description="Impact dimensions and weights. A default dimension (financial, operational, "
                    "legal_regulatory, reputational, safety) is named by its key; up to "
                    f"{EXTRA_DIMENSIONS} others by a label. A default left out is not rated. "
                    "Omit for the five defaults, weight 1 each.")
    tier_thresholds: list[float] | None = Field(
        None, min_length=3, max_length=3,
        description="Lowest score of tiers 1, 2 and 3, descending, each 1–5 (default 4, 3, 2)")
    leader_systems: dict[str, list[int]] = Field(
        default_factory=dict, description="Leader email → ids of the systems in scope their processes depend "
                                          "on; a leader not listed rates every system in scope")


class SystemRef(Schema):
    id: int
    name: str


class ResultOut(Schema):
    system: SystemRef
    rank: int | None
    score: float | None
    raters: int
    spread: float
    tier: int | None
    effective_tier: int | None
    raised_reason: str
    tolerable_downtime_hours: float | None
    rto_gap: bool
    warranted_share: float | None
    actual_share: float | None

    @staticmethod
    def resolve_system(obj) -> dict:
        return {"id": obj.system.pk, "name": obj.system.name}


class ResultsPage(Schema):
    review: ReviewOut
    items: list[ResultOut]
    count: int


class ResultsParams(Schema):
    # A page of 100 by default (a whole 5,000-system review is one request with limit=5000).
    limit: int = Field(100, ge=1, le=10_000)
    offset: int = Field(0, ge=0, le=10_000_000)


class Message(Schema):
    detail: str


def _with_counts(reviews):
    through = CriticalityReview.systems.through
    invitations = ReviewInvitation.objects.filter(review_id=OuterRef("pk"))
    return reviews.annotate(
        systems_count=count_of(through.objects.filter(criticalityreview_id=OuterRef("pk")), "criticalityreview_id"),
        invited=count_of(invitations, "review_id"),
        submitted=count_of(invitations.filter(status=InvitationStatus.SUBMITTED), "review_id"),
    )


def _counted(review_id: int) -> CriticalityReview:
    return _with_counts(CriticalityReview.objects.filter(pk=review_id)).get()


@router.get("", response=ReviewPage, summary="List criticality reviews")
def list_reviews(request: HttpRequest, page: Query[PageParams]):
    """Newest first."""
    reviews = access.reviews_visible_to(request.user)
    listed = _with_counts(reviews).order_by("-created_at", "-id")
    return {"items": list(listed[page.offset:page.offset + page.limit]), "count": reviews.count()}


@router.get("/{int:review_id}", response=ReviewOut, summary="One criticality review and its progress")
def get_review(request: HttpRequest, review_id: int):
    review = access.get_review_for_view(request.user, review_id)
    return _counted(review.pk)


@router.post("", response={201: ReviewOut}, summary="Create a draft criticality review")
def create_review(request: HttpRequest, payload: ReviewCreate):
    """Open it from its page to send the invitations."""
    if not access.can_run_reviews(request.user):
        raise PermissionDenied
    data: dict = {"title": payload.title, "deadline": payload.deadline.isoformat(),
                  "aggregation": payload.aggregation, "systems": [str(pk) for pk in payload.systems],
                  "leaders": "\n".join(payload.leaders)}
    if payload.all_active:
        data["all_active"] = "on"
    if payload.dimensions is not None:
        data.update(_dimension_fields(payload.dimensions))
    if payload.tier_thresholds is not None:
        data.update({f"tier_{n}_from": str(t) for n, t in enumerate(payload.tier_thresholds, start=1)})
    form = ReviewForm(data)
    if not form.is_valid():
        raise form_refusal(form)
    cleaned = form.cleaned_data
    leader_systems = _leader_systems(payload.leader_systems, cleaned["leaders"], cleaned["systems"])
    review = actions.do_create_review(
        acting_user=request.user, request=request, title=cleaned["title"], deadline=cleaned["deadline"],
        aggregation=cleaned["aggregation"], systems=cleaned["systems"], leaders=cleaned["leaders"],
        dimensions=cleaned["dimensions"], tier_thresholds=cleaned["tier_thresholds"],
        leader_systems=leader_systems)
    return Status(201, _counted(review.pk))


def _dimension_fields(dimensions: list[DimensionIn]) -> dict[str, str]:
    """The form's fields for the dimensions given: a default left out gets weight 0."""
    fields = {f"weight_{key}": "0" for key in DEFAULT_DIMENSIONS}
    extra = 0
    errors = []
    for i, dimension in enumerate(dimensions):
        if dimension.key and dimension.key in DEFAULT_DIMENSIONS and not dimension.label:
            fields[f"weight_{dimension.key}"] = str(dimension.weight)
        elif dimension.label and not dimension.key:
            extra += 1
            fields[f"extra_{extra}_label"] = dimension.label
            fields[f"extra_{extra}_weight"] = str(dimension.weight)
        else:
            errors.append({"type": "value_error", "loc": ["body", "payload", "dimensions", i],
                           "msg": "Give either the key of a default dimension (" + ", ".join(DEFAULT_DIMENSIONS)
                                  + ") or the label of another one."})
    if errors:
        raise ValidationError(errors)
    return fields


def _leader_systems(chosen: dict[str, list[int]], leaders, systems) -> dict[int, list]:
    """Person id → systems, checked: each email one of the leaders, each id in scope."""
    by_email = {p.email.casefold(): p for p in leaders}
    in_scope = {s.pk: s for s in systems}
    result: dict[int, list] = {}
    errors = []
    for email, ids in chosen.items():
        person = by_email.get(email.strip().casefold())
        loc = ["body", "payload", "leader_systems", email]
        if person is None:
            errors.append({"type": "value_error", "loc": loc, "msg": f"{email} is not one of the leaders invited."})
            continue
        outside = [pk for pk in ids if pk not in in_scope]
        if outside:
            errors.append({"type": "value_error", "loc": loc, "msg": "Not systems in the review's scope: "
                           + ", ".join(str(pk) for pk in outside) + "."})
        elif not ids:
            errors.append({"type": "value_error", "loc": loc, "msg": "Give at least one system, or leave the "
                           "leader out to have them rate every system in scope."})
        else:
            result[person.pk] = [in_scope[pk] for pk in dict.fromkeys(ids)]
    if errors:
        raise ValidationError(errors)
    return result


@router.get("/{int:review_id}/results", response={200: ResultsPage, 409: Message},
            summary="A closed review's ranking, tiers and disagreement")
def review_results(request: HttpRequest, review_id: int, page: Query[ResultsParams]):
    """Ranked systems first (by rank), then those no leader rated."""
    review = access.get_review_results_for_view(request.user, review_id)
    if review.status != ReviewStatus.CLOSED:
        return Status(409, {"detail": f"This review is {review.get_status_display().lower()}: "
                                      "results exist only once it is closed."})
    results = review.results.select_related("system")
    return {"review": _counted(review.pk),
            "items": list(results[page.offset:page.offset + page.limit]), "count": results.count()}
