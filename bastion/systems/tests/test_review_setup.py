"""Setting a review up: dimension weights, tier thresholds, and the systems each leader rates."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.systems import actions
from bastion.systems.models import (
    CriticalityReview,
    InvitationStatus,
    ReviewInvitation,
    ReviewResult,
    ReviewStatus,
    SystemRating,
)
from conftest import ALL_ROLES

from .helpers import add_system


@pytest.fixture
def scope(db):
    return {name: add_system(name) for name in ("CRM", "ERP", "Payroll", "Wiki")}


def _form(**fields) -> dict:
    values = {"title": "2027 review", "deadline": (timezone.localdate() + timedelta(days=14)).isoformat(),
              "aggregation": "mean", "all_active": "on", "leaders": "cfo@example.com\ncoo@example.com"}
    values.update(fields)
    return values


# --- weights, dimensions and tiers ----------------------------------------------------------

def test_form_shows_default_weights_and_thresholds(client_for, lead, scope):
    page = client_for(lead).get("/systems/reviews/new/").content.decode()
    for name in ("weight_financial", "weight_operational", "weight_legal_regulatory", "weight_reputational",
                 "weight_safety"):
        assert f'name="{name}" value="1"' in page
    assert 'name="tier_1_from" value="4.0"' in page and 'name="tier_3_from" value="2.0"' in page
    assert "Other dimension 1" in page


def test_weights_extra_dimension_and_thresholds_are_kept_and_used(client_for, lead, scope, leaders):
    response = client_for(lead).post("/systems/reviews/new/", _form(
        weight_financial="3", weight_safety="0", extra_1_label="Customer trust", extra_1_weight="2",
        tier_1_from="4.5", tier_2_from="3.5", tier_3_from="2.5"))
    assert response.status_code == 302, response.content.decode()
    review = CriticalityReview.objects.get()
    assert [(d["label"], d["weight"]) for d in review.dimensions] == [
        ("Financial", 3.0), ("Operational", 1.0), ("Legal / regulatory", 1.0), ("Reputational", 1.0),
        ("Customer trust", 2.0)]
    assert review.tier_thresholds == [4.5, 3.5, 2.5]
    page = client_for(lead).get(f"/systems/reviews/{review.pk}/").content.decode()
    assert "Financial (3)" in page and "Customer trust (2)" in page and "Safety" not in page
    assert "tier 1: score ≥ 4.5" in page and "tier 4: below 2.5" in page
    entry = AuditEntry.objects.get(action="review.created")
    assert entry.after["tier_thresholds"] == [4.5, 3.5, 2.5]

    # The leader is asked the weighted dimensions only, the lead's own one by its name.
    invitation = review.invitations.get(person__email="cfo@example.com")
    actions.do_open_review(acting_user=lead, review=review)
    leader = client_for(_user_for(invitation.person, Role.BUSINESS_LEADER))
    page = leader.get(f"/systems/reviews/{review.pk}/answer/").content.decode()
    assert "Customer trust impact of ERP" in page and "Financial impact of ERP" in page
    assert "Safety impact" not in page
    erp, wiki = scope["ERP"], scope["Wiki"]
    # Financial 5 (weight 3), customer trust 1 (weight 2): (15 + 2) / 5 = 3.4, tier 3 with these bounds.
    actions.do_save_answers(invitation=invitation, submit=True, answers={
        erp.pk: {"impacts": {"financial": 5, dimension_key(review, "Customer trust"): 1},
                 "tolerable_downtime_hours": None, "notes": ""},
        wiki.pk: {"impacts": {"operational": 5}, "tolerable_downtime_hours": None, "notes": ""}})
    review.refresh_from_db()
    actions.do_close_review(acting_user=lead, review=review)
    results = {r.system.name: r for r in ReviewResult.objects.filter(review=review)}
    assert results["ERP"].score == pytest.approx(3.4) and results["ERP"].tier == 3
    assert results["Wiki"].score == 5.0 and results["Wiki"].tier == 1


def dimension_key(review: CriticalityReview, label: str) -> str:
    return next(d["key"] for d in review.dimensions if d["label"] == label)


@pytest.mark.parametrize(("fields", "error"), [
    ({"weight_financial": "-1"}, "A weight cannot be negative."),
    ({"weight_financial": "11"}, "A weight is at most 10."),
    ({"weight_financial": "lots"}, "Enter a number."),
    ({"weight_financial": ""}, "This field is required."),
    ({f"weight_{k}": "0" for k in ("financial", "operational", "legal_regulatory", "reputational", "safety")},
     "Give at least one impact dimension a weight above 0."),
    ({"extra_1_label": "Customer trust"}, "Give the dimension a weight."),
    ({"extra_2_weight": "2"}, "Name the dimension, or clear its weight."),
    ({"extra_1_label": "financial", "extra_1_weight": "1"}, "There is already a dimension called financial."),
    ({"tier_1_from": "3", "tier_2_from": "3"}, "Tier 2 must start below tier 1 (3)."),
    ({"tier_3_from": "0.5"}, "Scores run from 1 to 5."),
    ({"tier_1_from": "6"}, "Scores run from 1 to 5."),
])
def test_bad_weights_and_thresholds_are_refused_and_nothing_saved(client_for, lead, scope, leaders, fields, error):
    response = client_for(lead).post("/systems/reviews/new/", _form(**fields))
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not CriticalityReview.objects.exists() and not ReviewInvitation.objects.exists()


def test_api_sets_dimensions_thresholds_and_leader_systems(api_for, lead, scope, leaders):
    crm, erp = scope["CRM"], scope["ERP"]
    response = api_for(lead).post("/api/v1/reviews", {
        "title": "By script", "deadline": (timezone.localdate() + timedelta(days=7)).isoformat(),
        "all_active": True, "leaders": ["cfo@example.com", "coo@example.com"],
        "dimensions": [{"key": "financial", "weight": 2}, {"label": "Customer trust", "weight": 1.5}],
        "tier_thresholds": [4.2, 3.1, 1.5],
        "leader_systems": {"CFO@example.com": [erp.pk, crm.pk]},
    }, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(d["label"], d["weight"]) for d in body["dimensions"]] == [("Financial", 2.0), ("Customer trust", 1.5)]
    assert body["tier_thresholds"] == [4.2, 3.1, 1.5]
    review = CriticalityReview.objects.get()
    cfo = review.invitations.get(person__email="cfo@example.com")
    coo = review.invitations.get(person__email="coo@example.com")
    assert sorted(s.name for s in cfo.systems_to_rate()) == ["CRM", "ERP"]
    assert sorted(s.name for s in coo.systems_to_rate()) == ["CRM", "ERP", "Payroll", "Wiki"]


@pytest.mark.parametrize(("payload", "message"), [
    ({"dimensions": [{"key": "finance"}]}, "Give either the key of a default dimension"),
    ({"dimensions": [{"key": "financial", "weight": -1}]}, "greater than or equal to 0"),
    ({"dimensions": [{"key": "financial", "weight": 0}]}, "Give at least one impact dimension a weight above 0."),
    ({"tier_thresholds": [2, 3, 4]}, "Tier 2 must start below tier 1"),
    ({"tier_thresholds": [4, 3]}, "at least 3 items"),
    ({"leader_systems": {"ceo@example.com": []}}, "ceo@example.com is not one of the leaders invited."),
    ({"leader_systems": {"cfo@example.com": [999999]}}, "Not systems in the review's scope: 999999."),
    ({"leader_systems": {"cfo@example.com": []}}, "Give at least one system"),
])
def test_api_refuses_bad_setup_with_422(api_for, lead, scope, leaders, payload, message):
    body = {"title": "By script", "deadline": (timezone.localdate() + timedelta(days=7)).isoformat(),
            "all_active": True, "leaders": ["cfo@example.com", "coo@example.com"], **payload}
    response = api_for(lead).post("/api/v1/reviews", body, content_type="application/json")
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not CriticalityReview.objects.exists()


# --- the systems each leader rates ----------------------------------------------------------

@pytest.fixture
def draft(lead, scope, leaders) -> CriticalityReview:
    return actions.do_create_review(acting_user=lead, title="2027 review", deadline=timezone.localdate(),
                                    aggregation="mean", systems=scope.values(), leaders=leaders)


def test_lead_chooses_the_systems_a_leader_rates(client_for, lead, scope, draft):
    cfo = draft.invitations.get(person__email="cfo@example.com")
    client = client_for(lead)
    page = client.get(f"/systems/reviews/{draft.pk}/").content.decode()
    assert page.count("All 4") == 2
    url = f"/systems/reviews/{draft.pk}/leaders/{cfo.pk}/systems/"
    assert f'href="{url}"' in page
    response = client.post(url, {"systems": [scope["ERP"].pk, scope["Payroll"].pk]})
    assert response.status_code == 302
    page = client.get(f"/systems/reviews/{draft.pk}/").content.decode()
    assert "2 of 4" in page and "All 4" in page
    assert AuditEntry.objects.filter(action="review.leader_systems_set").exists()

    # The CFO's answer page asks about those two only; the COO's about all four.
    actions.do_open_review(acting_user=lead, review=draft)
    cfo_user = client_for(_user_for(cfo.person, Role.BUSINESS_LEADER))
    page = cfo_user.get(f"/systems/reviews/{draft.pk}/answer/").content.decode()
    assert "<legend>ERP</legend>" in page and "<legend>Payroll</legend>" in page
    assert "<legend>CRM</legend>" not in page and "<legend>Wiki</legend>" not in page

    # Back to every system in scope.
    client.post(url, {"all_in_scope": "on"})
    assert cfo.systems.count() == 0
    assert sorted(s.name for s in cfo.systems_to_rate()) == ["CRM", "ERP", "Payroll", "Wiki"]


def _user_for(person, role):
    from bastion.accounts.models import User
    return User.objects.create_user(person.email, "x" * 16, role=role, person=person)


def test_narrowing_drops_a_draft_rating_of_a_system_no_longer_theirs(lead, scope, draft):
    cfo = draft.invitations.get(person__email="cfo@example.com")
    actions.do_open_review(acting_user=lead, review=draft)
    blank = {"tolerable_downtime_hours": None, "notes": ""}
    actions.do_save_answers(invitation=cfo, submit=False, answers={
        scope["ERP"].pk: {"impacts": {"financial": 4}, **blank}, scope["Wiki"].pk: {"impacts": {"financial": 2}, **blank}})
    actions.do_set_leader_systems(acting_user=lead, invitation=cfo, systems=[scope["ERP"]])
    assert [r.system.name for r in SystemRating.objects.filter(invitation=cfo)] == ["ERP"]


def test_leader_systems_refused_after_submit_or_close(client_for, lead, scope, draft):
    cfo = draft.invitations.get(person__email="cfo@example.com")
    actions.do_open_review(acting_user=lead, review=draft)
    actions.do_save_answers(invitation=cfo, submit=True, answers={})
    url = f"/systems/reviews/{draft.pk}/leaders/{cfo.pk}/systems/"
    page = client_for(lead).get(url).content.decode()
    assert "has already submitted their answers" in page and "Save</button>" not in page
    client_for(lead).post(url, {"systems": [scope["ERP"].pk]})
    assert cfo.systems.count() == 0
    with pytest.raises(ValueError):
        actions.do_set_leader_systems(acting_user=lead, invitation=cfo, systems=[scope["ERP"]])


def test_leader_systems_bad_input(client_for, lead, scope, draft):
    other = add_system("Not in scope", status="retired")
    cfo = draft.invitations.get(person__email="cfo@example.com")
    url = f"/systems/reviews/{draft.pk}/leaders/{cfo.pk}/systems/"
    for data, message in [({}, "Choose at least one system, or every system in scope."),
                          ({"systems": [other.pk]}, "Select a valid choice."),
                          ({"systems": ["abc"]}, "is not a valid value")]:
        response = client_for(lead).post(url, data)
        assert response.status_code == 400 and message in response.content.decode()
    assert cfo.systems.count() == 0
    # An invitation of another review is not found through this one.
    other_review = actions.do_create_review(acting_user=lead, title="Other", deadline=timezone.localdate(),
                                            aggregation="mean", systems=[scope["CRM"]], leaders=[cfo.person])
    stranger = other_review.invitations.get()
    assert client_for(lead).get(f"/systems/reviews/{draft.pk}/leaders/{stranger.pk}/systems/").status_code == 404


@pytest.mark.parametrize("role", ALL_ROLES + [None])
def test_only_review_runners_choose_leader_systems(client_for, make_user, draft, role):
    cfo = draft.invitations.get(person__email="cfo@example.com")
    user = make_user(role) if role else None
    response = client_for(user).get(f"/systems/reviews/{draft.pk}/leaders/{cfo.pk}/systems/")
    if role in (Role.SECURITY_LEAD, Role.SECURITY_TEAM):
        assert response.status_code == 200
    elif role is None:
        assert response.status_code == 302 and "/login" in response["Location"]
    else:
        assert response.status_code in (403, 404)
    assert draft.status == ReviewStatus.DRAFT and cfo.status == InvitationStatus.INVITED


# --- finding reviews ------------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_reviews_are_in_the_menu_of_those_who_may_read_them(client_for, make_user, role):
    page = client_for(make_user(role)).get("/").content.decode()
    shown = 'href="/systems/reviews/"' in page
    assert shown == (role in (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.AUDITOR))


def test_a_leader_finds_their_open_review_on_the_home_page(client_for, lead, draft):
    cfo = draft.invitations.get(person__email="cfo@example.com")
    user = _user_for(cfo.person, Role.BUSINESS_LEADER)
    assert "asking for your view" not in client_for(user).get("/").content.decode()  # still a draft
    actions.do_open_review(acting_user=lead, review=draft)
    page = client_for(user).get("/").content.decode()
    assert f'href="/systems/reviews/{draft.pk}/answer/">2027 review</a>: answer by' in page
    actions.do_save_answers(invitation=cfo, answers={}, submit=True)
    assert "answered, thank you" in client_for(user).get("/").content.decode()
    draft.refresh_from_db()
    actions.do_close_review(acting_user=lead, review=draft)
    assert "asking for your view" not in client_for(user).get("/").content.decode()
    page = client_for(user).get(f"/systems/reviews/{draft.pk}/answer/").content.decode()
    assert "The review has closed" in page
