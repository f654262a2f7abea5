"""Internal notifications sent by email from the incident's page and the API, through a real SMTP
server: the message pre-filled from the rule with the incident's values, the recipients resolved
from the plan's roles (the deputy standing in for a holder who left), the exact text received
and recorded as done in the same transaction, and never sent twice. External recipients keep
the "record as done" form."""

import copy
import html
import re
from datetime import timedelta

import pytest
from django.conf import settings

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.incidents import actions
from bastion.incidents.models import Incident, NotificationDue
from bastion.people.models import Person, PersonStatus
from bastion.response import actions as plan_actions
from bastion.response.models import PlanVersion

from .conftest import T0, person

TEXT = ("Incident {ref}: corporate liability is possible after the phishing of the finance mailbox.\n"
        "Please call Ivan Commander on +44 20 7946 0000 now.")


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.fixture
def staffed(lead, make_user) -> PlanVersion:
    """The starter plan with its roles staffed: Legal is Gina Counsel (deputy Dan Deputy), the chief
    executive Carla Chief; one more rule names a person, the data protection officer Petra; approved
    and in force."""
    ceo = make_user(Role.EXECUTIVE, email="carla@example.com", person=person("Carla", "Chief", "carla@example.com"))
    counsel = make_user(Role.EXECUTIVE, email="gina@example.com", person=person("Gina", "Counsel", "gina@example.com"))
    deputy = person("Dan", "Deputy", "dan@example.com")
    plan = plan_actions.install_starter_plan(acting_user=lead)
    draft = plan.working_version()
    assert draft is not None
    content = copy.deepcopy(draft.content)
    holders = {"legal": [{"person": counsel.person.pk, "deputy": deputy.pk}],
               "ceo": [{"person": ceo.person.pk, "deputy": None}]}
    for role in content["roles"]:
        role["holders"] = holders.get(role["key"], role["holders"])
    dpo = person("Petra", "Privacy", "petra@example.com")
    content["rules"].append({
        "key": "internal-dpo", "name": "Data protection officer: liability possible",
        "description": "The DPO hears of any incident with possible corporate liability. Source: this plan.",
        "enabled": True, "when": {"all": [{"fact": "corporate_liability_possible", "op": "is", "value": True}]},
        "recipients": [{"kind": "person", "person": dpo.pk}],
        "deadline": {"clock": "liability_flagged", "amount": 4, "unit": "hours"}, "channel": "email",
        "message": "{title} ({incident}), declared {declared_at}: {link}"})
    plan_actions.do_save_draft(acting_user=lead, plan=plan, content=content, summary_of_changes="Staffed.")
    plan = plan_actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[ceo, counsel],
                                                reader_roles=["employee"])
    plan_actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = plan.working_version()
    assert version is not None
    for approver in (ceo, counsel):
        plan_actions.do_decide(acting_user=approver, plan=plan, version_number=version.number,
                               content_hash=version.content_hash, decision="approved")
    version.refresh_from_db()
    assert version.status == "published"
    return version


def declare(lead, commander, **fields) -> Incident:
    return actions.do_declare(
        acting_user=lead, title="Finance mailbox phished", summary="The CFO's assistant entered a password.",
        detected_at=T0 - timedelta(hours=1), reported_by="SIEM", type_key="account_compromise",
        incident_commander=commander, facts={"corporate_liability_possible": True}, **fields)


