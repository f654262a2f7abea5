"""The criticality history: how each system's rank and tier moved between closed reviews, on the
history page, on a system's page and over the API."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.systems import access, actions
from bastion.systems.models import CriticalityReview, ReviewResult, ReviewStatus
from conftest import ALL_ROLES

from .helpers import DIMENSIONS, add_system

HISTORY = "/systems/reviews/history/"
VIEWERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR, Role.EXECUTIVE}
RAISED = "ERP (tier 1) depends on it"


def _closed(title: str, year: int, results: dict) -> CriticalityReview:
    """A closed review with the results as given: {system: (rank, score, tier, effective tier, reason)}."""
    review = CriticalityReview.objects.create(
        title=title, deadline=date(year, 2, 1), status=ReviewStatus.CLOSED,
        opened_at=datetime(year, 1, 10, tzinfo=UTC), closed_at=datetime(year, 3, 1, 12, tzinfo=UTC))
    review.systems.set(results)
    ReviewResult.objects.bulk_create([
        ReviewResult(review=review, system=system, rank=rank, score=score, tier=tier, effective_tier=effective,
                     raised_reason=reason, raters=0 if rank is None else 2)
        for system, (rank, score, tier, effective, reason) in results.items()])
    return review


@pytest.fixture
def history(db):
    """Three yearly reviews. The ERP rises to the top and stays; the wiki falls every year; the
    identity provider is raised to the ERP's tier because the ERP depends on it; the CRM joins
    in 2026; the old fax was in 2024 only, and nobody rated it."""
    erp = add_system("ERP")
    idp = add_system("Identity provider")
    erp.dependencies.set([idp])
    wiki = add_system("Wiki")
    crm = add_system("CRM")
    fax = add_system("Old fax", status="retired")
    r2024 = _closed("Review 2024", 2024, {
        wiki: (1, 4.2, 1, 1, ""), erp: (2, 3.5, 2, 2, ""), idp: (3, 2.4, 3, 2, "ERP (tier 2) depends on it"),
        fax: (None, None, None, None, "")})
    r2025 = _closed("Review 2025", 2025, {
        erp: (1, 4.5, 1, 1, ""), idp: (2, 3.2, 2, 1, RAISED), wiki: (3, 2.5, 3, 3, "")})
    r2026 = _closed("Review 2026", 2026, {
        erp: (1, 4.6, 1, 1, ""), crm: (2, 3.4, 2, 2, ""), idp: (3, 2.9, 3, 1, RAISED), wiki: (4, 1.5, 4, 4, "")})
    # Neither a review still open nor a draft is history.
    CriticalityReview.objects.create(title="Review 2027", deadline=date(2027, 2, 1), status=ReviewStatus.OPEN)
    return {"erp": erp, "idp": idp, "wiki": wiki, "crm": crm, "fax": fax, "reviews": [r2024, r2025, r2026]}


def _text(html: str) -> str:
    html = re.sub(r'<span class="sr-only">.*?</span>', "", html)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _table(html: str) -> list[list[str]]:
    """The history table as the user reads it: one list per row, the system then each review's cell."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def _headers(html: str) -> list[str]:
    head = html.split("<thead>", 1)[1].split("</thead>", 1)[0]
    return [_text(cell) for cell in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)]


# --- the history page ----------------------------------------------------------------------------

def test_history_shows_rank_and_tier_movement_in_each_review(client_for, lead, history):
    response = client_for(lead).get(HISTORY)
    assert response.status_code == 200
    html = response.content.decode()
    assert _headers(html) == ["System", "Review 2024 closed 1 Mar 2024 · 3 ranked",
                              "Review 2025 closed 1 Mar 2025 · 3 ranked", "Review 2026 closed 1 Mar 2026 · 4 ranked"]
    # Latest rank first; a system not in the latest review comes last.
    assert _table(html) == [
        ["ERP", "#2 tier 2", "#1 ▲1 tier 1 (was 2)", "#1 = tier 1"],
        ["CRM", "not in this review", "not in this review", "#2 new tier 2"],
        ["Identity provider", "#3 tier 2", "#2 ▲1 tier 1 (was 2)", "#3 ▼1 tier 1"],
        ["Wiki", "#1 tier 1", "#3 ▼2 tier 3 (was 1)", "#4 ▼1 tier 4 (was 3)"],
        ["Old fax Retired", "— unrated", "not in this review", "not in this review"],
    ]
    assert "Review 2027" not in html
    # Screen readers hear the movement in words; the review titles lead to their results.
    assert "up 1 place" in html and "down 2 places" in html and "not ranked in the review before" in html
    r2026 = history["reviews"][2]
    assert f'href="/systems/reviews/{r2026.pk}/results/"' in html
    assert 'style="' not in html


