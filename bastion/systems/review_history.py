"""The criticality history: how each system's rank and tier moved from one closed review to the next.

The page of every system across the latest closed reviews, and one system's points for its detail
page and the API. Reviews come through access.py; a page costs the same few queries whatever the
number of systems and reviews (sorting, filtering and paging happen in the database).
"""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, F, IntegerField, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse

from bastion.lib.http import render_region

from . import access
from .models import BusinessSystem, CriticalityReview, ReviewResult

# Columns of the history page: the latest closed reviews, oldest first.
HISTORY_COLUMNS = 6
PER_PAGE = 50
SORTS = [("rank", "Latest rank"), ("rise", "Biggest rise"), ("fall", "Biggest fall"),
         ("tier", "Latest effective tier"), ("name", "Name")]


@dataclass(frozen=True)
class Movement:
    """A system's place in one review against the review before it."""

    kind: str  # "up", "down", "same", "new" (not ranked in the review before), "unrated"
    places: int = 0
    tier_was: int | None = None  # the effective tier in the review before, when it differs

    @property
    def label(self) -> str:
        return {"up": f"▲{self.places}", "down": f"▼{self.places}", "same": "=", "new": "new",
                "unrated": "— unrated"}[self.kind]

    @property
    def description(self) -> str:
        """The same for a screen reader."""
        plural = "" if self.places == 1 else "s"
        return {"up": f"up {self.places} place{plural}", "down": f"down {self.places} place{plural}",
                "same": "same rank as the review before", "new": "not ranked in the review before",
                "unrated": "nobody rated it in this review"}[self.kind]


def movement(previous: ReviewResult | None, current: ReviewResult | None, *,
             has_previous_review: bool) -> Movement | None:
    """How `current` moved since `previous` (the system's result in the review before, if any).
    None when the system was not in this review, or there is no review before to compare with."""
    if current is None:
        return None
    if current.rank is None:
        return Movement("unrated")
    if not has_previous_review:
        return None
    if previous is None or previous.rank is None:
        return Movement("new")
    tier_was = (previous.effective_tier if previous.effective_tier is not None
                and previous.effective_tier != current.effective_tier else None)
    change = previous.rank - current.rank  # a smaller rank number is more critical: a rise
    if change > 0:
        return Movement("up", change, tier_was)
    if change < 0:
        return Movement("down", -change, tier_was)
    return Movement("same", 0, tier_was)


def latest_closed_reviews(user, limit: int = HISTORY_COLUMNS) -> tuple[list[CriticalityReview], CriticalityReview | None]:
    """The latest `limit` closed reviews the user may read, oldest first, each with
    `ranked_count`; and the review closed before them (to show the first column's movement)."""
    newest = list(access.closed_reviews_visible_to(user).order_by("-closed_at", "-id")[:limit + 1])
    # Counted for these reviews only, not for every review ever closed.
    counts = dict(ReviewResult.objects.filter(review__in=newest, rank__isnull=False).order_by()
                  .values("review_id").annotate(n=Count("pk")).values_list("review_id", "n"))
    for review in newest:
        review.ranked_count = counts.get(review.pk, 0)  # type: ignore[attr-defined]
    baseline = newest[limit] if len(newest) > limit else None
    return newest[:limit][::-1], baseline


def history_systems(systems: QuerySet[BusinessSystem], columns: list[CriticalityReview],
                    baseline: CriticalityReview | None, *, q: str = "", tier_changed: bool = False,
                    sort: str = "rank") -> QuerySet[BusinessSystem]:
    """The systems with a result in any of the `columns` reviews, filtered and sorted on their
    latest rank, the rank in the review before and their effective tiers — all in one query."""
    if not columns:
        return systems.none()
    column_ids = [r.pk for r in columns]
    latest = column_ids[-1]
    previous = column_ids[-2] if len(column_ids) > 1 else (baseline.pk if baseline else None)
    in_columns = Q(review_results__review_id__in=column_ids)
    # Filtering before annotating joins the results once, restricted to these reviews.
    rows = (systems.filter(review_results__review_id__in=column_ids + ([previous] if previous else []))
            .annotate(
                in_history=Count("review_results", filter=in_columns),
                latest_rank=Max("review_results__rank", filter=Q(review_results__review_id=latest)),
                previous_rank=Max("review_results__rank", filter=Q(review_results__review_id=previous)),
                latest_tier=Max("review_results__effective_tier", filter=Q(review_results__review_id=latest)),
                tier_low=Min("review_results__effective_tier", filter=in_columns),
                tier_high=Max("review_results__effective_tier", filter=in_columns),
            ).filter(in_history__gt=0)
            .annotate(rise=F("previous_rank") - F("latest_rank"))
            .only("name", "status"))
    if q:
        rows = rows.filter(name__icontains=q)
    if tier_changed:
        rows = rows.filter(tier_high__gt=F("tier_low"))
    rank = F("latest_rank").asc(nulls_last=True)
    orderings: dict[str, list[Any]] = {
        "rank": [rank, "name", "id"],
        "rise": [F("rise").desc(nulls_last=True), rank, "name", "id"],
        "fall": [F("rise").asc(nulls_last=True), rank, "name", "id"],
        "tier": [F("latest_tier").asc(nulls_last=True), rank, "name", "id"],
        "name": ["name", "id"],
    }
    return rows.order_by(*orderings[sort])