def test_send_to_a_plan_role_from_the_page(staffed, lead, commander, client_for, smtp_server, run_tasks,
                                           django_capture_on_commit_callbacks):
    incident = declare(lead, commander)
    counsel = incident.notifications.get(rule_key="internal-liability", recipient_key="role:legal")
    # The General Counsel has left: her deputy stands in.
    Person.objects.filter(email="gina@example.com").update(status=PersonStatus.LEAVER)

    client = client_for(lead)
    form = client.get(f"/incidents/{incident.pk}/notifications/{counsel.pk}/")
    page = _text(form)
    assert "Send by email from Bastion" in page
    assert "To: Dan Deputy <dan@example.com> (deputy for Gina Counsel, who has left)" in page
    prefilled = (f"Incident {incident.reference} ({incident.severity}): corporate liability is possible. "
                 "Call the incident commander now.")
    assert f">{html.escape(prefilled)}</textarea>" in form.content.decode().replace("\n", "")
    assert "Or record it as done another way" in page

    text = TEXT.format(ref=incident.reference)
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"/incidents/{incident.pk}/notifications/{counsel.pk}/",
                           {"outcome": "send", "text": text.replace("\n", "\r\n")}, follow=True)
    run_tasks()
    assert "emailed to dan@example.com and recorded as done" in _text(sent)
    assert [m["To"] for m in smtp_server.messages] == ["dan@example.com"]
    message = smtp_server.messages[0]
    assert message["Subject"].strip() == f"{incident.reference}: General Counsel and CEO: corporate liability possible"
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # as the mail reader shows it
    assert body.startswith(text + "\n\n-- \nSent from Bastion by Alice Lead for incident " + incident.reference)

    counsel.refresh_from_db()
    assert counsel.status == "done" and counsel.notified_channel == "email" and counsel.what_was_said == text
    assert counsel.emailed_to == ["dan@example.com"] and counsel.notified_by == lead.person
    assert counsel.notified_whom == "Dan Deputy <dan@example.com> (deputy for Gina Counsel, who has left)"
    entry = incident.timeline.order_by("-seq").first()
    assert entry.kind == "notification" and entry.text.startswith(
        "General Counsel and CEO: corporate liability possible: Alice Lead emailed Legal (General Counsel) from "
        "Bastion, to Dan Deputy <dan@example.com>")
    assert entry.text.endswith("What was said: " + text)
    assert AuditEntry.objects.get(action="incident.notification_sent").after["to"] == ["dan@example.com"]
    # The page shows it done, with what was said.
    assert "told Dan Deputy <dan@example.com>" in _text(client.get(f"/incidents/{incident.pk}/"))

    # Sending twice is impossible: refused, and nothing more is emailed.
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(f"/incidents/{incident.pk}/notifications/{counsel.pk}/", {"outcome": "send", "text": text})
    run_tasks()
    assert again.status_code == 400
    assert "Nothing was saved. Please correct: This notification is already recorded as done." in _text(again)
    assert "it cannot be sent again" in _text(again) and "Send by email" not in _text(again)
    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post(f"/api/v1/incidents/{incident.pk}/notifications/{counsel.pk}/send",
                              {"text": text}, content_type="application/json",
                              headers={"Authorization": "Bearer none"})
    assert refused.status_code == 401
    assert len(smtp_server.messages) == 1


