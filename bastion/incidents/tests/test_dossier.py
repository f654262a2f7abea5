"""The dossier: every record of the incident in JSON and PDF, the timeline with its hashes and a
verified head hash, evidence listed by name and SHA-256 (not embedded), for those who may see the
incident only."""

import hashlib
from datetime import timedelta

from django.utils import timezone

from bastion.accounts.models import Role
from bastion.incidents import actions, review, timeline, updates
from bastion.incidents.actions import DeviationReason
from bastion.incidents.models import TimelineEntry

from .conftest import person
from .tamper import lift_timeline_guard

WHY = "The bank's fraud line was closed; we froze the account through the relationship manager instead."
EVIDENCE = b"From: ceo@examp1e.com\nSubject: urgent invoice\n"


def _full_incident(lead, commander):
    now = timezone.now()
    decider = person("Dana", "Decider")
    incident = actions.do_declare(
        acting_user=lead, now=now - timedelta(minutes=30), title="CEO fraud", summary="A fake invoice was paid.",
        detected_at=now - timedelta(hours=1), reported_by="Accounts payable", type_key="business_email_compromise",
        incident_commander=commander, facts={"personal_data": True, "jurisdictions": ["DE"]},
        clocks={"awareness": now - timedelta(minutes=30)})
    step = incident.steps.filter(required=True).first()
    actions.do_skip_step(acting_user=lead, incident=incident, step_key=step.step_key,
                         deviation=DeviationReason(WHY, decider, now - timedelta(minutes=20)), now=now - timedelta(minutes=20))
    actions.do_add_timeline_entry(acting_user=lead, incident=incident, text="The phishing email.",
                                  evidence=("mail.eml", EVIDENCE), now=now - timedelta(minutes=15))
    first = updates.do_send_update(acting_user=lead, incident=incident, now=now - timedelta(minutes=10),
                                   what_happened="A fake invoice was paid.", containment="Payment recalled.",
                                   impact="EUR 40,000 at risk.", confidence="low", unknowns="Whether it comes back.",
                                   next_update_at=now + timedelta(hours=4), audiences=["executives"])
    updates.do_send_update(acting_user=lead, incident=incident, now=now - timedelta(minutes=5), corrects=first,
                           what_happened="A fake invoice was paid.", containment="Payment recalled.",
                           impact="EUR 48,000 at risk.", confidence="medium", unknowns="Whether it comes back.",
                           next_update_at=now + timedelta(hours=4), audiences=["executives"])
    review.do_save_review(acting_user=lead, incident=incident, now=now - timedelta(minutes=1),
                          root_cause="No call-back check.", what_worked="Fast report.", what_did_not="Bank line.",
                          plan_should_change=True, plan_changes="Night contact at the bank.", complete=True,
                          action_items=[review.ActionItemInput(title="Call-back checks", owner=decider,
                                                               due_date=(now + timedelta(days=30)).date())])
    return incident


