"""Criticality reviews over JSON and CSV, and a system's effective tier for the rest of Bastion."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.lib.spreadsheet import safe_cell
from bastion.systems import actions
from bastion.systems.models import BusinessSystem, CriticalityReview, ReviewInvitation, ReviewStatus
from conftest import ALL_ROLES

from .helpers import DIMENSIONS, add_system

JSON = "application/json"
RUNNERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
VIEWERS = RUNNERS | {Role.AUDITOR, Role.EXECUTIVE}
RESULTS_ANYTIME = RUNNERS | {Role.AUDITOR}


@pytest.fixture
def scope(db):
    idp = add_system("Identity provider", rto_hours=48)
    erp = add_system("ERP", depends_on=[idp], rto_hours=4)
    wiki = add_system("=HYPERLINK(\"http://evil\")")
    add_system("Old fax", status="retired")
    return {"idp": idp, "erp": erp, "wiki": wiki}


def _impacts(*values) -> dict:
    return dict(zip(DIMENSIONS, values, strict=False))


def _answer(system, *values, downtime=None) -> tuple[int, dict]:
    return system.pk, {"impacts": _impacts(*values), "tolerable_downtime_hours": downtime, "notes": ""}


def _make_review(lead, scope, leaders, title="2026 review") -> CriticalityReview:
    return actions.do_create_review(
        acting_user=lead, title=title, deadline=timezone.localdate() + timedelta(days=14), aggregation="mean",
        systems=[scope["idp"], scope["erp"], scope["wiki"]], leaders=leaders)


def _close(lead, review: CriticalityReview, answers: list[dict]) -> CriticalityReview:
    """Open the review (if a draft), have each invited leader submit their answers, close it."""
    if review.status == ReviewStatus.DRAFT:
        actions.do_open_review(acting_user=lead, review=review)
    for invitation, answer in zip(review.invitations.order_by("id"), answers, strict=False):
        actions.do_save_answers(invitation=invitation, answers=answer, submit=True)
    review.refresh_from_db()
    actions.do_close_review(acting_user=lead, review=review)
    review.refresh_from_db()
    return review


@pytest.fixture
def draft_review(lead, scope, leaders):
    return _make_review(lead, scope, leaders)


@pytest.fixture
def open_review(lead, draft_review):
    actions.do_open_review(acting_user=lead, review=draft_review)
    draft_review.refresh_from_db()
    return draft_review


@pytest.fixture
def closed_review(lead, scope, leaders):
    review = _make_review(lead, scope, leaders)
    erp, idp, wiki = scope["erp"], scope["idp"], scope["wiki"]
    return _close(lead, review, [
        dict([_answer(erp, 5, 5, 5, 5, 1, downtime=Decimal(2)), _answer(idp, 2, 2, 2, 2, 1),
              _answer(wiki, 1, 1, 1, 1, 1)]),
        dict([_answer(erp, 4, 4, 4, 4, 1, downtime=Decimal(1)), _answer(idp, 3, 3, 3, 3, 1)]),
    ])


def _create_body(**fields) -> dict:
    body = {"title": "2027 review", "deadline": (timezone.localdate() + timedelta(days=7)).isoformat(),
            "aggregation": "high_water", "all_active": True, "leaders": ["cfo@example.com", "COO@example.com"]}
    body.update(fields)
    return body


# --- list and get ------------------------------------------------------------------------------

def test_list_and_get(api_for, lead, open_review, leaders):
    invitation = open_review.invitations.get(person=leaders[0])
    actions.do_save_answers(invitation=invitation, answers={}, submit=True)
    api = api_for(lead)
    body = api.get("/api/v1/reviews").json()
    assert body["count"] == 1
    item = body["items"][0]
    assert item["id"] == open_review.pk and item["title"] == "2026 review" and item["status"] == "open"
    assert item["systems_count"] == 3 and item["invited"] == 2 and item["submitted"] == 1
    assert item["aggregation"] == "mean" and item["opened_at"] and item["closed_at"] is None
    assert item["deadline"] == open_review.deadline.isoformat()
    assert api.get(f"/api/v1/reviews/{open_review.pk}").json() == item
    assert api.get("/api/v1/reviews/99999").status_code == 404
    assert api.get("/api/v1/reviews", {"limit": 0}).status_code == 422


def test_list_is_paginated_newest_first(api_for, lead, scope, leaders):
    first = _make_review(lead, scope, leaders, title="First")
    second = _make_review(lead, scope, leaders, title="Second")
    api = api_for(lead)
    body = api.get("/api/v1/reviews", {"limit": 1}).json()
    assert body["count"] == 2 and [r["id"] for r in body["items"]] == [second.pk]
    assert [r["id"] for r in api.get("/api/v1/reviews", {"limit": 1, "offset": 1}).json()["items"]] == [first.pk]


# --- create ------------------------------------------------------------------------------------

def test_create_with_all_active(api_for, lead, scope, leaders):
    response = api_for(lead).post("/api/v1/reviews", _create_body(), content_type=JSON)
    assert response.status_code == 201, response.content
    body = response.json()
    review = CriticalityReview.objects.get(pk=body["id"])
    assert body["status"] == "draft" and body["systems_count"] == 3 and body["invited"] == 2
    assert review.aggregation == "high_water" and review.created_by == lead
    assert set(review.systems.all()) == {scope["idp"], scope["erp"], scope["wiki"]}
    assert {i.person for i in review.invitations.all()} == set(leaders)
    assert AuditEntry.objects.for_object(review).get().action == "review.created"


def test_create_with_chosen_systems(api_for, lead, scope, leaders):
    response = api_for(lead).post("/api/v1/reviews", _create_body(
        all_active=False, systems=[scope["erp"].pk], leaders=["cfo@example.com"]), content_type=JSON)
    assert response.status_code == 201, response.content
    review = CriticalityReview.objects.get()
    assert list(review.systems.all()) == [scope["erp"]] and review.invitations.count() == 1


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"deadline": "2000-01-01"}, "deadline", "The deadline cannot be in the past."),
    ({"leaders": ["cfo@example.com", "stranger@example.com"]}, "leaders", "Not a person in the directory"),
    ({"leaders": []}, "leaders", "This field is required."),
    ({"all_active": False}, "systems", "Choose the systems in scope"),
    ({"all_active": False, "systems": [99999]}, "systems", "Select a valid choice."),
    ({"aggregation": "median"}, "aggregation", "Select a valid choice."),
    ({"title": ""}, "title", "This field is required."),
])
def test_create_refuses_bad_input_and_saves_nothing(api_for, lead, scope, leaders, fields, field, message):
    response = api_for(lead).post("/api/v1/reviews", _create_body(**fields), content_type=JSON)
    assert response.status_code == 422, response.content
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == field and message in e["msg"] for e in errors), errors
    assert not CriticalityReview.objects.exists() and not ReviewInvitation.objects.exists()


def test_create_refuses_a_retired_system_and_unknown_fields(api_for, lead, scope, leaders):
    api = api_for(lead)
    retired = BusinessSystem.objects.get(name="Old fax")
    assert api.post("/api/v1/reviews", _create_body(all_active=False, systems=[retired.pk]),
                    content_type=JSON).status_code == 422
    assert api.post("/api/v1/reviews", _create_body(status="closed"), content_type=JSON).status_code == 422
    assert api.post("/api/v1/reviews", _create_body(deadline="soon"), content_type=JSON).status_code == 422
    assert not CriticalityReview.objects.exists()


# --- results -----------------------------------------------------------------------------------

def test_results_of_a_closed_review(api_for, lead, scope, closed_review):
    response = api_for(lead).get(f"/api/v1/reviews/{closed_review.pk}/results")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["review"]["id"] == closed_review.pk and body["review"]["status"] == "closed"
    assert body["count"] == 3
    by_name = {item["system"]["name"]: item for item in body["items"]}
    assert [item["system"]["name"] for item in body["items"]][0] == "ERP"
    erp, idp = by_name["ERP"], by_name["Identity provider"]
    assert erp["system"]["id"] == scope["erp"].pk and erp["rank"] == 1 and erp["raters"] == 2
    assert erp["score"] > idp["score"] and erp["spread"] > 0
    assert erp["tolerable_downtime_hours"] is not None and erp["rto_gap"] is True
    # The identity provider is raised to the ERP's tier because the ERP depends on it.
    assert idp["effective_tier"] == erp["effective_tier"] <= idp["tier"]
    if idp["effective_tier"] != idp["tier"]:
        assert idp["raised_reason"]
    assert set(erp) == {"system", "rank", "score", "raters", "spread", "tier", "effective_tier", "raised_reason",
                        "tolerable_downtime_hours", "rto_gap", "warranted_share", "actual_share"}
    page = api_for(lead).get(f"/api/v1/reviews/{closed_review.pk}/results", {"limit": 1, "offset": 1}).json()
    assert page["count"] == 3 and len(page["items"]) == 1 and page["items"][0] == body["items"][1]


def test_results_of_an_open_or_draft_review_are_a_conflict(api_for, lead, draft_review):
    api = api_for(lead)
    response = api.get(f"/api/v1/reviews/{draft_review.pk}/results")
    assert response.status_code == 409 and "only once it is closed" in response.json()["detail"]
    actions.do_open_review(acting_user=lead, review=draft_review)
    response = api.get(f"/api/v1/reviews/{draft_review.pk}/results")
    assert response.status_code == 409 and "This review is open" in response.json()["detail"]
    assert api.get("/api/v1/reviews/99999/results").status_code == 404


# --- every role on every endpoint ----------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_role_access_to_the_api(api_for, make_user, scope, leaders, open_review, closed_review, role):
    api = api_for(make_user(role))
    listed = api.get("/api/v1/reviews")
    assert listed.status_code == (200 if role in VIEWERS else 403)
    if role in VIEWERS:
        assert listed.json()["count"] == 2
    else:
        assert listed.json() == {"detail": "You do not have access to this."}
    assert api.get(f"/api/v1/reviews/{open_review.pk}").status_code == (200 if role in VIEWERS else 403)
    created = api.post("/api/v1/reviews", _create_body(), content_type=JSON)
    assert created.status_code == (201 if role in RUNNERS else 403)
    closed = api.get(f"/api/v1/reviews/{closed_review.pk}/results").status_code
    assert closed == (200 if role in VIEWERS else 403)
    still_open = api.get(f"/api/v1/reviews/{open_review.pk}/results").status_code
    assert still_open == (409 if role in RESULTS_ANYTIME else 403)


def test_no_token_is_refused_everywhere(api_for, closed_review):
    api = api_for(None)
    for response in (api.get("/api/v1/reviews"), api.get(f"/api/v1/reviews/{closed_review.pk}"),
                     api.post("/api/v1/reviews", _create_body(), content_type=JSON),
                     api.get(f"/api/v1/reviews/{closed_review.pk}/results")):
        assert response.status_code == 401
    bad = api.get("/api/v1/reviews", headers={"Authorization": "Bearer bst_nonsense"})
    assert bad.status_code == 401
    assert CriticalityReview.objects.count() == 1


# --- CSV export ------------------------------------------------------------------------------

def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_csv_export_of_a_closed_review(client_for, lead, scope, closed_review):
    response = client_for(lead).get(f"/systems/reviews/{closed_review.pk}/results.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="review-{closed_review.pk}-results.csv"' in response["Content-Disposition"]
    rows = _rows(response)
    assert [r["system"] for r in rows][0] == "ERP" and len(rows) == 3
    erp = rows[0]
    assert erp["rank"] == "1" and erp["system_id"] == str(scope["erp"].pk) and erp["raters"] == "2"
    assert erp["rto_gap"] == "yes" and erp["tier"] and erp["effective_tier"]
    # A name that a spreadsheet would run as a formula is written as text.
    wiki = next(r for r in rows if r["system_id"] == str(scope["wiki"].pk))
    assert wiki["system"] == "'=HYPERLINK(\"http://evil\")"


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("ERP", "ERP"), ("a=b", "a=b"), (None, ""), (3, "3"), (True, "yes"),
])
def test_formula_cells_are_neutralised(value, expected):
    assert safe_cell(value) == expected


def test_csv_of_an_open_review_is_a_conflict(client_for, lead, open_review):
    response = client_for(lead).get(f"/systems/reviews/{open_review.pk}/results.csv")
    assert response.status_code == 409


@pytest.mark.parametrize("role", ALL_ROLES)
def test_role_access_to_the_csv(client_for, make_user, open_review, closed_review, role):
    client = client_for(make_user(role))
    assert client.get(f"/systems/reviews/{closed_review.pk}/results.csv").status_code == (
        200 if role in VIEWERS else 403)
    assert client.get(f"/systems/reviews/{open_review.pk}/results.csv").status_code == (
        409 if role in RESULTS_ANYTIME else 403)


def test_anonymous_is_sent_to_sign_in_for_the_csv(client, closed_review):
    response = client.get(f"/systems/reviews/{closed_review.pk}/results.csv")
    assert response.status_code == 302 and "next=" in response["Location"]


# --- the effective tier for the rest of Bastion ------------------------------------------------

def test_effective_tier_comes_from_the_latest_closed_review(lead, scope, leaders, closed_review):
    erp, idp, wiki = scope["erp"], scope["idp"], scope["wiki"]
    retired = BusinessSystem.objects.get(name="Old fax")
    expected = {r.system_id: r.effective_tier for r in closed_review.results.all()}
    assert expected[erp.pk] is not None
    assert erp.current_effective_tier() == expected[erp.pk]
    assert retired.current_effective_tier() is None  # never reviewed

    with CaptureQueriesContext(connection) as queries:
        tiers = {s.pk: s.effective_tier for s in BusinessSystem.objects.with_effective_tier()}
    assert len(queries) == 1
    assert tiers == {erp.pk: expected[erp.pk], idp.pk: expected[idp.pk], wiki.pk: expected[wiki.pk],
                     retired.pk: None}
    annotated = BusinessSystem.objects.with_effective_tier().get(pk=erp.pk)
    with CaptureQueriesContext(connection) as queries:
        assert annotated.current_effective_tier() == expected[erp.pk]
    assert len(queries) == 0

    # An open review changes nothing; a later closed one takes over.
    later = _make_review(lead, scope, leaders, title="2027 review")
    actions.do_open_review(acting_user=lead, review=later)
    assert BusinessSystem.objects.get(pk=erp.pk).current_effective_tier() == expected[erp.pk]
    later.refresh_from_db()
    later = _close(lead, later, [dict([_answer(wiki, 5, 5, 5, 5, 5), _answer(erp, 1, 1, 1, 1, 1)])])
    assert later.status == ReviewStatus.CLOSED
    newer = {r.system_id: r.effective_tier for r in later.results.all()}
    assert BusinessSystem.objects.get(pk=wiki.pk).current_effective_tier() == newer[wiki.pk]
    assert {s.pk: s.effective_tier for s in BusinessSystem.objects.with_effective_tier()}[wiki.pk] == newer[wiki.pk]
    assert newer[wiki.pk] != expected[wiki.pk]


def test_unreviewed_register_has_no_effective_tier(db, scope):
    assert all(s.effective_tier is None for s in BusinessSystem.objects.with_effective_tier())
    assert scope["erp"].current_effective_tier() is None
