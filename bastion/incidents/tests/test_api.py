"""The incidents API as a SIEM and the security team use it: declaring with a token, clear 422s
for bad input with nothing saved, 404 for unknown ids, updates of facts re-running the rules,
the timeline with its verification, notifications and deviations, and bounded query counts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.incidents import actions
from bastion.incidents.actions import DeviationReason
from bastion.incidents.models import Incident

from .conftest import person

JSON = "application/json"


@pytest.fixture
def siem(make_user, api_for):
    """The SIEM's service account: a security-team user with an API token."""
    return api_for(make_user(Role.SECURITY_TEAM, email="siem@example.com", full_name="SIEM"))


def body(**fields) -> dict:
    values = {"title": "Impossible travel on the CFO's account", "summary": "Sign-ins from two continents in 5 minutes.",
              "detected_at": (timezone.now() - timedelta(minutes=20)).isoformat(), "reported_by": "SIEM rule 4711",
              "type": "account_compromise"}
    values.update(fields)
    return values


def problems(response) -> list[str]:
    assert response.status_code == 422, response.content
    return [e["msg"] for e in response.json()["detail"]]


def test_a_siem_declares_an_incident_with_its_token(published, systems, commander, siem):
    response = siem.post("/api/v1/incidents", body(affected_systems=[systems["ERP"].pk],
                                                  incident_commander="ivan@example.com",
                                                  facts={"personal_data": True, "jurisdictions": ["DE"]},
                                                  clocks={"awareness": timezone.now().isoformat()}), content_type=JSON)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["reference"] == f"INC-{data['id']}" and data["plan_version"] == published.number
    assert (data["status"], data["type"], data["severity"], data["suggested_severity"]) == (
        "detection", "account_compromise", "critical", "critical")
    assert data["affected_systems"] == [{"id": systems["ERP"].pk, "name": "ERP"}]
    assert data["declared_by"] == "siem@example.com" and data["incident_commander"] == "ivan@example.com"
    assert set(data["clocks"]) == {"awareness", "detection", "declaration"}
    notifications = siem.get(f"/api/v1/incidents/{data['id']}/notifications").json()
    rules = {n["rule"] for n in notifications}
    assert {"gdpr-33-authority", "internal-executive", "internal-board", "cyber-insurer"} <= rules


def test_bad_declarations_answer_422_and_save_nothing(published, systems, siem):
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert problems(siem.post("/api/v1/incidents", body(type="meteor", detected_at=future), content_type=JSON)) == [
        "The detection time is in the future (" + timezone.datetime.fromisoformat(future).astimezone(
            timezone.UTC).isoformat(timespec="microseconds") + "); record what has happened.",
        "'meteor' is not an incident type of the plan in force (the types are: ransomware, data_breach, "
        "business_email_compromise, account_compromise, availability, insider)."]
    assert problems(siem.post("/api/v1/incidents", body(affected_systems=[999_999]), content_type=JSON)) == [
        "No business system with id 999999."]
    assert problems(siem.post("/api/v1/incidents", body(legal="nobody@example.com"), content_type=JSON)) == [
        "legal: nobody in the directory has the address 'nobody@example.com'."]
    assert problems(siem.post("/api/v1/incidents", body(severity="low", affected_systems=[systems["ERP"].pk]),
                              content_type=JSON)) == ["The severity low differs from the suggested critical: say why."]
    assert problems(siem.post("/api/v1/incidents", body(members=["employee@example.com"]), content_type=JSON)) == [
        "No active user has the address 'employee@example.com'."]
    assert siem.post("/api/v1/incidents", body(colour="red"), content_type=JSON).status_code == 422
    assert siem.post("/api/v1/incidents", "{not json", content_type=JSON).status_code in (400, 422)
    assert not Incident.objects.exists()


def test_declaring_without_a_plan_in_force_is_a_clear_422(db, siem):
    assert problems(siem.post("/api/v1/incidents", body(), content_type=JSON))[0].startswith(
        "No incident response plan is in force")


