"""A closed review's results as CSV, for a spreadsheet: same access as the results page."""

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from bastion.lib.spreadsheet import safe_cell

from . import access
from .models import ReviewStatus

HEADER = ["rank", "system_id", "system", "score", "raters", "spread", "tier", "effective_tier", "raised_reason",
          "tolerable_downtime_hours", "rto_gap", "warranted_share", "actual_share"]

def _number(value: float | None, places: int = 4) -> str | None:
    return None if value is None else f"{value:.{places}f}".rstrip("0").rstrip(".")


@login_required
def review_results_csv(request: HttpRequest, pk: int) -> HttpResponse:
    review = access.get_review_results_for_view(request.user, pk)
    if review.status != ReviewStatus.CLOSED:
        return HttpResponse("Results exist only once the review is closed.\n", status=409,
                            content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="review-{review.pk}-results.csv"'
    writer = csv.writer(response)
    writer.writerow(HEADER)
    for r in review.results.select_related("system"):
        writer.writerow([safe_cell(v) for v in (
            r.rank, r.system_id, r.system.name, _number(r.score), r.raters, _number(r.spread), r.tier,
            r.effective_tier, r.raised_reason, _number(r.tolerable_downtime_hours, 2), r.rto_gap,
            _number(r.warranted_share), _number(r.actual_share))])
    return response
