"""Status updates: one honest structure sent by email (through a real SMTP server) to the chosen
audiences, never edited (a correction is a new update linked to the one it corrects), restricted
incidents kept to their members unless the sender confirms otherwise, and the reminder to the
incident commander once per due time."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.audit.models import AuditEntry
from bastion.incidents import actions, updates
from bastion.incidents.models import SentUpdateError, StatusUpdate, UpdateReminder

from .conftest import T0, person

JSON = "application/json"


def _declare(lead, commander, now=None, **fields):
    now = now or timezone.now()
    return actions.do_declare(
        acting_user=lead, now=now, title="Ransomware on the file servers", summary="Encrypted shares in Finance.",
        detected_at=now - timedelta(hours=1), reported_by="EDR", type_key="ransomware",
        incident_commander=commander, **fields)


def body(**fields) -> dict:
    values = {"what_happened": "Ransomware encrypted two Finance file shares overnight.",
              "containment": "The file servers are isolated; backups are being checked.",
              "impact": "Finance cannot close the month today; no sign of data theft so far.",
              "confidence": "medium", "unknowns": "How the attacker got in; whether data left the network.",
              "next_update_at": (timezone.now() + timedelta(hours=4)).isoformat(), "audiences": ["executives"]}
    values.update(fields)
    return values


def problems(response) -> list[str]:
    assert response.status_code == 422, response.content
    return [e["msg"] for e in response.json()["detail"]]


@pytest.fixture
def lead_api(lead, api_for):
    return api_for(lead)


def test_an_update_reaches_executives_and_customers_by_email(published, lead, lead_api, commander, smtp_server,
                                                             run_tasks, django_capture_on_commit_callbacks):
    incident = _declare(lead, commander)
    person("Eve", "Employee")  # staff: not chosen, so not told
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_api.post(f"/api/v1/incidents/{incident.pk}/updates", body(
            audiences=["executives", "customers"], customer_addresses=["ops@customer.example", "Carla@example.com"]),
            content_type=JSON)
    run_tasks()
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["number"], data["recipient_count"], data["corrects"]) == (1, 3, None)
    assert sorted(m["To"] for m in smtp_server.messages) == [
        "carla@example.com", "gina@example.com", "ops@customer.example"]
    message = smtp_server.messages[0]
    assert message["Subject"] == f"Status update 1 on INC-{incident.pk}: Ransomware on the file servers"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    for part in ("What happened\nRansomware encrypted two Finance file shares overnight.",
                 "What is being done to contain it\nThe file servers are isolated; backups are being checked.",
                 "How bad it looks\nFinance cannot close the month today", "Our confidence in this assessment: Medium",
                 "What is not known yet\nHow the attacker got in", "Next update\nBy "):
        assert part in text
    entry = incident.timeline.filter(kind="update").get()
    assert entry.text.startswith("Status update 1 sent to executives, a customer list: 3 recipients. Confidence medium")
    assert AuditEntry.objects.filter(action="incident.update_sent").count() == 1
    listed = lead_api.get(f"/api/v1/incidents/{incident.pk}/updates").json()
    assert [u["number"] for u in listed] == [1] and listed[0]["sent_by"] == "alice@example.com"


def test_a_sent_update_is_never_edited_and_a_correction_links_to_it(published, lead, lead_api, commander,
                                                                     smtp_server, run_tasks,
                                                                     django_capture_on_commit_callbacks):
    incident = _declare(lead, commander)
    first = lead_api.post(f"/api/v1/incidents/{incident.pk}/updates", body(), content_type=JSON).json()
    url = f"/api/v1/incidents/{incident.pk}/updates/{first['id']}"
    assert lead_api.get(url).json()["impact"].startswith("Finance cannot close")
    # No edit by the API: the update's address answers only GET.
    for method in (lead_api.put, lead_api.patch):
        assert method(url, body(impact="Nothing happened."), content_type=JSON).status_code == 405
    assert lead_api.delete(url).status_code == 405
    # Nor below it: the model refuses to change a sent row.
    sent = StatusUpdate.objects.get(pk=first["id"])
    sent.impact = "Nothing happened."
    with pytest.raises(SentUpdateError):
        sent.save()
    assert StatusUpdate.objects.get(pk=first["id"]).impact.startswith("Finance cannot close")
    # A correction is a new update pointing at the one it corrects.
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_api.post(f"/api/v1/incidents/{incident.pk}/updates", body(
            corrects=first["id"], impact="Finance and HR shares are encrypted; HR data may have been copied."),
            content_type=JSON)
    run_tasks()
    assert response.status_code == 201, response.content
    assert (response.json()["number"], response.json()["corrects"]) == (2, first["id"])
    assert smtp_server.messages[0]["Subject"].strip().startswith(f"Correction: Status update 2 on INC-{incident.pk}")
    assert "This update corrects update 1 (sent " in smtp_server.messages[0].get_body(("plain",)).get_content()
    assert "Status update 2 (correcting update 1) sent" in incident.timeline.filter(kind="update").last().text
    # A correction must correct an update of the same incident.
    other = _declare(lead, commander)
    assert problems(lead_api.post(f"/api/v1/incidents/{other.pk}/updates", body(corrects=first["id"]),
                                  content_type=JSON)) == ["A correction must correct an update of the same incident."]
    assert problems(lead_api.post(f"/api/v1/incidents/{other.pk}/updates", body(corrects=999_999),
                                  content_type=JSON)) == ["No status update with id 999999."]
    assert not other.updates.exists()


def test_bad_updates_are_refused_with_every_problem_and_nothing_sent(published, lead, lead_api, commander):
    incident = _declare(lead, commander)
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    assert problems(lead_api.post(f"/api/v1/incidents/{incident.pk}/updates", body(
        what_happened=" ", unknowns="", confidence="certain", next_update_at=past,
        audiences=["executives", "press"], customer_addresses=["not-an-address"]), content_type=JSON)) == [
        "Say what happened.", "Say what is not known yet (say so if nothing).",
        "Say how confident we are: one of low, medium, high.", "The next update must be due in the future.",
        "Unknown audiences: press (the audiences are: executives, all_staff, customers).",
        "Customer addresses were given but the customer list is not a chosen audience.",
        "Not email addresses: 'not-an-address'."]
    assert problems(lead_api.post(f"/api/v1/incidents/{incident.pk}/updates", body(audiences=["customers"]),
                                  content_type=JSON)) == ["The customer list is empty: give the addresses."]
    assert lead_api.post(f"/api/v1/incidents/{incident.pk}/updates", body(colour="red"),
                         content_type=JSON).status_code == 422
    assert not StatusUpdate.objects.exists()
    assert not incident.timeline.filter(kind="update").exists()


def test_a_restricted_incident_s_update_stays_with_its_members_unless_confirmed(
        published, lead, lead_api, commander, make_user, smtp_server, run_tasks, django_capture_on_commit_callbacks):
    carla = User.objects.get(email="carla@example.com")
    incident = _declare(lead, commander, restricted=True, members=[carla])
    person("Eve", "Employee")
    url = f"/api/v1/incidents/{incident.pk}/updates"
    assert problems(lead_api.post(url, body(audiences=["executives", "all_staff"]), content_type=JSON)) == [
        "This incident is restricted to its members; sending to all staff goes beyond them. "
        "Confirm that explicitly to send."]
    with django_capture_on_commit_callbacks(execute=True):
        assert lead_api.post(url, body(), content_type=JSON).status_code == 201
    run_tasks()
    # Executives who are not members (Gina) are not told.
    assert [m["To"] for m in smtp_server.messages] == ["carla@example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_api.post(url, body(audiences=["all_staff"], beyond_members=True), content_type=JSON)
    run_tasks()
    assert response.status_code == 201 and response.json()["recipient_count"] >= 5
    assert "eve@example.com" in {m["To"] for m in smtp_server.messages}
    assert "beyond the members as confirmed" in incident.timeline.filter(kind="update").last().text


def test_who_may_read_and_send_updates(published, lead, commander, make_user, api_for):
    incident = _declare(lead, commander)
    secret = _declare(lead, commander, restricted=True)
    lead_api = api_for(lead)
    lead_api.post(f"/api/v1/incidents/{incident.pk}/updates", body(), content_type=JSON)
    for role, read, send in [(Role.SECURITY_TEAM, 200, 201), (Role.EXECUTIVE, 200, 403), (Role.AUDITOR, 200, 403),
                             (Role.BUSINESS_LEADER, 403, 403), (Role.MANAGER, 403, 403), (Role.EMPLOYEE, 403, 403)]:
        client = api_for(make_user(role))
        url = f"/api/v1/incidents/{incident.pk}/updates"
        assert client.get(url).status_code == read, role
        assert client.post(url, body(), content_type=JSON).status_code == send, role
        if read == 200:
            assert client.get(f"/api/v1/incidents/{secret.pk}/updates").status_code == 404, role
            assert client.post(f"/api/v1/incidents/{secret.pk}/updates", body(),
                               content_type=JSON).status_code == 404, role


def test_the_commander_is_reminded_once_per_due_time(published, lead, commander, smtp_server, run_tasks,
                                                     django_capture_on_commit_callbacks):
    incident = _declare(lead, commander, now=T0)
    updates.do_send_update(acting_user=lead, incident=incident, now=T0, what_happened="Shares encrypted.",
                           containment="Isolated.", impact="Finance halted.", confidence="low",
                           unknowns="Entry point.", next_update_at=T0 + timedelta(hours=2), audiences=["executives"])
    capture = django_capture_on_commit_callbacks

    def run(now) -> int:
        with capture(execute=True):
            reminded = updates.remind_due_updates(now)
        run_tasks()
        return reminded

    smtp_server.messages.clear()
    assert run(T0 + timedelta(hours=1)) == 0
    assert run(T0 + timedelta(hours=2, minutes=5)) == 1
    assert run(T0 + timedelta(hours=3)) == 0  # once per due time
    reminders = [m for m in smtp_server.messages if m["Subject"].startswith("Status update due")]
    assert [m["To"] for m in reminders] == ["ivan@example.com"]
    assert "was due 2026-03-02T11:00:00.000000+00:00, and none has been sent" in \
        reminders[0].get_body(("plain",)).get_content()
    # The next update sets a new due time, reminded once in its turn; sent in time, no reminder.
    updates.do_send_update(acting_user=lead, incident=incident, now=T0 + timedelta(hours=4), what_happened="Same.",
                           containment="Restoring.", impact="Finance halted.", confidence="medium", unknowns="Entry.",
                           next_update_at=T0 + timedelta(hours=8), audiences=["executives"])
    assert run(T0 + timedelta(hours=7)) == 0
    assert run(T0 + timedelta(hours=9)) == 1
    assert UpdateReminder.objects.filter(incident=incident).count() == 2
    # Closed incidents are not reminded.
    updates.do_send_update(acting_user=lead, incident=incident, now=T0 + timedelta(hours=10), what_happened="Done.",
                           containment="Restored.", impact="None left.", confidence="high", unknowns="Nothing.",
                           next_update_at=T0 + timedelta(hours=11), audiences=["executives"])
    incident.status = "closed"
    incident.save(update_fields=["status"])
    assert run(T0 + timedelta(hours=12)) == 0


def test_the_update_reminder_is_a_periodic_job_of_the_worker():
    from bastion.jobs.periodic import discover_jobs

    jobs = discover_jobs()
    assert jobs["bastion.incidents.tasks.remind_due_status_updates"].every == timedelta(minutes=5)
    assert jobs["bastion.incidents.tasks.remind_due_action_items"].every == timedelta(hours=1)