def test_executives_cannot_declare(published, make_user, api_for):
    api = api_for(make_user(Role.EXECUTIVE))
    assert api.post("/api/v1/incidents", body(), content_type=JSON).status_code == 403


def test_unknown_ids_are_404(published, siem):
    for page in ("", "/timeline", "/timeline/verify", "/notifications", "/deviations"):
        assert siem.get(f"/api/v1/incidents/424242{page}").status_code == 404
    assert siem.patch("/api/v1/incidents/424242", {"facts": {}}, content_type=JSON).status_code == 404


def test_updating_facts_reruns_the_rules_and_shows_on_the_timeline(published, siem):
    incident_id = siem.post("/api/v1/incidents", body(), content_type=JSON).json()["id"]
    changed = siem.patch(f"/api/v1/incidents/{incident_id}", {"facts": {"corporate_liability_possible": True}},
                         content_type=JSON)
    assert changed.status_code == 200 and "liability_flagged" in changed.json()["clocks"]
    due = {(n["rule"], n["recipient"]): n for n in siem.get(f"/api/v1/incidents/{incident_id}/notifications").json()}
    assert {("internal-liability", "Legal (General Counsel)"), ("internal-liability", "Chief executive")} <= set(due)
    assert due[("internal-liability", "Chief executive")]["status"] == "due"
    assert problems(siem.patch(f"/api/v1/incidents/{incident_id}", {"facts": {"ransom_paid": "maybe"}},
                               content_type=JSON)) == ["ransom_paid is true or false, not 'maybe'."]
    assert problems(siem.post(f"/api/v1/incidents/{incident_id}/status", {"status": "recovery"},
                              content_type=JSON)) == [
        "An incident in detection cannot move to recovery (allowed next: closed, triage)."]
    entries = siem.get(f"/api/v1/incidents/{incident_id}/timeline").json()
    assert [e["kind"] for e in entries["items"]] == ["declared", "facts", "notification"]
    assert entries["items"][1]["prev_hash"] == entries["items"][0]["hash"]
    verified = siem.get(f"/api/v1/incidents/{incident_id}/timeline/verify").json()
    assert verified["ok"] is True and verified["checked"] == 3 and verified["head"] == entries["items"][-1]["hash"]


def test_deviations_are_listed(published, lead, siem):
    incident_id = siem.post("/api/v1/incidents", body(type="business_email_compromise"), content_type=JSON).json()["id"]
    incident = Incident.objects.get(pk=incident_id)
    boss = person("Dana", "Decider", "dana@example.com")
    actions.do_skip_step(acting_user=lead, incident=incident, step_key="recall-payment", deviation=DeviationReason(
        "No payment was made: accounts payable caught the invoice before release.", boss, timezone.now()))
    listed = siem.get(f"/api/v1/incidents/{incident_id}/deviations").json()
    assert [(d["step"], d["kind"], d["decided_by"], d["recorded_by"]) for d in listed] == [
        ("recall-payment", "skipped", "dana@example.com", "alice@example.com")]


def test_the_list_costs_the_same_queries_for_one_incident_or_many(published, lead, siem):
    def declare(n: int) -> None:
        actions.do_declare(acting_user=lead, title=f"Incident {n}", summary="x", reported_by="SIEM",
                           detected_at=timezone.now() - timedelta(hours=1), type_key="availability")

    declare(0)
    siem.get("/api/v1/incidents")  # the token's first use writes last_used_at

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert siem.get("/api/v1/incidents").status_code == 200
        return len(queries)

    one = count()
    for n in range(1, 6):
        declare(n)
    assert count() == one <= 4
    page = siem.get("/api/v1/incidents?limit=2&offset=1").json()
    assert page["count"] == 6 and [i["title"] for i in page["items"]] == ["Incident 4", "Incident 3"]
    assert siem.get("/api/v1/incidents?status=open").json()["count"] == 6
    assert siem.get("/api/v1/incidents?status=closed").json()["count"] == 0
    assert siem.get("/api/v1/incidents?limit=100000").status_code == 422
