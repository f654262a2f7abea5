"""The incident pages through the HTTP client, for every role and anonymous: the list (need to
know, query count), declaring, facts and the liability flag, the status buttons and their
refusals, the checklist's deviations (refused without the full explanation, nothing saved), a
notification recorded, evidence with its SHA-256, the law-enforcement decision and the
deviations across incidents."""

import hashlib
import html
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.incidents import actions, review
from bastion.incidents.models import Deviation, Incident, NotificationDue, StepState, TimelineEntry
from bastion.incidents.views import countdown
from conftest import ALL_ROLES

from .conftest import person

RUNNERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
READERS = RUNNERS | {Role.EXECUTIVE, Role.AUDITOR}
EXPLANATION = ("The affected laptop was already wiped by IT before we were called, so there was nothing left "
               "to image; we relied on the EDR telemetry instead and accept the gap in evidence.")


def _text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def declare(user, title: str = "Phished account", **fields) -> Incident:
    return actions.do_declare(acting_user=user, title=title, summary="A user entered their password on a fake page.",
                              detected_at=timezone.now() - timedelta(hours=1), reported_by="SIEM",
                              type_key="account_compromise", **fields)


def waive_review(lead, incident: Incident) -> None:
    """Closing needs the post-incident review done or waived (review.py)."""
    review.do_waive_review(acting_user=lead, incident=incident,
                           reason="A false positive: nothing happened, there is nothing to review here.")


def local_input(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def incident(published, lead) -> Incident:
    return declare(lead, facts={"personal_data": True, "jurisdictions": ["DE"]},
                   clocks={"awareness": timezone.now() - timedelta(minutes=30)})


@pytest.fixture
def user_of(make_user, lead):
    def make(role: str):
        if role == Role.SECURITY_LEAD:
            return lead
        return make_user(role, person=person(role.title().replace("_", ""), "Person",
                                             email=f"{role.replace('_', '-')}-p@example.com"))

    return make


# --- every page, every role ------------------------------------------------------------------

def pages(incident: Incident) -> dict[str, set[Role]]:
    """Each page and the roles that may open it."""
    step = incident.steps.order_by("order").first()
    row = incident.notifications.first()
    assert step is not None and row is not None
    base = f"/incidents/{incident.pk}/"
    return {
        "/incidents/": READERS, "/incidents/?status=all&page=2": READERS, "/incidents/deviations/": READERS,
        base: READERS, f"{base}?order=oldest": READERS, f"{base}notifications/": READERS,
        f"{base}timeline/verify/": READERS,
        "/incidents/declare/": RUNNERS, f"{base}steps/{step.step_key}/skip/": RUNNERS,
        f"{base}steps/{step.step_key}/differently/": RUNNERS, f"{base}steps/{step.step_key}/done/": RUNNERS,
        f"{base}notifications/{row.pk}/": RUNNERS,
    }


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_page_for_every_role(role, incident, user_of, client_for):
    client = client_for(user_of(role))
    for page, allowed in pages(incident).items():
        response = client.get(page)
        if role in allowed:
            assert response.status_code == 200, (role, page)
        else:
            assert response.status_code == 403, (role, page)
        body = response.content.decode()
        assert "style=" not in body and "<script>" not in body and " on" + "click=" not in body, page
    nav = _text(client.get("/"))
    assert ('href="/incidents/"' in nav) == (role in READERS)
    if role in READERS:
        detail = _text(client.get(f"/incidents/{incident.pk}/"))
        assert "Phished account" in detail and "Notifications due" in detail and "Verify the hash chain" in detail
        assert "Chain verified" in _text(client.get(f"/incidents/{incident.pk}/timeline/verify/"))
        assert ("Save facts" in detail) == (role in RUNNERS)
        assert ("Move to triage" in detail) == (role in RUNNERS)
        assert ("Add to the timeline" in detail) == (role in RUNNERS)


def test_anonymous_is_sent_to_sign_in(incident, client):
    for page in pages(incident):
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), page
    assert client.post(f"/incidents/{incident.pk}/status/", {"status": "triage"}).status_code == 302
    assert Incident.objects.get().status == "detection"