@pytest.mark.parametrize(("params", "names"), [
    ({"sort": "name"}, ["CRM", "ERP", "Identity provider", "Old fax", "Wiki"]),
    ({"sort": "rise"}, ["ERP", "Identity provider", "Wiki", "CRM", "Old fax"]),
    ({"sort": "fall"}, ["Identity provider", "Wiki", "ERP", "CRM", "Old fax"]),
    ({"sort": "tier"}, ["ERP", "Identity provider", "CRM", "Wiki", "Old fax"]),
    ({"sort": "nonsense"}, ["ERP", "CRM", "Identity provider", "Wiki", "Old fax"]),
    ({"tier_changed": "1"}, ["ERP", "Identity provider", "Wiki"]),
    ({"q": "I"}, ["Identity provider", "Wiki"]),
    ({"q": "wiki", "tier_changed": "1", "sort": "name"}, ["Wiki"]),
    ({"tier_changed": "yes"}, ["ERP", "CRM", "Identity provider", "Wiki", "Old fax"]),
])
def test_history_sorts_and_filters(client_for, lead, history, params, names):
    html = client_for(lead).get(HISTORY, params).content.decode()
    assert [row[0].removesuffix(" Retired") for row in _table(html)] == names
    assert f"{len(names)} system{'s' if len(names) > 1 else ''} match." in html


def test_history_says_when_nothing_matches_and_when_nothing_has_closed(client_for, lead, db):
    html = client_for(lead).get(HISTORY).content.decode()
    assert "No review has closed yet" in html
    _closed("Review 2025", 2025, {add_system("ERP"): (1, 4.0, 1, 1, "")})
    html = client_for(lead).get(HISTORY, {"q": "nothing like it"}).content.decode()
    assert "No system matches these filters." in html and "0 systems match." in html
    # One review: nothing to compare with, so no movement is shown.
    html = client_for(lead).get(HISTORY).content.decode()
    assert _table(html) == [["ERP", "#1 tier 1"]]


