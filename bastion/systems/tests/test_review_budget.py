"""The results page's "Attention and budget": warranted against actual share, over and under."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bastion.systems import actions
from bastion.systems.models import ReviewResult
from bastion.systems.review_views import budget_alignment
from tests.test_security_headers import inline_code

from .helpers import add_person, add_system


def _closed_review(lead, systems, ratings: dict[str, int]):
    """Two leaders rate every system with the same impact on every dimension."""
    leaders = [add_person(), add_person()]
    review = actions.do_create_review(acting_user=lead, title="Budget review",
                                      deadline=timezone.localdate() + timedelta(days=7), aggregation="mean",
                                      systems=systems, leaders=leaders)
    actions.do_open_review(acting_user=lead, review=review)
    for invitation in review.invitations.all():
        actions.do_save_answers(invitation=invitation, submit=True, answers={
            s.pk: {"impacts": dict.fromkeys(("financial", "operational", "legal_regulatory", "reputational",
                                             "safety"), ratings[s.name]),
                   "tolerable_downtime_hours": None, "notes": ""} for s in systems})
    actions.do_close_review(acting_user=lead, review=review)
    return review


@pytest.fixture
def budget_review(lead):
    # Scores 5, 4, 1, 2: warranted 5/12, 4/12, 1/12, 2/12. Spend 1k, 40k, 50k, 9k of 100k.
    systems = [add_system("Payments", security_spend=Decimal(1000)),
               add_system("ERP", security_spend=Decimal(40000)),
               add_system("Intranet", security_spend=Decimal(50000)),
               add_system("Wiki", security_spend=Decimal(9000))]
    return _closed_review(lead, systems, {"Payments": 5, "ERP": 4, "Intranet": 1, "Wiki": 2})


def test_results_page_lists_over_and_under_invested_systems(client_for, lead, budget_review):
    response = client_for(lead).get(f"/systems/reviews/{budget_review.pk}/results/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Attention and budget" in html
    over = re.search(r'<ol id="over-invested">(.*?)</ol>', html, re.S).group(1)
    under = re.search(r'<ol id="under-invested">(.*?)</ol>', html, re.S).group(1)
    # Intranet: 50% of the spend, warrants 8.3%. Payments: 1%, warrants 41.7%.
    assert "Intranet" in over and "50.0%" in over and "8.3%" in over
    assert "Payments" in under and "1.0%" in under and "41.7%" in under
    # ERP: 40% against 33.3%, within the tolerance. Wiki: 9% against 16.7%, under two thirds (11.1%).
    assert "ERP" not in over and "ERP" not in under
    assert "Wiki" in under
    # The chart is server-rendered SVG: one pair of bars per system, nothing a strict CSP blocks.
    svg = re.search(r"<svg class=\"chart\".*?</svg>", html, re.S).group(0)
    assert svg.count("<rect") == 2 + 2 * 4  # the legend's two swatches, then two bars per system
    assert inline_code(html) == []


def test_budget_alignment_matches_the_ranking_rules(budget_review):
    results = list(ReviewResult.objects.filter(review=budget_review).select_related("system"))
    budget = budget_alignment(results)
    assert [row["name"] for row in budget["over"]] == ["Intranet"]
    assert [row["name"] for row in budget["under"]] == ["Payments", "Wiki"]
    # The largest difference first in the chart, each bar scaled to the largest share.
    assert [bar["name"] for bar in budget["chart"]][:2] == ["Intranet", "Payments"]  # +41.7, −40.7 points
    assert max(bar["w_actual"] for bar in budget["chart"]) == 330


def test_no_spend_recorded_lists_nothing(client_for, lead):
    systems = [add_system("A"), add_system("B")]
    review = _closed_review(lead, systems, {"A": 5, "B": 1})
    html = client_for(lead).get(f"/systems/reviews/{review.pk}/results/").content.decode()
    assert "No security spend was recorded" in html
    assert "over-invested" not in html and "<svg" not in html


def test_results_page_queries_are_bounded(client_for, lead, django_assert_max_num_queries):
    systems = [add_system(f"System {i:02d}", security_spend=Decimal(1000 * (i % 7)),
                          depends_on=[]) for i in range(40)]
    review = _closed_review(lead, systems, {s.name: 1 + i % 5 for i, s in enumerate(systems)})
    client = client_for(lead)
    client.get(f"/systems/reviews/{review.pk}/results/")  # warm the session
    with django_assert_max_num_queries(8):
        response = client.get(f"/systems/reviews/{review.pk}/results/")
    assert response.status_code == 200
    html = response.content.decode()
    svg = re.search(r"<svg class=\"chart\".*?</svg>", html, re.S).group(0)
    assert svg.count("<rect") == 2 + 2 * 15  # the top 15 by difference


def test_results_page_title_is_plain_text(client_for, lead, budget_review):
    """Regression: the budget section once landed inside the <title> block."""
    html = client_for(lead).get(f"/systems/reviews/{budget_review.pk}/results/").content.decode()
    title = html.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<" not in title and html.count('id="budget-heading"') == 1