def test_the_dossier_json_holds_every_record_and_a_verified_chain(published, lead, commander, api_for):
    incident = _full_incident(lead, commander)
    response = api_for(lead).get(f"/api/v1/incidents/{incident.pk}/dossier")
    assert response.status_code == 200, response.content
    d = response.json()
    assert d["incident"]["reference"] == f"INC-{incident.pk}" and d["incident"]["facts"]["personal_data"] is True
    assert d["incident"]["team"]["incident_commander"] == "ivan@example.com"
    assert d["plan_version"] == {"number": published.number, "content_hash": published.content_hash,
                                 "published_at": d["plan_version"]["published_at"]}
    assert len(d["checklist"]) == incident.steps.count() and d["checklist"][0]["state"] == "skipped"
    assert [x["explanation"] for x in d["deviations"]] == [WHY]
    assert {n["rule"] for n in d["notifications"]} >= {"gdpr-33-authority"}
    assert d["law_enforcement"]["decision"] == ""
    assert [(u["number"], u["corrects"], u["corrected_by"]) for u in d["updates"]] == [(1, None, [2]), (2, 1, [])]
    assert d["review"]["plan_changes"] == "Night contact at the bank."
    assert d["review"]["action_items"][0]["owner"] == "dana@example.com"
    assert d["evidence"] == [{"seq": d["evidence"][0]["seq"], "name": "mail.eml", "size": len(EVIDENCE),
                              "sha256": hashlib.sha256(EVIDENCE).hexdigest()}]
    entries = d["timeline"]["entries"]
    assert [e["seq"] for e in entries] == list(range(1, incident.timeline.count() + 1))
    assert all(len(e["hash"]) == 64 for e in entries) and "evidence" not in entries[0]
    assert d["timeline"]["head_hash"] == entries[-1]["hash"] == timeline.verify(incident).head
    assert d["timeline"]["verification"] == {"ok": True, "checked": len(entries), "problem": "", "seq": None}
    # An altered entry (past the database's guard) shows in the dossier's verification.
    lift_timeline_guard()
    TimelineEntry.objects.filter(incident=incident, seq=2).update(text="Nothing to see.")
    broken = api_for(lead).get(f"/api/v1/incidents/{incident.pk}/dossier").json()["timeline"]["verification"]
    assert (broken["ok"], broken["seq"]) == (False, 2)


def test_the_dossier_pdf(published, lead, commander, api_for):
    incident = _full_incident(lead, commander)
    response = api_for(lead).get(f"/api/v1/incidents/{incident.pk}/dossier.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="inc-{incident.pk}-dossier.pdf"'
    assert response.content.startswith(b"%PDF")
    assert EVIDENCE not in response.content  # listed, never embedded


def test_who_may_have_the_dossier(published, lead, commander, make_user, api_for):
    incident = _full_incident(lead, commander)
    executive = make_user(Role.EXECUTIVE)
    secret = actions.do_declare(acting_user=lead, title="Insider", summary="Need to know.", type_key="insider",
                                detected_at=timezone.now() - timedelta(hours=1), reported_by="HR", restricted=True,
                                members=[executive])
    for role, status in [(Role.SECURITY_TEAM, 200), (Role.EXECUTIVE, 200), (Role.AUDITOR, 200),
                         (Role.BUSINESS_LEADER, 403), (Role.MANAGER, 403), (Role.EMPLOYEE, 403)]:
        client = api_for(make_user(role))
        assert client.get(f"/api/v1/incidents/{incident.pk}/dossier").status_code == status, role
        if status == 200:
            for suffix in ("dossier", "dossier.pdf"):
                assert client.get(f"/api/v1/incidents/{secret.pk}/{suffix}").status_code == 404, role
    member = api_for(executive)
    assert member.get(f"/api/v1/incidents/{secret.pk}/dossier").json()["incident"]["restricted"] is True
    assert api_for(make_user(Role.SECURITY_LEAD)).get(f"/api/v1/incidents/{secret.pk}/dossier.pdf").status_code == 404
    assert api_for(None).get(f"/api/v1/incidents/{incident.pk}/dossier").status_code == 401


def test_the_dossier_and_updates_list_take_a_bounded_number_of_queries(published, lead, commander, api_for,
                                                                        django_assert_max_num_queries):
    incident = _full_incident(lead, commander)
    client = api_for(lead)
    for _ in range(5):
        actions.do_add_timeline_entry(acting_user=lead, incident=incident, text="More.")
        updates.do_send_update(acting_user=lead, incident=incident, what_happened="w", containment="c", impact="i",
                               confidence="low", unknowns="u", next_update_at=timezone.now() + timedelta(hours=1),
                               audiences=["executives"])
    with django_assert_max_num_queries(30):
        assert client.get(f"/api/v1/incidents/{incident.pk}/dossier").status_code == 200
    with django_assert_max_num_queries(8):
        assert len(client.get(f"/api/v1/incidents/{incident.pk}/updates").json()) == 7