def test_history_for_htmx_is_the_results_region_only(client_for, lead, history):
    response = client_for(lead).get(HISTORY, {"q": "ERP"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results">') and "<html" not in html
    assert _table(html) == [["ERP", "#2 tier 2", "#1 ▲1 tier 1 (was 2)", "#1 = tier 1"]]
    assert "HX-Request" in response["Vary"]


def test_history_shows_the_six_latest_reviews_and_moves_the_first_against_the_one_before(client_for, lead, db):
    erp = add_system("ERP")
    # Ranks 8, 7, ..., 1 over eight yearly reviews (a rise every year).
    for i, year in enumerate(range(2019, 2027)):
        _closed(f"Review {year}", year, {erp: (8 - i, 1.0 + i / 2, 4, 4, "")})
    html = client_for(lead).get(HISTORY).content.decode()
    assert [h.split(" closed")[0] for h in _headers(html)[1:]] == [f"Review {y}" for y in range(2021, 2027)]
    assert _table(html) == [["ERP"] + [f"#{rank} ▲1 tier 4" for rank in range(6, 0, -1)]]


def test_history_is_paginated_and_bad_pages_fall_back(client_for, lead, db):
    systems = [add_system(f"System {n:03d}") for n in range(1, 56)]
    _closed("Review 2026", 2026, {s: (n, 5.0 - n / 100, 1, 1, "") for n, s in enumerate(systems, start=1)})
    client = client_for(lead)
    first = client.get(HISTORY).content.decode()
    assert len(_table(first)) == 50 and "Page 1 of 2" in first and "55 systems match." in first
    second = client.get(HISTORY, {"page": "2"}).content.decode()
    assert [row[0] for row in _table(second)] == [f"System {n:03d}" for n in range(51, 56)]
    assert _table(client.get(HISTORY, {"page": "abc"}).content.decode()) == _table(first)
    assert _table(client.get(HISTORY, {"page": "999"}).content.decode()) == _table(second)
    assert client.get(HISTORY, {"q": "x" * 5000}).status_code == 200
    assert client.get(HISTORY, {"q": "a\x00b"}).status_code == 400


def _queries(client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params or {}).status_code == 200
    return len(captured)


def test_history_page_costs_the_same_few_queries_however_many_systems_and_reviews(client_for, lead, db):
    client = client_for(lead)
    few = [add_system(f"Few {n}") for n in range(3)]
    for year in (2025, 2026):
        tier = year - 2024  # every system changes tier, so the filtered page has rows too
        _closed(f"Small {year}", year, {s: (n + 1, 4.0, tier, tier, "") for n, s in enumerate(few)})
    small = _queries(client, HISTORY)
    small_filtered = _queries(client, HISTORY, {"q": "few", "tier_changed": "1", "sort": "rise"})

    many = [add_system(f"Many {n:03d}") for n in range(120)]
    for year in range(2027, 2035):
        _closed(f"Large {year}", year, {s: ((n + year) % 120 + 1, 3.0, 1 + (n + year) % 4, 1 + (n + year) % 4, "")
                                         for n, s in enumerate(many)})
    large = _queries(client, HISTORY)
    large_filtered = _queries(client, HISTORY, {"q": "many", "tier_changed": "1", "sort": "rise", "page": "2"})
    assert small == large <= 8
    assert small_filtered == large_filtered <= 8


# --- a system's page -------------------------------------------------------------------------------

def _section(html: str) -> str:
    return html.split('id="criticality-heading"', 1)[1].split("</section>", 1)[0]


def test_system_page_lists_its_results_in_each_closed_review(client_for, lead, history):
    idp = history["idp"]
    r2024, r2025, r2026 = history["reviews"]
    html = client_for(lead).get(f"/systems/{idp.pk}/").content.decode()
    section = _section(html)
    rows = [[_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", section.split("<tbody>")[1], re.S)]
    assert rows == [
        ["Review 2026", "1 Mar 2026", "3 of 4", "▼1 down 1 place", "2.90", "3", f"1 ({RAISED})"],
        ["Review 2025", "1 Mar 2025", "2 of 3", "▲1 up 1 place", "3.20", "2", f"1 ({RAISED})"],
        ["Review 2024", "1 Mar 2024", "3 of 3", "—", "2.40", "3", "2 (ERP (tier 2) depends on it)"],
    ]
    for review in (r2024, r2025, r2026):
        assert f'<a href="/systems/reviews/{review.pk}/results/">{review.title}</a>' in section
    assert f'href="{HISTORY}"' in section
    # The rank over time as a line: rank 1 at the top (y 16), the lowest rank seen (4) at the bottom (y 180).
    assert '<polyline points="92.0,125.3 290.0,70.7 488.0,125.3"' in section
    assert "Review 2025: rank 2 of 3" in section
    assert "<script" not in section and 'style="' not in html


def test_system_page_history_breaks_the_line_where_the_system_was_not_ranked(client_for, lead, history):
    fax = history["fax"]
    section = _section(client_for(lead).get(f"/systems/{fax.pk}/").content.decode())
    assert "— unrated" in section and "<svg" not in section  # never ranked: nothing to draw
    crm = history["crm"]
    section = _section(client_for(lead).get(f"/systems/{crm.pk}/").content.decode())
    assert "2 of 4" in section and "new not ranked in the review before" in _text(section)
    assert "<circle" in section and "<polyline" not in section  # one point, no line


def test_system_page_line_breaks_at_a_review_that_did_not_rank_the_system(client_for, lead, history):
    payroll = add_system("Payroll")
    r2024, r2025, r2026 = history["reviews"]
    ReviewResult.objects.bulk_create([
        ReviewResult(review=r2024, system=payroll, rank=4, score=2.0, tier=3, effective_tier=3),
        ReviewResult(review=r2025, system=payroll),
        ReviewResult(review=r2026, system=payroll, rank=5, score=1.2, tier=4, effective_tier=4)])
    section = _section(client_for(lead).get(f"/systems/{payroll.pk}/").content.decode())
    assert section.count("<circle") == 2 and "<polyline" not in section
    assert "the line breaks where Payroll was not ranked" in section
    rows = [_text(row) for row in re.findall(r"<tr>(.*?)</tr>", section.split("<tbody>")[1], re.S)]
    assert rows == ["Review 2026 1 Mar 2026 5 of 5 new not ranked in the review before 1.20 4 4",
                    "Review 2025 1 Mar 2025 — unrated — — — —",
                    "Review 2024 1 Mar 2024 4 of 4 — 2.00 3 3"]


def test_system_never_reviewed(client_for, lead, db):
    system = add_system("Brand new")
    section = _section(client_for(lead).get(f"/systems/{system.pk}/").content.decode())
    assert "Brand new has not been in a closed criticality review." in section


def test_system_page_history_costs_the_same_queries_however_many_reviews(client_for, lead, db):
    client = client_for(lead)
    erp = add_system("ERP")
    _closed("Review 2020", 2020, {erp: (1, 4.0, 1, 1, "")})
    one = _queries(client, f"/systems/{erp.pk}/")
    for year in range(2021, 2031):
        _closed(f"Review {year}", year, {erp: (year % 3 + 1, 4.0, 1, 1, ""),
                                         add_system(f"Other {year}"): (1, 4.5, 1, 1, "")})
    assert _queries(client, f"/systems/{erp.pk}/") == one


# --- the API ------------------------------------------------------------------------------------------

def test_api_returns_the_points_oldest_first(api_for, lead, history):
    idp = history["idp"]
    r2024, r2025, r2026 = history["reviews"]
    response = api_for(lead).get(f"/api/v1/systems/{idp.pk}/history")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["system"] == {"id": idp.pk, "name": "Identity provider"}
    assert body["items"] == [
        {"review_id": r2024.pk, "title": "Review 2024", "closed_at": "2024-03-01T12:00:00Z", "rank": 3,
         "ranked_count": 3, "score": 2.4, "tier": 3, "effective_tier": 2,
         "raised_reason": "ERP (tier 2) depends on it"},
        {"review_id": r2025.pk, "title": "Review 2025", "closed_at": "2025-03-01T12:00:00Z", "rank": 2,
         "ranked_count": 3, "score": 3.2, "tier": 2, "effective_tier": 1, "raised_reason": RAISED},
        {"review_id": r2026.pk, "title": "Review 2026", "closed_at": "2026-03-01T12:00:00Z", "rank": 3,
         "ranked_count": 4, "score": 2.9, "tier": 3, "effective_tier": 1, "raised_reason": RAISED},
    ]
    fax = api_for(lead).get(f"/api/v1/systems/{history['fax'].pk}/history").json()
    assert [(p["title"], p["rank"], p["score"]) for p in fax["items"]] == [("Review 2024", None, None)]
    never = add_system("Brand new")
    assert api_for(lead).get(f"/api/v1/systems/{never.pk}/history").json()["items"] == []


def test_api_unknown_system_and_no_token(api_for, lead, history):
    assert api_for(lead).get("/api/v1/systems/999999/history").status_code == 404
    assert api_for(lead).get("/api/v1/systems/abc/history").status_code == 404
    assert api_for(None).get(f"/api/v1/systems/{history['erp'].pk}/history").status_code == 401


# --- every role ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_role_access(client_for, api_for, make_user, history, role):
    user = make_user(role)
    client = client_for(user)
    erp = history["erp"]
    page = client.get(HISTORY)
    assert page.status_code == (200 if role in VIEWERS else 403)
    response = api_for(user).get(f"/api/v1/systems/{erp.pk}/history")
    assert response.status_code == (200 if role in VIEWERS else 403)
    if role not in VIEWERS:
        assert response.json() == {"detail": "You do not have access to this."}
    # The history is for whoever may read a closed review's results.
    assert access.can_view_review_history(user) == access.can_view_review_results(user, history["reviews"][2])
    # The system's page shows the section (and the link to the page) only to them.
    detail = client.get(f"/systems/{erp.pk}/")
    if detail.status_code == 200:
        html = detail.content.decode()
        assert ("Criticality history" in html) == (role in VIEWERS)
        assert (HISTORY in html) == (role in VIEWERS)
    list_page = client.get("/systems/reviews/")
    if list_page.status_code == 200:
        assert f'href="{HISTORY}"' in list_page.content.decode()


def test_anonymous_is_sent_to_sign_in(client, history):
    response = client.get(HISTORY)
    assert response.status_code == 302 and "next=" in response["Location"]


# --- end to end: the reviews as the lead runs them -------------------------------------------------------

def _run_review(lead, leaders, systems, title: str, answers: dict) -> CriticalityReview:
    review = actions.do_create_review(acting_user=lead, title=title, deadline=timezone.localdate() + timedelta(days=7),
                                      aggregation="mean", systems=systems, leaders=leaders[:1])
    actions.do_open_review(acting_user=lead, review=review)
    invitation = review.invitations.get()
    actions.do_save_answers(invitation=invitation, submit=True, answers={
        system.pk: {"impacts": dict.fromkeys(DIMENSIONS, level), "tolerable_downtime_hours": None, "notes": ""}
        for system, level in answers.items()})
    review.refresh_from_db()
    actions.do_close_review(acting_user=lead, review=review)
    return review


def test_history_of_reviews_closed_by_the_lead(client_for, lead, leaders):
    erp, wiki = add_system("ERP"), add_system("Wiki")
    first = _run_review(lead, leaders, [erp, wiki], "First review", {erp: 3, wiki: 5})
    # Closed a year apart, as the yearly reviews are.
    CriticalityReview.objects.filter(pk=first.pk).update(closed_at=timezone.now() - timedelta(days=365))
    _run_review(lead, leaders, [erp, wiki], "Second review", {erp: 5, wiki: 2})
    html = client_for(lead).get(HISTORY).content.decode()
    assert _table(html) == [["ERP", "#2 tier 2", "#1 ▲1 tier 1 (was 2)"],
                            ["Wiki", "#1 tier 1", "#2 ▼1 tier 3 (was 1)"]]
