"""The criticality review, as the lead and the leaders use it: create, open, answer, close, results."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.lib.tokens import make_link_token
from bastion.outbox.models import OutboxMessage
from bastion.systems.models import (
    CriticalityReview,
    InvitationStatus,
    ReviewInvitation,
    ReviewResult,
    ReviewStatus,
    SystemRating,
)
from conftest import ALL_ROLES

from .helpers import DIMENSIONS, add_system, answer_link


@pytest.fixture
def scope(db):
    idp = add_system("Identity provider", rto_hours=48)
    erp = add_system("ERP", depends_on=[idp], rto_hours=4)
    wiki = add_system("Wiki")
    add_system("Old fax", status="retired")
    return {"idp": idp, "erp": erp, "wiki": wiki}


def _create_form(**fields) -> dict:
    values = {"title": "2026 review", "deadline": (timezone.localdate() + timedelta(days=14)).isoformat(),
              "aggregation": "mean", "all_active": "on",
              "leaders": "cfo@example.com\nCOO@example.com\n"}
    values.update(fields)
    return values


def _create(client) -> CriticalityReview:
    response = client.post("/systems/reviews/new/", _create_form())
    assert response.status_code == 302, response.content.decode()
    return CriticalityReview.objects.get()


def _answer_form(systems, impacts: dict, downtime: dict | None = None, action: str = "draft") -> dict:
    data = {action: "1"}
    for system in systems:
        for key in DIMENSIONS:
            data[f"s{system.pk}_{key}"] = ""
        data[f"s{system.pk}_downtime"] = (downtime or {}).get(system.name, "")
        data[f"s{system.pk}_notes"] = ""
    for system, values in impacts.items():
        for key, value in zip(DIMENSIONS, values, strict=False):
            data[f"s{system.pk}_{key}"] = str(value)
    return data


# --- creating -------------------------------------------------------------------------------

def test_create_review_with_all_active_systems(client_for, lead, scope, leaders):
    review = _create(client_for(lead))
    assert review.status == ReviewStatus.DRAFT
    assert sorted(s.name for s in review.systems.all()) == ["ERP", "Identity provider", "Wiki"]
    assert sorted(i.person.email for i in review.invitations.all()) == ["cfo@example.com", "coo@example.com"]
    page = client_for(lead).get(f"/systems/reviews/{review.pk}/").content.decode()
    assert "Carla Finance" in page and "Invited" in page and "Open and send invitations" in page


def test_create_review_with_chosen_systems(client_for, lead, scope, leaders):
    response = client_for(lead).post("/systems/reviews/new/", _create_form(
        all_active="", systems=[scope["erp"].pk, scope["wiki"].pk]))
    assert response.status_code == 302
    assert sorted(s.name for s in CriticalityReview.objects.get().systems.all()) == ["ERP", "Wiki"]


@pytest.mark.parametrize(("fields", "error"), [
    ({"deadline": "2000-01-01"}, "The deadline cannot be in the past."),
    ({"leaders": "cfo@example.com\nnobody@example.com"}, "Not a person in the directory: nobody@example.com"),
    ({"all_active": ""}, "Choose the systems in scope"),
])
def test_create_review_refuses_bad_input_and_saves_nothing(client_for, lead, scope, leaders, fields, error):
    response = client_for(lead).post("/systems/reviews/new/", _create_form(**fields))
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not CriticalityReview.objects.exists() and not ReviewInvitation.objects.exists()


# --- the whole journey ----------------------------------------------------------------------

def test_open_answer_close_and_results(client_for, lead, scope, leaders, smtp_server, run_tasks, client,
                                       django_capture_on_commit_callbacks):
    lead_client = client_for(lead)
    review = _create(lead_client)
    # The send task is enqueued when the opening commits; the worker (run_tasks) then sends.
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(f"/systems/reviews/{review.pk}/open/")
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == ReviewStatus.OPEN and review.opened_at is not None
    run_tasks()
    run_tasks()  # a second run sends nothing again
    assert sorted(m["To"] for m in smtp_server.messages) == ["cfo@example.com", "coo@example.com"]
    assert OutboxMessage.objects.filter(template="review_invitation").count() == 2
    # Opening twice sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        lead_client.post(f"/systems/reviews/{review.pk}/open/")
    run_tasks()
    assert len(smtp_server.messages) == 2

    links = {m["To"]: answer_link(m) for m in smtp_server.messages}
    erp, idp, wiki = scope["erp"], scope["idp"], scope["wiki"]
    systems = [erp, idp, wiki]

    # The CFO saves a draft, then submits.
    page = client.get(links["cfo@example.com"])
    assert page.status_code == 200 and "Carla Finance" in page.content.decode()
    assert f'for="id_s{erp.pk}_financial"' in page.content.decode()
    response = client.post(links["cfo@example.com"], _answer_form(systems, {erp: [5, 5, 5, 5, 5], wiki: [1]}))
    assert response.status_code == 302
    cfo = ReviewInvitation.objects.get(person__email="cfo@example.com")
    assert cfo.status == InvitationStatus.DRAFT and cfo.ratings.count() == 2
    response = client.post(links["cfo@example.com"], _answer_form(
        systems, {erp: [5, 5, 5, 5, 5], wiki: [1, 1]}, {"ERP": "2"}, action="submit"))
    assert response.status_code == 302
    cfo.refresh_from_db()
    assert cfo.status == InvitationStatus.SUBMITTED and cfo.submitted_at is not None
    page = client.get(links["cfo@example.com"]).content.decode()
    assert "Your answers were submitted" in page and "Save draft" not in page and "disabled" in page
    # Posting again after submitting changes nothing.
    client.post(links["cfo@example.com"], _answer_form(systems, {erp: [1]}, action="submit"))
    assert SystemRating.objects.get(invitation=cfo, system=erp).impacts["financial"] == 5

    # The COO disagrees on the ERP.
    response = client.post(links["coo@example.com"], _answer_form(
        systems, {erp: [1, 1, 1, 1, 1], idp: [3, 3, 3, 3, 3]}, action="submit"))
    assert response.status_code == 302

    progress = lead_client.get(f"/systems/reviews/{review.pk}/").content.decode()
    assert progress.count("Submitted") == 2

    response = lead_client.post(f"/systems/reviews/{review.pk}/close/")
    assert response.status_code == 302 and response["Location"] == f"/systems/reviews/{review.pk}/results/"
    review.refresh_from_db()
    assert review.status == ReviewStatus.CLOSED and review.closed_at is not None
    results = {r.system.name: r for r in ReviewResult.objects.filter(review=review)}
    assert results["ERP"].score == 3.0 and results["ERP"].spread == 4.0 and results["ERP"].rank == 1
    assert results["ERP"].rto_gap  # RTO 4 h, the CFO can tolerate 2 h
    assert results["Identity provider"].rank == 1 and results["Wiki"].rank == 3
    # ERP is tier 2 and depends on the identity provider (tier 2 by its own score).
    assert results["Identity provider"].effective_tier == 2

    page = lead_client.get(f"/systems/reviews/{review.pk}/results/").content.decode()
    conversations = page.split("Conversations to have")[1].split("</ol>")[0]
    assert "ERP" in conversations and "4.00 apart" in conversations
    assert page.index(">ERP<") < page.index(">Wiki<")
    assert "RTO longer than the 2 h tolerated" in page

    actions = set(AuditEntry.objects.filter(action__startswith="review.").values_list("action", flat=True))
    assert actions == {"review.created", "review.opened", "review.answer_saved", "review.answer_submitted",
                       "review.closed"}

    # Closed: the links now say so, and the answers stay as they were.
    response = client.get(links["coo@example.com"])
    assert response.status_code == 200 and "Your answers were submitted" in response.content.decode()


def test_ratings_outside_1_to_5_are_refused_and_nothing_saved(client_for, lead, scope, leaders):
    review = _create(client_for(lead))
    client_for(lead).post(f"/systems/reviews/{review.pk}/open/")
    invitation = review.invitations.get(person__email="cfo@example.com")
    link = f"/systems/reviews/answer/{make_link_token('review-answer', invitation.pk, expires_in=timedelta(days=1))}/"
    data = _answer_form([scope["erp"], scope["wiki"]], {scope["erp"]: [4, 4], scope["wiki"]: [6]})
    response = client_for(None).post(link, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Impact must be a whole number from 1 to 5" in page and "Nothing was saved" in page
    data[f"s{scope['wiki'].pk}_financial"] = "0"
    assert client_for(None).post(link, data).status_code == 400
    assert not SystemRating.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.INVITED


def test_bad_and_expired_links(client, client_for, lead, scope, leaders):
    review = _create(client_for(lead))
    client_for(lead).post(f"/systems/reviews/{review.pk}/open/")
    invitation = review.invitations.first()
    response = client.get("/systems/reviews/answer/not-a-real-token/")
    assert response.status_code == 400 and "This link is not valid" in response.content.decode()
    old = make_link_token("review-answer", invitation.pk, expires_in=timedelta(days=1),
                          now=timezone.now() - timedelta(days=3))
    response = client.get(f"/systems/reviews/answer/{old}/")
    assert response.status_code == 410 and "This link expired on" in response.content.decode()
    other = make_link_token("awareness.training", invitation.pk, expires_in=timedelta(days=1))
    response = client.get(f"/systems/reviews/answer/{other}/")
    assert response.status_code == 400 and "not meant for this page" in response.content.decode()


def test_draft_review_takes_no_answers(client, client_for, lead, scope, leaders):
    review = _create(client_for(lead))
    invitation = review.invitations.first()
    token = make_link_token("review-answer", invitation.pk, expires_in=timedelta(days=1))
    response = client.get(f"/systems/reviews/answer/{token}/")
    assert response.status_code == 410 and "not taking answers" in response.content.decode()


def test_signed_in_leader_answers_their_own_invitation(client_for, lead, make_user, scope, leaders):
    review = _create(client_for(lead))
    client_for(lead).post(f"/systems/reviews/{review.pk}/open/")
    cfo_user = make_user(Role.BUSINESS_LEADER, person=leaders[0])
    stranger = make_user(Role.BUSINESS_LEADER)
    url = f"/systems/reviews/{review.pk}/answer/"
    assert client_for(stranger).get(url).status_code == 404
    response = client_for(cfo_user).post(url, _answer_form([scope["erp"]], {scope["erp"]: [3]}, action="submit"))
    assert response.status_code == 302
    assert review.invitations.get(person=leaders[0]).status == InvitationStatus.SUBMITTED
    # A leader does not see the review's progress or results.
    assert client_for(cfo_user).get(f"/systems/reviews/{review.pk}/").status_code == 403
    assert client_for(cfo_user).get(f"/systems/reviews/{review.pk}/results/").status_code == 403


# --- who may do what ------------------------------------------------------------------------

RUNNERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
VIEWERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR, Role.EXECUTIVE}


@pytest.fixture
def open_review(client_for, lead, scope, leaders):
    review = _create(client_for(lead))
    client_for(lead).post(f"/systems/reviews/{review.pk}/open/")
    return review


@pytest.mark.parametrize("role", ALL_ROLES)
def test_role_access_to_lead_pages(client_for, make_user, open_review, role):
    client = client_for(make_user(role))
    pk = open_review.pk
    assert client.get("/systems/reviews/").status_code == (200 if role in VIEWERS else 403)
    assert client.get(f"/systems/reviews/{pk}/").status_code == (200 if role in VIEWERS else 403)
    assert client.get("/systems/reviews/new/").status_code == (200 if role in RUNNERS else 403)
    results = client.get(f"/systems/reviews/{pk}/results/").status_code
    assert results == (200 if role in RUNNERS | {Role.AUDITOR} else 403)
    if role not in RUNNERS:
        assert client.post("/systems/reviews/new/", _create_form()).status_code == 403
        assert client.post(f"/systems/reviews/{pk}/close/").status_code == 403
        assert client.post(f"/systems/reviews/{pk}/open/").status_code == 403
        open_review.refresh_from_db()
        assert open_review.status == ReviewStatus.OPEN
        assert CriticalityReview.objects.count() == 1


def test_anonymous_is_sent_to_sign_in(client, open_review):
    pk = open_review.pk
    for url in ("/systems/reviews/", "/systems/reviews/new/", f"/systems/reviews/{pk}/",
                f"/systems/reviews/{pk}/results/", f"/systems/reviews/{pk}/answer/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next="), url
    for url in (f"/systems/reviews/{pk}/open/", f"/systems/reviews/{pk}/close/"):
        assert client.post(url).status_code == 302


def test_executive_sees_results_only_once_closed(client_for, make_user, lead, open_review):
    executive = client_for(make_user(Role.EXECUTIVE))
    url = f"/systems/reviews/{open_review.pk}/results/"
    assert executive.get(url).status_code == 403
    client_for(lead).post(f"/systems/reviews/{open_review.pk}/close/")
    response = executive.get(url)
    assert response.status_code == 200 and "Ranking, most critical first" in response.content.decode()


def test_employee_is_refused(client_for, make_user, open_review):
    employee = client_for(make_user(Role.EMPLOYEE))
    for url in ("/systems/reviews/", f"/systems/reviews/{open_review.pk}/",
                f"/systems/reviews/{open_review.pk}/results/"):
        assert employee.get(url).status_code == 403


def test_status_transitions_follow_the_map(db):
    review = CriticalityReview(title="x", deadline=timezone.localdate())
    assert review.can_move_to(ReviewStatus.OPEN) and not review.can_move_to(ReviewStatus.CLOSED)
    review.move_to(ReviewStatus.OPEN)
    review.move_to(ReviewStatus.CLOSED)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        review.move_to(ReviewStatus.OPEN)