def test_readers_cannot_change_anything(incident, make_user, client_for):
    client = client_for(make_user(Role.AUDITOR))
    base = f"/incidents/{incident.pk}/"
    assert client.post(f"{base}status/", {"status": "triage"}).status_code == 403
    assert client.post(f"{base}timeline/", {"text": "x"}).status_code == 403
    assert client.post("/incidents/declare/", {"title": "x"}).status_code == 403
    assert Incident.objects.get().status == "detection"


def test_a_restricted_incident_is_invisible_to_a_lead_who_is_not_a_member(published, lead, make_user, client_for):
    declare(lead, "Phished account")
    secret = declare(lead, "Insider case", restricted=True)
    other_lead = client_for(make_user(Role.SECURITY_LEAD))
    listing = _text(other_lead.get("/incidents/"))
    assert "Phished account" in listing and "Insider case" not in listing
    step = secret.steps.first()
    for page in ("", "?order=oldest", "notifications/", f"steps/{step.step_key}/skip/"):
        assert other_lead.get(f"/incidents/{secret.pk}/{page}").status_code == 404, page
    assert other_lead.post(f"/incidents/{secret.pk}/status/", {"status": "triage"}).status_code == 404
    declarer = client_for(lead)
    assert "Insider case" in _text(declarer.get("/incidents/"))
    assert "Restricted: need to know" in _text(declarer.get(f"/incidents/{secret.pk}/"))


def test_the_list_filters_by_status_and_its_query_count_is_constant(published, lead, client_for):
    client = client_for(lead)
    first = declare(lead, "Incident 0")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/incidents/?status=all").status_code == 200
        return len(captured)

    few = queries()
    for n in range(1, 6):
        declare(lead, f"Incident {n}")
    assert queries() == few
    waive_review(lead, first)
    actions.do_change_status(acting_user=lead, incident=first, status="closed")
    open_list = _text(client.get("/incidents/"))
    assert "Incident 5" in open_list and "Incident 0" not in open_list
    assert "Incident 0" in _text(client.get("/incidents/?status=closed"))
    assert client.get("/incidents/?status=nonsense&page=x").status_code == 200


# --- declaring -------------------------------------------------------------------------------

def test_declaring_through_the_form(published, lead, systems, commander, client_for):
    client = client_for(lead)
    form = _text(client.get("/incidents/declare/"))
    assert 'value="alice@example.com"' in form  # the reporter defaults to the user's own record
    response = client.post("/incidents/declare/", {
        "title": "Ransomware on the ERP", "summary": "Files encrypted on two servers.",
        "detected_at": local_input(timezone.now() - timedelta(minutes=20)), "reporter": "alice@example.com",
        "type_key": "ransomware", "affected_systems": [systems["ERP"].pk], "data_involved": ["personal"],
        "incident_commander": commander.email})
    incident = Incident.objects.get()
    assert incident.incident_commander == commander
    assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.pk}/"
    assert incident.reported_by == "Alice Lead (alice@example.com)"
    assert incident.severity == "critical"  # a tier-1 system: the most severe level
    page = _text(client.get(response["Location"]))
    assert f"INC-{incident.pk} is declared under plan version 1" in page
    assert "Critical (SEV1)" in page and incident.steps.first().title in page


def test_declaring_refuses_bad_input_and_saves_nothing(published, lead, client_for):
    client = client_for(lead)
    response = client.post("/incidents/declare/", {
        "title": "", "summary": "x", "detected_at": local_input(timezone.now() + timedelta(days=2)),
        "reporter": "nobody@example.com", "type_key": "ransomware"})
    assert response.status_code == 400
    page = _text(response)
    assert "Nothing was saved" in page and "Nobody in the people directory has the address nobody@example.com" in page
    response = client.post("/incidents/declare/", {
        "title": "Later", "summary": "x", "detected_at": local_input(timezone.now() + timedelta(days=2)),
        "reporter": "alice@example.com", "type_key": "ransomware"})
    assert response.status_code == 400 and "The detection time is in the future" in _text(response)
    response = client.post("/incidents/declare/", {
        "title": "Edge", "summary": "x", "detected_at": "9999-12-31T23:59", "reporter": "alice@example.com",
        "type_key": "ransomware"})
    assert response.status_code == 400 and "Give a date between 1970 and today." in _text(response)
    assert not Incident.objects.exists()


def test_declaring_without_a_plan_in_force_says_so(lead, client_for):
    page = _text(client_for(lead).get("/incidents/declare/"))
    assert "No incident response plan is in force" in page and "Declare</button>" not in page


