"""Who may do what with campaigns, through the API, for every role; the mail add-in's report."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.phishing import sending, tracking
from bastion.phishing.models import CampaignStatus, EventKind, Recipient, TrackingEvent

from .conftest import make_people

pytestmark = pytest.mark.django_db

READ = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.AUDITOR}
MANAGE = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
ALL = list(Role)


@pytest.fixture
def campaign(make_campaign, smtp_server):
    make_people(4)
    campaign = make_campaign(starts_at=timezone.now() + timedelta(hours=2))
    return campaign


@pytest.mark.parametrize("role", ALL)
def test_reading_campaigns_and_results_by_role(api_for, make_user, campaign, role):
    api = api_for(make_user(role))
    listed = api.get("/api/v1/campaigns")
    one = api.get(f"/api/v1/campaigns/{campaign.pk}")
    results = api.get(f"/api/v1/campaigns/{campaign.pk}/results")
    if role in READ:
        assert listed.status_code == 200 and listed.json()["count"] == 1
        assert one.status_code == 200 and one.json()["name"] == "Spring" and one.json()["status"] == "scheduled"
        assert results.status_code == 200 and results.json()["recipients"] == 4
    else:
        assert (listed.status_code, one.status_code, results.status_code) == (403, 403, 403)


@pytest.mark.parametrize("role", ALL)
def test_cancelling_by_role(api_for, make_user, campaign, role):
    response = api_for(make_user(role)).post(f"/api/v1/campaigns/{campaign.pk}/cancel")
    campaign.refresh_from_db()
    if role in MANAGE:
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        assert campaign.status == CampaignStatus.CANCELLED
    else:
        assert response.status_code == 403 and campaign.status == CampaignStatus.SCHEDULED


@pytest.mark.parametrize("role", ALL)
def test_creating_by_role(api_for, make_user, domain, profile, template, page, role):
    make_people(3)
    body = {"name": "Autumn", "templates": [template.pk], "landing_page": page.pk, "sending_profile": profile.pk,
            "starts_at": timezone.now().isoformat(), "window_minutes": 60}
    response = api_for(make_user(role)).post("/api/v1/campaigns", body, content_type="application/json")
    if role in MANAGE:
        assert response.status_code == 201 and response.json()["name"] == "Autumn"
        assert Recipient.objects.count() == 3
        assert AuditEntry.objects.filter(action="phishing.campaign_created").count() == 1
    else:
        assert response.status_code == 403 and not Recipient.objects.exists()


def test_create_refuses_outside_domains_and_bad_input_clearly(api_for, lead, domain, profile, template, page):
    from bastion.people.models import Person

    make_people(2)
    Person.objects.create(employee_id="X1", email="friend@gmail.example", first_name="F", last_name="G")
    api = api_for(lead)
    body = {"name": "Autumn", "templates": [template.pk], "landing_page": page.pk, "sending_profile": profile.pk,
            "starts_at": timezone.now().isoformat()}
    response = api.post("/api/v1/campaigns", body, content_type="application/json")
    assert response.status_code == 422
    assert "outside the verified domains" in response.json()["detail"] and "friend@gmail.example" in \
        response.json()["detail"]
    for bad in ({"window_minutes": -5}, {"templates": []}, {"templates": [999999]}, {"landing_page": 999999},
                {"surprise": 1}):
        assert api.post("/api/v1/campaigns", {**body, **bad}, content_type="application/json").status_code == 422
    assert not Recipient.objects.exists()


def test_cancelling_a_finished_campaign_is_a_conflict(api_for, lead, make_campaign, smtp_server):
    make_people(2)
    campaign = make_campaign()
    sending.send_due()
    response = api_for(lead).post(f"/api/v1/campaigns/{campaign.pk}/cancel")
    assert response.status_code == 409 and "finished campaign cannot become cancelled" in response.json()["detail"]


def test_unknown_campaign_is_404(api_for, lead):
    assert api_for(lead).get("/api/v1/campaigns/999999").status_code == 404


def test_results_api_shows_raw_and_filtered(api_for, lead, make_campaign, smtp_server):
    make_people(2)
    campaign = make_campaign()
    sending.send_due()
    recipient = Recipient.objects.first()
    tracking.save_event(TrackingEvent(recipient=recipient, kind=EventKind.CLICKED, automated=True, rule="too-soon"))
    results = api_for(lead).get(f"/api/v1/campaigns/{campaign.pk}/results").json()
    assert results["sent"] == 2 and results["raw"]["clicked"] == 1 and results["filtered"]["clicked"] == 0
    assert results["click_rate"] == 0.0 and results["median_seconds_to_report"] is None


# --- the mail add-in ------------------------------------------------------------------------


@pytest.fixture
def sent(make_campaign, smtp_server):
    people = make_people(3)
    make_campaign()
    sending.send_due()
    Recipient.objects.update(sent_at=timezone.now() - timedelta(minutes=5))
    return people


def test_an_employee_reports_their_own_simulation_from_the_add_in(api_for, make_user, sent):
    person = sent[1]
    token = Recipient.objects.get(person=person).token
    api = api_for(make_user(Role.EMPLOYEE, person=person))
    response = api.post("/api/v1/phishing/report", {"token": token}, content_type="application/json")
    assert response.status_code == 200 and "phishing simulation" in response.json()["detail"]
    event = TrackingEvent.objects.get()
    assert (event.kind, event.via, event.automated) == (EventKind.REPORTED, "add-in", False)


@pytest.mark.parametrize("role", ALL)
def test_reporting_someone_elses_token_by_role(api_for, make_user, sent, role):
    token = Recipient.objects.get(person=sent[2]).token
    response = api_for(make_user(role, person=sent[1])).post(
        "/api/v1/phishing/report", {"token": token}, content_type="application/json")
    if role in MANAGE:  # the security team records a report forwarded to them
        assert response.status_code == 200
    else:
        assert response.status_code == 404 and not TrackingEvent.objects.exists()


def test_add_in_unknown_token_is_404_and_no_api_token_is_401(api_for, lead, sent):
    api = api_for(lead)
    assert api.post("/api/v1/phishing/report", {"token": "nope" * 8}, content_type="application/json"
                    ).status_code == 404
    assert api.post("/api/v1/phishing/report", {"token": "x" * 65}, content_type="application/json"
                    ).status_code == 422
    token = Recipient.objects.first().token
    assert api_for(None).post("/api/v1/phishing/report", {"token": token}, content_type="application/json"
                              ).status_code == 401
    assert not TrackingEvent.objects.exists()


# --- the automated-hit rules ----------------------------------------------------------------

RULES_READ = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR}


@pytest.mark.parametrize("role", ALL)
def test_tracking_rules_by_role(api_for, make_user, role):
    api = api_for(make_user(role))
    got = api.get("/api/v1/phishing/rules")
    put = api.put("/api/v1/phishing/rules", {"too_soon_seconds": 30, "scanner_agents": ["Sentinel"],
                                             "scanner_networks": ["198.51.100.7/24"]}, content_type="application/json")
    if role in RULES_READ:
        assert got.status_code == 200 and got.json()["too_soon_seconds"] == 10 and "bot" in got.json()["scanner_agents"]
    else:
        assert got.status_code == 403
    if role in MANAGE:
        assert put.status_code == 200
        assert put.json() == {"too_soon_seconds": 30, "scanner_agents": ["sentinel"],
                              "scanner_networks": ["198.51.100.0/24"], "no_human_signal": False,
                              "no_human_signal_seconds": 120, "no_human_signal_since": None}
        assert AuditEntry.objects.filter(action="phishing.tracking_rules_changed").count() == 1
    else:
        assert put.status_code == 403


def test_changed_rules_apply_to_the_next_hit(api_for, lead, sent):
    from django.test import Client

    api_for(lead).put("/api/v1/phishing/rules", {"too_soon_seconds": 10, "scanner_agents": ["acme-gateway"],
                                                 "scanner_networks": []}, content_type="application/json")
    token = Recipient.objects.first().token
    Client(HTTP_USER_AGENT="ACME-Gateway/2.1").get(f"/p/c/{token}/")
    Client(HTTP_USER_AGENT="Wget/1.0").get(f"/p/c/{token}/")  # no longer in the list
    assert list(TrackingEvent.objects.values_list("automated", "rule").order_by("pk")) == [
        (True, "scanner-agent"), (False, "")]


def test_bad_rules_are_refused_clearly(api_for, lead):
    api = api_for(lead)
    bad = api.put("/api/v1/phishing/rules", {"too_soon_seconds": 10, "scanner_agents": [],
                                             "scanner_networks": ["10.0.0.0/33"]}, content_type="application/json")
    assert bad.status_code == 422 and "“10.0.0.0/33” is not a network in CIDR form" in bad.json()["detail"]
    assert api.put("/api/v1/phishing/rules", {"too_soon_seconds": -1, "scanner_agents": [], "scanner_networks": []},
                   content_type="application/json").status_code == 422
    assert api.get("/api/v1/phishing/rules").json()["scanner_networks"] == []


def test_list_and_results_cost_a_fixed_number_of_queries(api_for, lead, make_campaign, smtp_server,
                                                         django_assert_max_num_queries):
    make_people(6)
    campaigns = [make_campaign(name=f"C{n}") for n in range(5)]
    api = api_for(lead)
    with django_assert_max_num_queries(4):  # the API token, its use, the page, the count
        listed = api.get("/api/v1/campaigns")
    assert listed.json()["count"] == 5 and len(listed.json()["items"]) == 5
    sending.send_due()
    with django_assert_max_num_queries(6):  # … and the results' cache stamp
        assert api.get(f"/api/v1/campaigns/{campaigns[0].pk}/results").json()["sent"] == 6
