"""Criticality review pages: the lead's list, form, progress and results; a leader's answers.

Every review and invitation comes through access.py; a leader's link is read with lib.tokens.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from bastion.lib.tokens import ExpiredLinkToken, LinkTokenError, read_link_token

from . import access, actions, ranking
from .models import InvitationStatus, ReviewInvitation, ReviewResult, ReviewStatus
from .review_forms import AnswerForm, ReviewForm
from .review_models import dimension_label

PER_PAGE = 50


@login_required
def review_list(request: HttpRequest) -> HttpResponse:
    reviews = access.reviews_visible_to(request.user).annotate(
        invited=Count("invitations"),
        answered=Count("invitations", filter=Q(invitations__status=InvitationStatus.SUBMITTED)),
    ).order_by("-created_at", "-id")
    page = Paginator(reviews, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "systems/review_list.html", {
        "page_obj": page, "can_run": access.can_run_reviews(request.user)})


@login_required
def review_create(request: HttpRequest) -> HttpResponse:
    if not access.can_run_reviews(request.user):
        raise PermissionDenied
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        review = actions.do_create_review(
            acting_user=request.user, request=request, title=data["title"], deadline=data["deadline"],
            aggregation=data["aggregation"], systems=data["systems"], leaders=data["leaders"])
        messages.success(request, "Review created. Open it to send the invitations.")
        return redirect("review-detail", pk=review.pk)
    return render(request, "systems/review_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    review = access.get_review_for_view(request.user, pk)
    return render(request, "systems/review_detail.html", {
        "review": review,
        "invitations": review.invitations.select_related("person"),
        "systems": review.systems.order_by("name").only("name"),
        "can_run": access.can_run_reviews(request.user),
        "can_see_results": access.can_view_review_results(request.user, review),
    })


@login_required
@require_POST
def review_open(request: HttpRequest, pk: int) -> HttpResponse:
    review = access.get_review_for_run(request.user, pk)
    if not review.can_move_to(ReviewStatus.OPEN):
        messages.error(request, "This review has already been opened.")
    else:
        sent = actions.do_open_review(acting_user=request.user, review=review, request=request)
        messages.success(request, f"Review opened; {sent} invitation(s) are on their way.")
    return redirect("review-detail", pk=pk)


@login_required
@require_POST
def review_close(request: HttpRequest, pk: int) -> HttpResponse:
    review = access.get_review_for_run(request.user, pk)
    if not review.can_move_to(ReviewStatus.CLOSED):
        messages.error(request, "Only an open review can be closed.")
        return redirect("review-detail", pk=pk)
    actions.do_close_review(acting_user=request.user, review=review, request=request)
    messages.success(request, "Review closed; the results are below.")
    return redirect("review-results", pk=pk)


@login_required
def review_results(request: HttpRequest, pk: int) -> HttpResponse:
    review = access.get_review_results_for_view(request.user, pk)
    results = list(review.results.select_related("system"))
    return render(request, "systems/review_results.html", {
        "review": review,
        "ranking": [r for r in results if r.rank is not None],
        "unrated": [r for r in results if r.rank is None],
        # The biggest disagreements first: each is a conversation to have with the leaders.
        "disagreements": sorted((r for r in results if r.spread > 0), key=lambda r: (-r.spread, r.system.name))[:10],
        "budget": budget_alignment(results),
    })


CHART_ROWS = 15
CHART_LABEL_WIDTH = 230
CHART_BAR_WIDTH = 330
CHART_ROW_HEIGHT = 30
CHART_TOP = 34


def budget_alignment(results: list[ReviewResult]) -> dict:
    """The rated systems' warranted against actual share of the spend, as kept when the review
    closed; the over- and under-invested ones by ranking.investment; and the geometry of a bar
    chart of the largest differences (drawn in the template as SVG, no script, no style)."""
    lines = [r for r in results if r.rank is not None and r.warranted_share is not None]
    has_spend = any((r.actual_share or 0) > 0 for r in lines)
    rows: list[dict[str, Any]] = []
    over: list[dict[str, Any]] = []
    under: list[dict[str, Any]] = []
    for r in lines:
        warranted, actual = r.warranted_share or 0.0, r.actual_share or 0.0
        verdict = ranking.investment(warranted, actual) if has_spend else None
        row: dict[str, Any] = {"result": r, "name": r.system.name, "warranted": warranted, "actual": actual,
               "difference": actual - warranted, "verdict": verdict or "",
               # Percentages for display (the shares are fractions).
               "warranted_pct": 100 * warranted, "actual_pct": 100 * actual,
               "difference_pct": 100 * (actual - warranted)}
        rows.append(row)
        if verdict is ranking.Investment.OVER:
            over.append(row)
        elif verdict is ranking.Investment.UNDER:
            under.append(row)
    over.sort(key=lambda row: (-row["difference"], row["name"]))
    under.sort(key=lambda row: (row["difference"], row["name"]))
    chart: list[dict[str, Any]] = []
    if has_spend:
        top = sorted(rows, key=lambda row: (-abs(row["difference"]), row["name"]))[:CHART_ROWS]
        largest = max((max(row["warranted"], row["actual"]) for row in top), default=0.0) or 1.0
        for i, row in enumerate(top):
            y = CHART_TOP + i * CHART_ROW_HEIGHT
            chart.append({
                **row, "y_label": y + 17, "y_warranted": y + 3, "y_actual": y + 15,
                "w_warranted": round(CHART_BAR_WIDTH * row["warranted"] / largest, 1),
                "w_actual": round(CHART_BAR_WIDTH * row["actual"] / largest, 1),
            })
        for bar in chart:
            bar["x_warranted_value"] = CHART_LABEL_WIDTH + bar["w_warranted"] + 4
            bar["x_actual_value"] = CHART_LABEL_WIDTH + bar["w_actual"] + 4
            bar["y_warranted_value"] = bar["y_warranted"] + 9
            bar["y_actual_value"] = bar["y_actual"] + 9
    return {
        "rows": rows, "over": over, "under": under, "has_spend": has_spend, "chart": chart,
        "chart_height": CHART_TOP + len(chart) * CHART_ROW_HEIGHT + 6,
        "chart_width": CHART_LABEL_WIDTH + CHART_BAR_WIDTH + 70, "label_width": CHART_LABEL_WIDTH,
        "label_x": CHART_LABEL_WIDTH - 8,
    }


def _answer_page(request: HttpRequest, invitation: ReviewInvitation, *, via_link: bool) -> HttpResponse:
    review = invitation.review
    if review.status != ReviewStatus.OPEN and invitation.status != InvitationStatus.SUBMITTED:
        return render(request, "systems/review_link_error.html", {
            "message": "This review is not taking answers." if review.status == ReviewStatus.DRAFT
            else "This review has closed; answers can no longer be changed."}, status=410)
    submitted = invitation.status == InvitationStatus.SUBMITTED
    systems = review.systems.order_by("name").only("name")
    ratings = {r.system_id: r for r in invitation.ratings.all()}
    form = AnswerForm(request.POST if request.method == "POST" and not submitted else None,
                      review=review, systems=systems, ratings=ratings, read_only=submitted)
    if request.method == "POST" and not submitted and form.is_valid():
        submit = "submit" in request.POST
        try:
            actions.do_save_answers(invitation=invitation, answers=form.answers(), submit=submit,
                                    # Through the link, the leader acts, whoever is signed in.
                                    acting_user=None if via_link else request.user, request=request)
        except ValueError as error:  # closed or submitted since the page was read
            return render(request, "systems/review_link_error.html", {"message": str(error)}, status=410)
        messages.success(request, "Thank you, your answers are submitted." if submit else "Draft saved.")
        return redirect(request.path)
    return render(request, "systems/review_answer.html", {
        "review": review, "invitation": invitation, "form": form, "submitted": submitted,
        "dimensions": [dimension_label(k) for k in review.dimension_keys], "via_link": via_link,
    }, status=400 if form.errors else 200)


def review_answer_link(request: HttpRequest, token: str) -> HttpResponse:
    """A leader's page from the emailed link; no sign-in needed, the signed link is the key."""
    try:
        claim = read_link_token(token, actions.REVIEW_ANSWER_PURPOSE)
    except LinkTokenError as error:
        return render(request, "systems/review_link_error.html", {"message": str(error)},
                      status=410 if isinstance(error, ExpiredLinkToken) else 400)
    invitation = (ReviewInvitation.objects.select_related("review", "person")
                  .filter(pk=claim.subject_id).first())
    if invitation is None:
        return render(request, "systems/review_link_error.html",
                      {"message": "This invitation no longer exists."}, status=410)
    return _answer_page(request, invitation, via_link=True)


@login_required
def review_answer(request: HttpRequest, pk: int) -> HttpResponse:
    return _answer_page(request, access.get_invitation_for_user(request.user, pk), via_link=False)