# --- facts, status, law enforcement ----------------------------------------------------------

def test_flagging_corporate_liability_makes_counsel_and_ceo_due(incident, lead, client_for):
    client = client_for(lead)
    response = client.post(f"/incidents/{incident.pk}/facts/", {
        "type_key": incident.type_key, "severity": incident.severity, "data_involved": [],
        "fact_personal_data": "on", "jurisdictions": "DE", "fact_corporate_liability_possible": "on",
        "clock_awareness": local_input(incident.clock_times()["awareness"])})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.facts["corporate_liability_possible"] is True and "liability_flagged" in incident.clocks
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert "Facts saved" in page and "Chief executive" in page
    assert re.search(r"due in (59|60) min", page)  # the liability rule: within the hour


def test_a_severity_override_needs_a_reason(incident, lead, client_for):
    response = client_for(lead).post(f"/incidents/{incident.pk}/facts/", {
        "type_key": incident.type_key, "severity": "low", "fact_personal_data": "on", "jurisdictions": "DE"})
    assert response.status_code == 400
    assert "differs from the suggested" in _text(response)
    assert Incident.objects.get().severity == incident.severity


def test_status_buttons_and_the_law_enforcement_refusal(published, lead, client_for):
    incident = declare(lead, facts={"ransom_demanded": True})
    client = client_for(lead)
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert "Move to triage" in page and "Move to closed" in page and "Move to containment" not in page
    assert "a decision on reporting to law enforcement is required" in page
    response = client.post(f"/incidents/{incident.pk}/status/", {"status": "closed"}, follow=True)
    assert "record the law-enforcement decision" in _text(response)
    assert Incident.objects.get().status == "detection"
    response = client.post(f"/incidents/{incident.pk}/status/", {"status": "eradication"}, follow=True)
    assert "cannot move to eradication" in _text(response)
    response = client.post(f"/incidents/{incident.pk}/law-enforcement/", {
        "decision": "reported", "rationale": "Extortion is a crime; the police asked to be told of every demand.",
        "contact": "Det. Insp. Meyer, case 2026-118", "decided_by": "alice@example.com",
        "decided_at": local_input(timezone.now())})
    assert response.status_code == 302
    waive_review(lead, incident)
    client.post(f"/incidents/{incident.pk}/status/", {"status": "closed", "note": "False alarm after all."})
    incident.refresh_from_db()
    assert incident.status == "closed" and incident.law_enforcement_decision == "reported"
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert "Reported to law enforcement" in page and "Move to" not in page


# --- checklist and deviations ----------------------------------------------------------------

def test_skipping_a_required_step_without_explanation_is_refused_and_nothing_saved(incident, lead, client_for):
    client = client_for(lead)
    step = incident.steps.filter(required=True).order_by("order").first()
    entries = TimelineEntry.objects.count()
    url = f"/incidents/{incident.pk}/steps/{step.step_key}/skip/"
    assert "This is a deviation from the plan" in _text(client.get(url))
    response = client.post(url, {"note": "", "explanation": "", "decided_by": "", "decided_at": ""})
    assert response.status_code == 400
    assert (f"Skipping the required step {step.title!r} is a deviation from the plan: give the full explanation, "
            "who decided and when.") in _text(response)
    response = client.post(url, {"explanation": "Not needed.", "decided_by": "alice@example.com",
                                 "decided_at": local_input(timezone.now())})
    assert response.status_code == 400 and "Explain fully why the plan was not appropriate" in _text(response)
    step.refresh_from_db()
    assert step.state == StepState.PENDING
    assert not Deviation.objects.exists() and TimelineEntry.objects.count() == entries

    response = client.post(url, {"explanation": EXPLANATION, "decided_by": "alice@example.com",
                                 "decided_at": local_input(timezone.now())})
    assert response.status_code == 302
    step.refresh_from_db()
    assert step.state == StepState.SKIPPED
    deviation = Deviation.objects.get()
    assert deviation.kind == "skipped" and deviation.decided_by.email == "alice@example.com"
    listing = _text(client.get("/incidents/deviations/"))
    assert "Skipped" in listing and "relied on the EDR telemetry" in listing and step.title in listing