def history_rows(systems: list[BusinessSystem], columns: list[CriticalityReview],
                 baseline: CriticalityReview | None) -> list[dict[str, Any]]:
    """Each system's cells, one per column: its result there and its movement since the review
    before. One query for the whole page."""
    reviews = ([baseline] if baseline else []) + columns
    found = (ReviewResult.objects.filter(review_id__in=[r.pk for r in reviews], system_id__in=[s.pk for s in systems])
             .order_by().only("review_id", "system_id", "rank", "effective_tier"))
    results = {(r.system_id, r.review_id): r for r in found}
    rows = []
    for system in systems:
        cells = []
        for i, review in enumerate(columns):
            before = columns[i - 1] if i else baseline
            current = results.get((system.pk, review.pk))
            previous = results.get((system.pk, before.pk)) if before else None
            cells.append({"review": review, "result": current,
                          "movement": movement(previous, current, has_previous_review=before is not None)})
        rows.append({"system": system, "cells": cells})
    return rows


@login_required
def review_history(request: HttpRequest) -> HttpResponse:
    user = request.user
    columns, baseline = latest_closed_reviews(user)
    sort = request.GET.get("sort", "rank")
    filters: dict[str, Any] = {
        "q": request.GET.get("q", "").strip()[:100],
        "tier_changed": request.GET.get("tier_changed") == "1",
        "sort": sort if sort in dict(SORTS) else "rank",
    }
    systems = history_systems(access.systems_visible_to(user), columns, baseline, q=filters["q"],
                              tier_changed=filters["tier_changed"], sort=filters["sort"])
    page = Paginator(systems, PER_PAGE).get_page(request.GET.get("page"))
    return render_region(request, "systems/review_history.html", "results", {
        "columns": [{"review": r, "can_see_results": access.can_view_review_results(user, r)} for r in columns],
        "page_obj": page,
        "rows": history_rows(list(page), columns, baseline),
        "filters": filters,
        "sorts": SORTS,
    })


# One system's history, for its detail page and the API.

def system_points(user, system: BusinessSystem) -> list[dict[str, Any]]:
    """The system's result in each closed review that included it, oldest first, with the
    review, how many systems it ranked, and the movement since the closed review before.
    PermissionDenied for anyone who may not read closed reviews' results. Two queries."""
    closed = access.closed_reviews_visible_to(user)
    order = list(closed.order_by("closed_at", "id").values_list("pk", flat=True))
    ranked = (ReviewResult.objects.filter(review_id=OuterRef("review_id"), rank__isnull=False)
              .order_by().values("review_id").annotate(n=Count("pk")).values("n"))
    results = {r.review_id: r for r in (
        ReviewResult.objects.filter(system=system, review__in=closed).select_related("review").order_by()
        .annotate(ranked_count=Subquery(ranked, output_field=IntegerField())))}
    points = []
    for i, review_id in enumerate(order):
        result = results.get(review_id)
        if result is None:
            continue
        previous = results.get(order[i - 1]) if i else None
        points.append({
            "review": result.review, "result": result, "ranked_count": result.ranked_count or 0,  # type: ignore[attr-defined]
            "movement": movement(previous, result, has_previous_review=i > 0),
            "can_see_results": access.can_view_review_results(user, result.review),
        })
    return points


def system_history(user, system: BusinessSystem) -> dict[str, Any] | None:
    """The detail page's criticality history: None for those who may not read it."""
    if not access.can_view_review_history(user):
        return None
    points = system_points(user, system)
    return {"points": points[::-1], "chart": rank_chart(points)}


CHART_WIDTH = 560
CHART_HEIGHT = 220
CHART_LEFT = 56  # room for the rank labels
CHART_RIGHT = 36
CHART_TOP = 16
CHART_BOTTOM = 40  # room for the reviews' dates
CHART_INSET = 36  # keeps the first and last dates clear of the rank labels and the edge


def _coord(value: float) -> str:
    # SVG wants a dot as the decimal separator, whatever the viewer's locale.
    return f"{value:.1f}"


def rank_chart(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The geometry of a line chart of rank over the reviews (oldest first, rank 1 at the top),
    drawn in the template as SVG with no script and no style. The line breaks where the system
    was not ranked. None when it was never ranked."""
    ranked = [p for p in points if p["result"].rank is not None]
    if not ranked:
        return None
    bottom_rank = max(max(p["ranked_count"], p["result"].rank) for p in ranked)
    plot_width = CHART_WIDTH - CHART_LEFT - CHART_RIGHT - 2 * CHART_INSET
    plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM

    def x(i: int) -> float:
        return CHART_LEFT + CHART_INSET + (plot_width * i / (len(points) - 1) if len(points) > 1 else plot_width / 2)

    def y(rank: int) -> float:
        return CHART_TOP + (plot_height * (rank - 1) / (bottom_rank - 1) if bottom_rank > 1 else 0)

    segments: list[list[str]] = [[]]
    dots, labels = [], []
    for i, point in enumerate(points):
        rank = point["result"].rank
        labels.append({"x": _coord(x(i)), "y": CHART_HEIGHT - CHART_BOTTOM + 24, "point": point})
        if rank is None:
            segments.append([])
            continue
        segments[-1].append(f"{_coord(x(i))},{_coord(y(rank))}")
        dots.append({"x": _coord(x(i)), "y": _coord(y(rank)), "point": point})
    ticks = sorted({1, (1 + bottom_rank) // 2, bottom_rank})
    return {
        "width": CHART_WIDTH, "height": CHART_HEIGHT,
        "lines": [" ".join(segment) for segment in segments if len(segment) > 1],
        "dots": dots, "labels": labels, "has_gaps": len(ranked) < len(points),
        "ticks": [{"rank": t, "y": _coord(y(t)), "text_y": _coord(y(t) + 4)} for t in ticks],
        "left": CHART_LEFT, "right": CHART_WIDTH - CHART_RIGHT, "tick_x": CHART_LEFT - 8,
    }
