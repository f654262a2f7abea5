"""Criticality review pages: the lead's list, form, progress and results; a leader's answers.

Every review and invitation comes through access.py; a leader's link is read with lib.tokens.
"""

import heapq
import math
from collections.abc import Iterable
from typing import Any, NamedTuple

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from bastion.lib.tokens import ExpiredLinkToken, LinkTokenError, read_link_token

from . import access, actions, ranking, reminders
from .models import InvitationStatus, ReviewInvitation, ReviewResult, ReviewStatus
from .review_forms import AnswerForm, LeaderSystemsForm, ReviewForm

PER_PAGE = 50


@login_required
def review_list(request: HttpRequest) -> HttpResponse:
    reviews = access.reviews_visible_to(request.user).annotate(
        invited=Count("invitations"),
        answered=Count("invitations", filter=Q(invitations__status=InvitationStatus.SUBMITTED)),
    ).order_by("-created_at", "-id")
    page = Paginator(reviews, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "systems/review_list.html", {
        "page_obj": page, "can_run": access.can_run_reviews(request.user), "cycle": reminders.review_cycle()})


@login_required
def review_create(request: HttpRequest) -> HttpResponse:
    if not access.can_run_reviews(request.user):
        raise PermissionDenied
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        review = actions.do_create_review(
            acting_user=request.user, request=request, title=data["title"], deadline=data["deadline"],
            aggregation=data["aggregation"], systems=data["systems"], leaders=data["leaders"],
            dimensions=data["dimensions"], tier_thresholds=data["tier_thresholds"])
        messages.success(request, "Review created. Choose what each leader rates if need be, then open it "
                                  "to send the invitations.")
        return redirect("review-detail", pk=review.pk)
    return render(request, "systems/review_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    review = access.get_review_for_view(request.user, pk)
    in_scope = review.systems.count()
    invitations = review.invitations.select_related("person").annotate(
        chosen=Count("systems", distinct=True),
        rated=Count("ratings", distinct=True),
        last_reminded=Max("reminders__sent_at"))
    return render(request, "systems/review_detail.html", {
        "review": review,
        "invitations": invitations,
        "in_scope": in_scope,
        "systems": review.systems.order_by("name").only("name")[:SCOPE_SHOWN],
        "more_systems": max(in_scope - SCOPE_SHOWN, 0),
        "can_run": access.can_run_reviews(request.user),
        "can_see_results": access.can_view_review_results(request.user, review),
    })


SCOPE_SHOWN = 60


@login_required
def review_leader_systems(request: HttpRequest, pk: int, invitation_pk: int) -> HttpResponse:
    """The lead chooses which systems in scope one leader's processes depend on."""
    review = access.get_review_for_run(request.user, pk)
    invitation = get_object_or_404(review.invitations.select_related("person"), pk=invitation_pk)
    editable = review.status != ReviewStatus.CLOSED and invitation.status != InvitationStatus.SUBMITTED
    form = LeaderSystemsForm(request.POST if request.method == "POST" and editable else None,
                             review=review, initial={"systems": (chosen := list(invitation.systems.all())),
                                                             "all_in_scope": not chosen})
    if request.method == "POST" and editable and form.is_valid():
        chosen = [] if form.cleaned_data["all_in_scope"] else form.cleaned_data["systems"]
        try:
            actions.do_set_leader_systems(acting_user=request.user, invitation=invitation, systems=chosen,
                                          request=request)
        except ValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"{invitation.person} rates "
                             + (f"{len(chosen)} system(s)." if chosen else "every system in scope."))
        return redirect("review-detail", pk=review.pk)
    return render(request, "systems/review_leader_systems.html", {
        "review": review, "invitation": invitation, "form": form, "editable": editable,
    }, status=400 if form.errors else 200)


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
def review_remind(request: HttpRequest, pk: int) -> HttpResponse:
    review = access.get_review_for_run(request.user, pk)
    try:
        reminded = reminders.remind_pending_now(acting_user=request.user, review=review, request=request)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        if reminded:
            messages.success(request, f"Reminder sent to {reminded} leader(s) who have not answered.")
        else:
            messages.info(request, "Nobody to remind: everyone has answered or was reminded today.")
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


