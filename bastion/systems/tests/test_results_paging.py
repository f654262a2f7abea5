"""A large review's results: the ranking is paged, the summaries still cover every system, and
neither the page nor the API does more queries as the review grows."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bastion.systems import actions
from bastion.systems.models import BusinessSystem

from .helpers import DIMENSIONS, add_person


def _closed_review(lead, size: int, prefix: str = "System"):
    """`size` systems, System 000 first; two leaders rate System i 5 − i // 26 on every dimension,
    so the ranking follows the names, except System 000: 5 from one leader, 3 from the other (a
    conversation to have, and a score of 4, first among the 4s). System 120's RTO (48 h) is longer
    than the 4 h a leader tolerates; the last system has nearly all the spend. Nobody rates the
    fax gateway. System 001 (tier 1) depends on the last system and the fax gateway."""
    now = timezone.now()
    BusinessSystem.objects.bulk_create([
        BusinessSystem(name=f"{prefix} {i:03d}", created_at=now, updated_at=now,
                       rto_hours=Decimal(48) if i == 120 else None,
                       security_spend=Decimal(1_000_000 if i == size - 1 else 100))
        for i in range(size)])
    systems = list(BusinessSystem.objects.filter(name__startswith=prefix).order_by("name"))
    fax = BusinessSystem.objects.create(name=f"{prefix} fax gateway")
    systems[1].dependencies.set([systems[-1], fax])
    review = actions.do_create_review(acting_user=lead, title="Large review", aggregation="mean",
                                      deadline=timezone.localdate() + timedelta(days=7), systems=[*systems, fax],
                                      leaders=[add_person(), add_person()])
    actions.do_open_review(acting_user=lead, review=review)
    for n, invitation in enumerate(review.invitations.order_by("id")):
        answers = {}
        for i, system in enumerate(systems):
            value = 3 if (i == 0 and n == 1) else 5 - i // 26
            answers[system.pk] = {"impacts": dict.fromkeys(DIMENSIONS, value), "notes": "",
                                  "tolerable_downtime_hours": Decimal(4) if i == 120 and n == 0 else None}
        actions.do_save_answers(invitation=invitation, answers=answers, submit=True)
    review.refresh_from_db()
    actions.do_close_review(acting_user=lead, review=review)
    return review


def _ranking_rows(html: str) -> list[tuple[str, str]]:
    table = html.split("Ranking, most critical first", 1)[1].split("</table>", 1)[0]
    return re.findall(r'<td data-label="Rank">(\d+)</td>\s*<td data-label="System"><a [^>]*>([^<]+)</a>', table)


@pytest.fixture
def large_review(lead):
    return _closed_review(lead, 130)


def test_page_two_of_the_ranking(client_for, lead, large_review):
    html = client_for(lead).get(f"/systems/reviews/{large_review.pk}/results/?page=2").content.decode()
    rows = _ranking_rows(html)
    assert [name for _, name in rows] == [f"System {i:03d}" for i in range(100, 130)]
    # Ties share a rank: Systems 078–103 scored 2 (rank 79), 104–129 scored 1 (rank 105).
    assert rows[0] == ("79", "System 100") and rows[4] == ("105", "System 104")
    assert "101–130 of 130" in html and "Page 2 of 2" in html and 'rel="prev"' in html
    # The summaries cover every system, wherever its row is.
    conversations = html.split("Conversations to have", 1)[1].split("</ol>", 1)[0]
    assert "System 000" in conversations and "2.00 apart" in conversations
    gaps = re.search(r'<ol id="rto-gaps">(.*?)</ol>', html, re.S).group(1)
    assert "System 120" in gaps and "4 h tolerated" in gaps
    over = re.search(r'<ol id="over-invested">(.*?)</ol>', html, re.S).group(1)
    assert "System 129" in over
    # Raised because System 001 depends on it, directly.
    raised = html.split(">System 129<", 1)[1].split("</tr>", 1)[0]
    assert "Raised to tier 1 because System 001 (tier 1) depends on it" in raised
    unrated = re.search(r'<p id="unrated">(.*?)</p>', html, re.S).group(1)
    assert "System fax gateway (tier 1: Raised to tier 1 because System 001 (tier 1) depends on it)" in unrated
    # The budget table follows the ranking's page.
    budget = html.split("Warranted and actual share of the security spend", 1)[1].split("</table>", 1)[0]
    assert "System 129" in budget and "System 099" not in budget


def test_page_one_and_the_pager(client_for, lead, large_review):
    html = client_for(lead).get(f"/systems/reviews/{large_review.pk}/results/").content.decode()
    rows = _ranking_rows(html)
    assert len(rows) == 100 and rows[0] == ("1", "System 001") and rows[25] == ("26", "System 000")
    assert rows[-1][1] == "System 099"
    assert "Page 1 of 2" in html and 'href="?page=2"' in html
    assert f"/systems/reviews/{large_review.pk}/results.csv" in html
    # A page number past the end shows the last page.
    last = client_for(lead).get(f"/systems/reviews/{large_review.pk}/results/?page=99").content.decode()
    assert _ranking_rows(last)[-1][1] == "System 129"


def test_results_api_pages_by_100(api_for, lead, large_review):
    api = api_for(lead)
    body = api.get(f"/api/v1/reviews/{large_review.pk}/results").json()
    assert body["count"] == 131 and len(body["items"]) == 100
    rest = api.get(f"/api/v1/reviews/{large_review.pk}/results", {"offset": 100}).json()
    assert [item["system"]["name"] for item in rest["items"]] == [
        *(f"System {i:03d}" for i in range(100, 130)), "System fax gateway"]


def _queries(client, url: str) -> int:
    client.get(url)  # warm the session and the token
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_query_counts_do_not_grow_with_the_review(client_for, api_for, lead, large_review):
    small = _closed_review(lead, 5, prefix="Small")
    web, api = client_for(lead), api_for(lead)
    page = "/systems/reviews/{}/results/?page=2"
    assert _queries(web, page.format(large_review.pk)) == _queries(web, page.format(small.pk)) <= 8
    results = "/api/v1/reviews/{}/results"
    assert _queries(api, results.format(large_review.pk)) == _queries(api, results.format(small.pk)) <= 6