def test_send_through_the_api_and_never_twice(staffed, lead, commander, api_for, smtp_server, run_tasks,
                                              django_capture_on_commit_callbacks):
    incident = declare(lead, commander)
    ceo = incident.notifications.get(rule_key="internal-liability", recipient_key="role:ceo")
    api = api_for(lead)
    base = f"/api/v1/incidents/{incident.pk}/notifications/{ceo.pk}"
    preview = api.get(f"{base}/email").json()
    assert preview == {"sendable": True, "to": ["carla@example.com"], "problems": [], "message": (
        f"Incident {incident.reference} ({incident.severity}): corporate liability is possible. "
        "Call the incident commander now.")}

    refused = api.post(f"{base}/send", {"text": "On behalf of {organisation}: call me."},
                       content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["msg"] == "Fill in {organisation} before sending."
    assert api.post(f"{base}/send", {"text": "  "}, content_type="application/json").json()["detail"][0]["msg"] == (
        "Write the message.")
    assert NotificationDue.objects.get(pk=ceo.pk).status == "due"  # nothing half-written

    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(f"{base}/send", {"text": "Carla: corporate liability is possible. Call Ivan now."},
                        content_type="application/json")
    run_tasks()
    assert sent.status_code == 200
    assert sent.json()["status"] == "done" and sent.json()["emailed_to"] == ["carla@example.com"]
    assert sent.json()["what_was_said"] == "Carla: corporate liability is possible. Call Ivan now."
    assert sent.json()["notified_channel"] == "email" and sent.json()["notified_by"] == "alice@example.com"
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(f"{base}/send", {"text": "Again."}, content_type="application/json")
    run_tasks()
    assert again.status_code == 422
    assert again.json()["detail"][0]["msg"] == "This notification is already recorded as done."
    assert api.get(f"{base}/email").json()["sendable"] is False
    assert [m["To"] for m in smtp_server.messages] == ["carla@example.com"]
    assert smtp_server.messages[0].get_body(("plain",)).get_content().replace("\r\n", "\n").startswith(
        "Carla: corporate liability is possible. Call Ivan now.\n")


def test_send_to_a_named_person_and_refuse_a_leaver(staffed, lead, commander, api_for, smtp_server, run_tasks,
                                                    django_capture_on_commit_callbacks):
    incident = declare(lead, commander)
    row = incident.notifications.get(rule_key="internal-dpo")
    api = api_for(lead)
    base = f"/api/v1/incidents/{incident.pk}/notifications/{row.pk}"
    preview = api.get(f"{base}/email").json()
    assert preview["to"] == ["petra@example.com"]
    assert preview["message"].startswith(f"Finance mailbox phished ({incident.reference}), declared ")
    assert preview["message"].endswith(f" UTC: {settings.BASE_URL}/incidents/{incident.pk}/")
    Person.objects.filter(email="petra@example.com").update(status=PersonStatus.LEAVER)
    refused = api.post(f"{base}/send", {"text": preview["message"]}, content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["msg"] == (
        "Petra Privacy (petra@example.com) has left the organisation; record how they were told instead, or change "
        "the plan.")
    Person.objects.filter(email="petra@example.com").update(status=PersonStatus.ACTIVE)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"{base}/send", {"text": preview["message"]}, content_type="application/json").status_code == 200
    run_tasks()
    assert [m["To"] for m in smtp_server.messages] == ["petra@example.com"]


def test_external_recipients_keep_the_record_form(staffed, lead, commander, client_for, api_for):
    incident = declare(lead, commander, severity="critical", severity_reason="The finance mailbox holds M&A files.")
    insurer = incident.notifications.get(rule_key="cyber-insurer")
    page = _text(client_for(lead).get(f"/incidents/{incident.pk}/notifications/{insurer.pk}/"))
    assert "Send by email" not in page and "Record as done" in page
    answer = api_for(lead).post(f"/api/v1/incidents/{incident.pk}/notifications/{insurer.pk}/send",
                                {"text": "Notice of a potential claim."}, content_type="application/json")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["msg"].startswith("External recipients (authorities, regulators, insurers")
    # A form post asking to send an external one is not a send either.
    refused = client_for(lead).post(f"/incidents/{incident.pk}/notifications/{insurer.pk}/",
                                    {"outcome": "send", "text": "x"})
    assert refused.status_code == 400 and "Choose whether it was done or is not required." in _text(refused)


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.AUDITOR, Role.MANAGER, Role.EMPLOYEE, Role.SECURITY_TEAM])
def test_who_may_send(role, staffed, lead, commander, make_user, api_for, smtp_server):
    incident = declare(lead, commander)
    restricted = declare(lead, commander, restricted=True, members=[lead])
    api = api_for(make_user(role))
    for one, readable in ((incident, True), (restricted, False)):
        row = one.notifications.get(rule_key="internal-liability", recipient_key="role:ceo")
        answer = api.post(f"/api/v1/incidents/{one.pk}/notifications/{row.pk}/send", {"text": "Call me."},
                          content_type="application/json")
        expected = 403 if role in (Role.MANAGER, Role.EMPLOYEE) else (
            (200 if role == Role.SECURITY_TEAM else 403) if readable else 404)
        assert answer.status_code == expected, (role, one.title)