# Results page: the ranking table is paged; the summaries above and below it cover every system.
RESULTS_PER_PAGE = 100
LISTED = 20  # systems named in each summary list; the ranking's pages and the CSV have them all


class ResultLine(NamedTuple):
    """One system's result as the results page shows it. Read as plain values for every system
    of the review at once (at 5,000 systems, model instances would cost more than the whole
    page); the reason a tier was raised, long text, only for the systems shown."""

    system_id: int
    name: str
    rank: int | None
    score: float | None
    raters: int
    spread: float
    tier: int | None
    effective_tier: int | None
    tolerable_downtime_hours: float | None
    rto_gap: bool
    warranted_share: float | None
    actual_share: float | None
    raised_reason: str = ""

    @classmethod
    def of(cls, result: ReviewResult) -> "ResultLine":
        return cls(result.system_id, result.system.name, result.rank, result.score, result.raters, result.spread,
                   result.tier, result.effective_tier, result.tolerable_downtime_hours, result.rto_gap,
                   result.warranted_share, result.actual_share, result.raised_reason)


_LINE_COLUMNS = ("system_id", "system__name", "rank", "score", "raters", "spread", "tier", "effective_tier",
                 "tolerable_downtime_hours", "rto_gap", "warranted_share", "actual_share")


@login_required
def review_results(request: HttpRequest, pk: int) -> HttpResponse:
    review = access.get_review_results_for_view(request.user, pk)
    # In ranking order, the unrated last by name (ReviewResult's ordering).
    lines = [ResultLine(*values) for values in review.results.values_list(*_LINE_COLUMNS)]
    ranked = [line for line in lines if line.rank is not None]
    unrated = [line for line in lines if line.rank is None]
    page = Paginator(ranked, RESULTS_PER_PAGE).get_page(request.GET.get("page"))
    shown = [*page.object_list, *unrated[:LISTED]]
    raised = [line.system_id for line in shown if line.effective_tier != line.tier]
    reasons = dict(review.results.filter(system_id__in=raised).values_list("system_id", "raised_reason")
                   ) if raised else {}
    page.object_list = [line._replace(raised_reason=reasons.get(line.system_id, "")) for line in page.object_list]
    rto_gaps = [line for line in lines if line.rto_gap]
    return render(request, "systems/review_results.html", {
        "review": review,
        "page_obj": page,
        "unrated": [line._replace(raised_reason=reasons.get(line.system_id, "")) for line in unrated[:LISTED]],
        "unrated_count": len(unrated),
        # The biggest disagreements first: each is a conversation to have with the leaders.
        "disagreements": heapq.nsmallest(10, (line for line in lines if line.spread > 0),
                                         key=lambda line: (-line.spread, line.name)),
        "rto_gaps": rto_gaps[:LISTED],
        "rto_gap_count": len(rto_gaps),
        "listed": LISTED,
        "budget": budget_alignment(lines, page=page.object_list),
    })


CHART_ROWS = 15
CHART_LABEL_WIDTH = 230
CHART_BAR_WIDTH = 330
CHART_ROW_HEIGHT = 30
CHART_TOP = 34