def test_done_out_of_order_asks_for_the_deviation(incident, lead, client_for):
    client = client_for(lead)
    later = incident.steps.filter(required=True).order_by("-order").first()
    url = f"/incidents/{incident.pk}/steps/{later.step_key}/done/"
    response = client.post(url, {})
    assert response.status_code == 400 and "is a deviation from the plan" in _text(response)
    assert Incident.objects.get().steps.get(pk=later.pk).state == StepState.PENDING
    client.post(url, {"explanation": EXPLANATION, "decided_by": "alice@example.com",
                      "decided_at": local_input(timezone.now())})
    assert Deviation.objects.get().kind == "out_of_order"
    first = incident.steps.order_by("order").first()
    assert client.post(f"/incidents/{incident.pk}/steps/{first.step_key}/done/", {}).status_code == 302
    assert incident.steps.get(pk=first.pk).state == StepState.DONE


# --- notifications, timeline -----------------------------------------------------------------

def test_recording_a_notification_as_done(incident, lead, client_for):
    client = client_for(lead)
    row = incident.notifications.get(rule_key="gdpr-33-authority", recipient_key__startswith="external:")
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert "Lead data protection supervisory authority" in page and re.search(r"due in 2 d 23 h", page)
    region = client.get(f"/incidents/{incident.pk}/notifications/", headers={"HX-Request": "true"})
    assert "<html" not in region.content.decode() and 'hx-trigger="every 30s"' in region.content.decode()
    url = f"/incidents/{incident.pk}/notifications/{row.pk}/"
    assert client.post(url, {"outcome": "done", "notified_by": "alice@example.com"}).status_code == 400
    assert NotificationDue.objects.get(pk=row.pk).status == "due"
    response = client.post(url, {
        "outcome": "done", "notified_by": "alice@example.com", "notified_whom": "BfDI, online form, ref 4711",
        "notified_at": local_input(timezone.now()), "channel": "portal",
        "what_was_said": "Phase 1 notification: about 1,200 customers' email addresses exposed."})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == "done" and row.notified_whom == "BfDI, online form, ref 4711"
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert "Alice Lead told BfDI, online form, ref 4711" in page
    assert client.post(url, {"outcome": "not_required", "reason": "x" * 50}).status_code == 400


def test_a_notification_not_required_needs_a_reason(incident, lead, client_for):
    client = client_for(lead)
    row = incident.notifications.first()
    url = f"/incidents/{incident.pk}/notifications/{row.pk}/"
    assert "Explain fully why it is not required" in _text(client.post(url, {"outcome": "not_required",
                                                                             "reason": "nah"}))
    client.post(url, {"outcome": "not_required", "reason": "The authority confirmed by phone that it needs no "
                                                           "notice for this kind of exposure."})
    assert NotificationDue.objects.get(pk=row.pk).status == "not_required"


def test_uploading_evidence_shows_its_sha256(incident, lead, client_for):
    client = client_for(lead)
    content = b"From: attacker@example.net\nSubject: Your mailbox is full\n"
    response = client.post(f"/incidents/{incident.pk}/timeline/", {
        "text": "The phishing email as received.", "evidence": SimpleUploadedFile("phish.eml", content)})
    assert response.status_code == 302
    digest = hashlib.sha256(content).hexdigest()
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert f"SHA-256 {digest}" in page and "phish.eml" in page
    region = _text(client.get(f"/incidents/{incident.pk}/timeline/verify/", headers={"HX-Request": "true"}))
    assert f"Chain verified</span> {incident.timeline.count()} entries" in region and "<html" not in region
    oldest = _text(client.get(f"/incidents/{incident.pk}/?order=oldest"))
    assert oldest.index("Declared under plan version") < oldest.index("The phishing email as received")
    response = client.post(f"/incidents/{incident.pk}/timeline/", {
        "text": "Tomorrow", "event_at": local_input(timezone.now() + timedelta(days=1))})
    assert response.status_code == 400 and "The event time is in the future" in _text(response)


def test_countdown_words():
    now = timezone.now()
    assert countdown(now + timedelta(hours=3, minutes=12, seconds=30), now) == "due in 3 h 12 min"
    assert countdown(now - timedelta(days=2, hours=4, minutes=5), now) == "overdue by 2 d 4 h"
    assert countdown(now + timedelta(seconds=20), now) == "due in 0 min"
    assert countdown(None, now) == "its clock has not started"
