"""A final status update: the incident is resolved, no next update time, so no reminder is due.
Any other update still needs its next update time, in the future. Shown on the page, in the API,
in the email and in the dossier."""

import html
import re
from datetime import timedelta

from bastion.incidents import actions, dossier, updates
from bastion.incidents.models import StatusUpdate, UpdateReminder

from .conftest import T0

JSON = "application/json"


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _declare(lead, commander):
    return actions.do_declare(
        acting_user=lead, now=T0, title="Ransomware on the file servers", summary="Encrypted shares in Finance.",
        detected_at=T0 - timedelta(hours=1), reported_by="EDR", type_key="ransomware", incident_commander=commander)


def _send(lead, incident, now, **fields):
    values = {"what_happened": "Shares encrypted.", "containment": "Isolated.", "impact": "Finance halted.",
              "confidence": "high", "unknowns": "Nothing material.", "audiences": ["executives"]} | fields
    return updates.do_send_update(acting_user=lead, incident=incident, now=now, **values)


def test_a_final_update_means_no_reminder(published, lead, commander, smtp_server, run_tasks,
                                          django_capture_on_commit_callbacks):
    incident = _declare(lead, commander)
    _send(lead, incident, T0, next_update_at=T0 + timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        final = _send(lead, incident, T0 + timedelta(hours=1), final=True, what_happened="Restored from backups.")
    run_tasks()
    assert final.final and final.next_update_at is None
    body = smtp_server.messages[-1].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "This is the final update: the incident is resolved and no further update will follow." in body
    assert "Next update" not in body
    entry = incident.timeline.filter(kind="update").order_by("-seq").first()
    assert "final update: no further update follows." in entry.text
    # The earlier update's due time has passed, but the final one came after it: nobody is reminded.
    assert updates.remind_due_updates(T0 + timedelta(days=3)) == 0
    assert not UpdateReminder.objects.exists()
    # The dossier says so.
    data = dossier.dossier(incident)
    assert [(u["number"], u["final"], u["next_update_at"]) for u in data["updates"]] == [
        (1, False, "2026-03-02T11:00:00.000000+00:00"), (2, True, None)]
    assert dossier.render_dossier_pdf(incident).startswith(b"%PDF")


def test_only_a_final_update_goes_without_a_next_update_time(published, lead, commander, api_for):
    incident = _declare(lead, commander)
    api = api_for(lead)
    base = {"what_happened": "Restored.", "containment": "Done.", "impact": "None left.", "confidence": "high",
            "unknowns": "Nothing.", "audiences": ["executives"]}
    url = f"/api/v1/incidents/{incident.pk}/updates"
    missing = api.post(url, base, content_type=JSON)
    assert missing.status_code == 422
    assert [e["msg"] for e in missing.json()["detail"]] == [
        "Say when the next update comes (a date and time with its time zone), or mark the update final."]
    both = api.post(url, base | {"final": True, "next_update_at": "2099-01-01T00:00:00Z"}, content_type=JSON)
    assert [e["msg"] for e in both.json()["detail"]] == [
        "A final update has no next update: leave the next update time empty."]
    past = api.post(url, base | {"next_update_at": "2020-01-01T00:00:00Z"}, content_type=JSON)
    assert [e["msg"] for e in past.json()["detail"]] == ["The next update must be due in the future."]
    assert not StatusUpdate.objects.exists()
    sent = api.post(url, base | {"final": True}, content_type=JSON)
    assert sent.status_code == 201
    assert (sent.json()["final"], sent.json()["next_update_at"]) == (True, None)
    assert api.get(url).json()[0]["final"] is True


def test_the_page_sends_and_shows_a_final_update(published, lead, commander, client_for):
    incident = _declare(lead, commander)
    client = client_for(lead)
    form = _text(client.get(f"/incidents/{incident.pk}/updates/new/"))
    assert "Final update: the incident is resolved, no further update follows" in form
    fields = {"what_happened": "Restored from backups.", "containment": "Done.", "impact": "None left.",
              "confidence": "high", "unknowns": "Nothing.", "audiences": ["executives"]}
    refused = client.post(f"/incidents/{incident.pk}/updates/new/", fields | {"next_update_at": ""})
    assert refused.status_code == 400 and "or mark the update final" in _text(refused)
    # The time the form pre-fills is left as it was: a final update ignores it.
    sent = client.post(f"/incidents/{incident.pk}/updates/new/",
                       fields | {"final": "on", "next_update_at": "2099-01-01T09:00"}, follow=True)
    assert "Status update 1 sent" in _text(sent)
    assert "final update : no further update follows" in _text(sent)
    assert StatusUpdate.objects.get().next_update_at is None