def budget_alignment(results: Iterable[ReviewResult | ResultLine],
                     page: Iterable[ReviewResult | ResultLine] = ()) -> dict:
    """The rated systems' warranted against actual share of the spend, as kept when the review
    closed: the over- and under-invested ones by ranking.investment (the largest gaps, and how
    many in all); the geometry of a bar chart of the largest differences (drawn in the template
    as SVG, no script, no style); and a table row for each result of ``page``."""
    lines = [line for line in map(_as_line, results) if line.rank is not None and line.warranted_share is not None]
    has_spend = any((line.actual_share or 0) > 0 for line in lines)
    tolerance = ranking.BudgetTolerance()

    def row(line: ResultLine) -> dict[str, Any]:
        warranted, actual = line.warranted_share or 0.0, line.actual_share or 0.0
        verdict = ranking.investment(warranted, actual, tolerance) if has_spend else None
        return {"name": line.name, "rank": line.rank, "effective_tier": line.effective_tier,
                "warranted": warranted, "actual": actual, "difference": actual - warranted, "verdict": verdict or "",
                # Percentages for display (the shares are fractions), with enough decimals to
                # tell small shares apart: at 5,000 systems most are well under 1%.
                "warranted_pct": 100 * warranted, "actual_pct": 100 * actual,
                "difference_pct": 100 * (actual - warranted), "warranted_places": _places(100 * warranted),
                "actual_places": _places(100 * actual), "difference_places": _places(100 * (actual - warranted))}

    # (actual − warranted share, line): positive is over-invested.
    gaps = [((line.actual_share or 0.0) - (line.warranted_share or 0.0), line) for line in lines]
    over: list[tuple[float, ResultLine]] = []
    under: list[tuple[float, ResultLine]] = []
    if has_spend:
        for gap in gaps:
            verdict = ranking.investment(gap[1].warranted_share or 0.0, gap[1].actual_share or 0.0, tolerance)
            if verdict is ranking.Investment.OVER:
                over.append(gap)
            elif verdict is ranking.Investment.UNDER:
                under.append(gap)
    over.sort(key=lambda gap: (-gap[0], gap[1].name))
    under.sort(key=lambda gap: (gap[0], gap[1].name))
    chart: list[dict[str, Any]] = []
    if has_spend:
        top = [row(line) for _, line in heapq.nsmallest(CHART_ROWS, gaps, key=lambda gap: (-abs(gap[0]), gap[1].name))]
        largest = max((max(bar["warranted"], bar["actual"]) for bar in top), default=0.0) or 1.0
        for i, bar in enumerate(top):
            y = CHART_TOP + i * CHART_ROW_HEIGHT
            chart.append({
                **bar, "y_label": y + 17, "y_warranted": y + 3, "y_actual": y + 15,
                "w_warranted": round(CHART_BAR_WIDTH * bar["warranted"] / largest, 1),
                "w_actual": round(CHART_BAR_WIDTH * bar["actual"] / largest, 1),
            })
        for bar in chart:
            bar["x_warranted_value"] = CHART_LABEL_WIDTH + bar["w_warranted"] + 4
            bar["x_actual_value"] = CHART_LABEL_WIDTH + bar["w_actual"] + 4
            bar["y_warranted_value"] = bar["y_warranted"] + 9
            bar["y_actual_value"] = bar["y_actual"] + 9
    return {
        "rated": len(lines), "has_spend": has_spend, "chart": chart,
        "rows": [row(line) for line in map(_as_line, page) if line.warranted_share is not None],
        "over": [row(line) for _, line in over[:LISTED]], "over_count": len(over),
        "under": [row(line) for _, line in under[:LISTED]], "under_count": len(under),
        "chart_height": CHART_TOP + len(chart) * CHART_ROW_HEIGHT + 6,
        "chart_width": CHART_LABEL_WIDTH + CHART_BAR_WIDTH + 70, "label_width": CHART_LABEL_WIDTH,
        "label_x": CHART_LABEL_WIDTH - 8,
    }


def _as_line(result: ReviewResult | ResultLine) -> ResultLine:
    return result if isinstance(result, ResultLine) else ResultLine.of(result)


def _places(percent: float) -> int:
    """Decimals that show a percentage to two significant digits, and at least one."""
    return max(1, 1 - math.floor(math.log10(abs(percent)))) if percent else 1


def _answer_page(request: HttpRequest, invitation: ReviewInvitation, *, via_link: bool) -> HttpResponse:
    review = invitation.review
    if review.status != ReviewStatus.OPEN and invitation.status != InvitationStatus.SUBMITTED:
        return render(request, "systems/review_link_error.html", {
            "message": "This review is not taking answers." if review.status == ReviewStatus.DRAFT
            else "This review has closed; answers can no longer be changed."}, status=410)
    submitted = invitation.status == InvitationStatus.SUBMITTED
    systems = invitation.systems_to_rate().order_by("name").only("name")
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
        "dimensions": list(review.dimension_labels.values()), "via_link": via_link,
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
