"""The plan's HTML pages, through the HTTP client, for every role: what each one sees, editing
the draft part by part (a playbook step, a rule, invalid input that saves nothing), review and
decisions (a stale hash refused with its message), acknowledging signed in and by the emailed
link, and the query counts of the list pages."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.response import actions, links
from bastion.response.models import Acknowledgement, Approval, Plan, PlanVersion, VersionStatus

from .conftest import approve_all, draft, person

EDITORS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
ALL_VERSION_READERS = EDITORS | {Role.EXECUTIVE, Role.AUDITOR}


@pytest.fixture
def user_of(make_user, lead):
    """user_of(role): a user with that role (the lead fixture for the security lead)."""

    def make(role: str):
        if role == Role.SECURITY_LEAD:
            return lead
        return make_user(role, person=person(role.title().replace("_", ""), "Person",
                                             email=f"{role.replace('_', '-')}-p@example.com"))

    return make


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _step_title(plan: Plan, type_index: int = 0, step_index: int = 0) -> str:
    version = plan.working_version() or plan.published()
    assert version is not None
    return version.content["incident_types"][type_index]["playbook"][step_index]["title"]


# --- access: every page for every role -------------------------------------------------------

PAGES = ["/plan/", "/plan/versions/", "/plan/versions/1/", "/plan/versions/2/", "/plan/diff/?from=1&to=2",
         "/plan/edit/", "/plan/edit/types/", "/plan/edit/rules/", "/plan/settings/"]


@pytest.fixture
def two_versions(published, plan, lead):
    """Version 1 in force, version 2 a draft with a changed step."""
    actions.do_save_draft(acting_user=lead, plan=plan,
                          content={**published.content, "title": "Incident response plan (2027)"})
    return plan


def expected_status(role: str, page: str) -> int:
    if page.startswith(("/plan/edit/",)):
        return 200 if role in EDITORS else 403
    if page == "/plan/settings/":
        return 200 if role == Role.SECURITY_LEAD else 403
    if page in ("/plan/versions/2/", "/plan/diff/?from=1&to=2"):
        return 200 if role in ALL_VERSION_READERS else 404
    return 200


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_page_for_every_role(role, user_of, two_versions, client_for):
    client = client_for(user_of(role))
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == expected_status(role, page), (role, page)
        html = response.content.decode()
        assert "style=" not in html and "<script>" not in html and " on" + "click=" not in html, page
    home = _text(client.get("/plan/"))
    assert "Notification matrix" in home and "Version 1, in force since" in home
    assert ("Working on the plan" in home) == (role in ALL_VERSION_READERS)
    assert ("Edit draft" in home) == (role in EDITORS)
    assert ">Response plan</a>" in home  # the menu entry, for every role


def test_anonymous_visitors_are_sent_to_sign_in(two_versions, client_for):
    client = client_for(None)
    for page in [*PAGES, "/plan/edit/types/malware/steps/isolate/"]:
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), page
    assert client.post("/plan/submit/").status_code == 302
    assert client.post("/plan/acknowledge/").status_code == 302


def test_a_reader_sees_only_the_version_in_force(user_of, two_versions, client_for):
    client = client_for(user_of(Role.EMPLOYEE))
    versions = _text(client.get("/plan/versions/"))
    assert "Version 1" in versions and "Version 2" not in versions
    assert "Who has not acknowledged" not in _text(client.get("/plan/"))


def test_no_plan_yet(lead, user_of, client_for):
    employee = client_for(user_of(Role.EMPLOYEE))
    assert "no incident response plan in Bastion yet" in _text(employee.get("/plan/"))
    assert employee.post("/plan/install/").status_code == 403
    assert client_for(user_of(Role.SECURITY_TEAM)).post("/plan/install/").status_code == 403
    assert not Plan.objects.exists()
    client = client_for(lead)
    assert "Install the starter plan" in _text(client.get("/plan/"))
    response = client.post("/plan/install/", follow=True)
    assert "The starter plan is installed as draft version 1" in _text(response)
    assert Plan.objects.get().versions.get().status == VersionStatus.DRAFT


# --- editing ---------------------------------------------------------------------------------

def test_the_lead_edits_a_playbook_step_through_the_form(plan, lead, client_for):
    client = client_for(lead)
    kind = draft(plan).content["incident_types"][0]
    step = kind["playbook"][0]
    page = client.get(f"/plan/edit/types/{kind['key']}/steps/{step['key']}/")
    assert page.status_code == 200 and step["title"] in _text(page)
    response = client.post(f"/plan/edit/types/{kind['key']}/steps/{step['key']}/", {
        "title": "Isolate affected machines from the network", "description": step["description"],
        "owner_role": "incident_commander", "expected_minutes": "45", "required": "on"}, follow=True)
    assert "Step “Isolate affected machines from the network” saved. Draft version 1 saved." in _text(response)
    saved = draft(plan).content["incident_types"][0]["playbook"][0]
    assert (saved["key"], saved["title"], saved["expected_minutes"], saved["required"]) == (
        step["key"], "Isolate affected machines from the network", 45, True)


def test_editing_the_plan_in_force_starts_a_new_draft(published, plan, lead, client_for):
    client = client_for(lead)
    kind = published.content["incident_types"][0]
    step = kind["playbook"][1]
    client.post(f"/plan/edit/types/{kind['key']}/steps/{step['key']}/", {
        "title": step["title"], "owner_role": step["owner_role"], "expected_minutes": "",
        "description": "Changed."})
    new = plan.working_version()
    assert new is not None and new.number == 2 and new.status == VersionStatus.DRAFT
    changed = new.content["incident_types"][0]["playbook"][1]
    assert (changed["description"], changed["expected_minutes"], changed["required"]) == ("Changed.", None, False)
    published.refresh_from_db()
    assert published.status == VersionStatus.PUBLISHED and published.content == plan.published().content


def test_adding_moving_and_removing_steps(plan, lead, client_for):
    client = client_for(lead)
    kind = draft(plan).content["incident_types"][0]
    keys = [s["key"] for s in kind["playbook"]]
    base = f"/plan/edit/types/{kind['key']}/steps/"
    response = client.post(base + "new/", {"key": "call-insurer", "title": "Call the cyber insurer",
                                           "owner_role": "legal", "required": "on"})
    assert response.status_code == 302
    assert [s["key"] for s in draft(plan).content["incident_types"][0]["playbook"]] == [*keys, "call-insurer"]
    client.post(base + "call-insurer/move/", {"direction": "up"})
    assert [s["key"] for s in draft(plan).content["incident_types"][0]["playbook"]][-2:] == ["call-insurer", keys[-1]]
    client.post(base + "call-insurer/remove/")
    assert [s["key"] for s in draft(plan).content["incident_types"][0]["playbook"]] == keys


def test_invalid_input_shows_the_error_and_saves_nothing(plan, lead, client_for):
    client = client_for(lead)
    before = draft(plan).content_hash
    # A form error: no title.
    kind = draft(plan).content["incident_types"][0]
    response = client.post(f"/plan/edit/types/{kind['key']}/steps/{kind['playbook'][0]['key']}/",
                           {"title": "", "owner_role": "incident_commander"})
    assert response.status_code == 400 and "Nothing was saved" in _text(response)
    # A content error: removing a role still named by playbook steps and rules.
    response = client.post("/plan/edit/roles/incident_commander/remove/", follow=True)
    assert "Nothing was saved: " in _text(response) and "is not one of the plan&#x27;s roles" in _text(response)
    # A rule whose business-day deadline has no calendar: the validator's message beside the form.
    rule = draft(plan).content["rules"][0]
    response = client.post(f"/plan/edit/rules/{rule['key']}/", {
        "name": rule["name"], "description": rule["description"], "enabled": "on", "match": "all",
        "recipients": "role: legal", "clock": "awareness", "amount": "4", "unit": "business_days",
        "channel": "email", "message": "Incident {incident}", "condition_rows": "1",
        "fact_0": "personal_data", "op_0": "is", "value_0": "yes"})
    assert response.status_code == 400
    assert "business days need a calendar" in _text(response)
    # An unknown person among a role's holders.
    response = client.post("/plan/edit/roles/legal/", {"name": "Legal", "holders": "nobody@example.com"})
    assert response.status_code == 400 and "Not in the people directory: nobody@example.com." in _text(response)
    assert draft(plan).content_hash == before and plan.versions.count() == 1


def test_editing_a_rule_and_a_role_holder(plan, lead, ceo, counsel, client_for):
    client = client_for(lead)
    rule = draft(plan).content["rules"][0]
    response = client.post(f"/plan/edit/rules/{rule['key']}/", {
        "name": "Escalate to counsel", "description": "Source: our policy.", "enabled": "on", "match": "any",
        "recipients": "role: legal\nperson: carla@example.com\nexternal: Police | 101",
        "clock": "awareness", "amount": "2", "unit": "hours", "no_later_than_clock": "detection",
        "no_later_than_amount": "6", "no_later_than_unit": "hours", "channel": "phone",
        "message": "Incident {incident}", "condition_rows": "3", "fact_0": "severity", "op_0": "at_least",
        "value_0": "high", "fact_1": "jurisdictions", "op_1": "any_of", "value_1": "US, EU"})
    assert response.status_code == 302, _text(response)
    saved = draft(plan).content["rules"][0]
    assert saved["when"] == {"all": [], "any": [{"fact": "severity", "op": "at_least", "value": "high"},
                                                {"fact": "jurisdictions", "op": "any_of", "value": ["US", "EU"]}]}
    assert saved["recipients"] == [{"kind": "role", "role": "legal"}, {"kind": "person", "person": ceo.person_id},
                                   {"kind": "external", "name": "Police", "contact": "101"}]
    assert saved["deadline"] == {"clock": "awareness", "amount": 2, "unit": "hours",
                                 "no_later_than": {"clock": "detection", "amount": 6, "unit": "hours"}}
    response = client.post("/plan/edit/roles/legal/", {
        "name": "Legal counsel", "holders": "gina@example.com, carla@example.com"})
    assert response.status_code == 302
    role = next(r for r in draft(plan).content["roles"] if r["key"] == "legal")
    assert role["holders"] == [{"person": counsel.person_id, "deputy": ceo.person_id}]
    # The plan page shows them in words.
    text = _text(client.get("/plan/versions/1/"))
    assert "Gina Counsel (deputy: Carla Chief)" in text and "severity at least high" in text


def test_other_parts_and_settings(plan, lead, ceo, client_for):
    client = client_for(lead)
    assert client.post("/plan/edit/sections/purpose/", {"title": "Purpose", "body": "**Why** we respond."}
                       ).status_code == 302
    assert client.post("/plan/edit/severities/new/", {"key": "trivial", "name": "Trivial", "definition": "Nothing.",
                                                      "criteria": "no impact\nno data"}).status_code == 302
    assert client.post("/plan/edit/calendars/new/", {"key": "DE", "name": "Germany", "time_zone": "Europe/Berlin",
                                                     "holidays": "2026-12-25\n2026-12-26"}).status_code == 302
    content = draft(plan).content
    assert content["severities"][-1] == {"key": "trivial", "name": "Trivial", "definition": "Nothing.",
                                         "criteria": ["no impact", "no data"]}
    assert content["calendars"][-1]["holidays"] == ["2026-12-25", "2026-12-26"]
    assert "<strong>Why</strong> we respond." in _text(client.get("/plan/versions/1/"))
    response = client.post("/plan/settings/", {"name": "Our plan", "owner": lead.pk, "approvers": [ceo.pk],
                                               "review_interval_months": "6", "reader_roles": ["employee"]})
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.name, list(plan.approvers.all()), plan.review_interval_months, plan.reader_roles) == (
        "Our plan", [ceo], 6, ["employee"])


# --- review and decisions --------------------------------------------------------------------

def test_submit_approve_and_publish_through_the_pages(plan, lead, ceo, counsel, client_for):
    lead_client = client_for(lead)
    response = lead_client.post("/plan/submit/", follow=True)
    assert "Version 1 is submitted" in _text(response)
    version = draft(plan)
    for approver in (ceo, counsel):
        client = client_for(approver)
        page = _text(client.get("/plan/versions/1/"))
        assert "Your decision" in page and version.content_hash[:12] in page
        response = client.post("/plan/versions/1/decide/", {"version": "1", "content_hash": version.content_hash,
                                                            "decision": "approved"}, follow=True)
    assert "version 1 is published and in force" in _text(response)
    assert plan.published().number == 1
    assert "Carla Chief" in _text(client_for(lead).get("/plan/"))


def test_approving_with_a_stale_hash_is_refused_with_the_message(plan, lead, ceo, client_for):
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    client = client_for(ceo)
    response = client.post("/plan/versions/1/decide/", {"version": "1", "content_hash": "0" * 64,
                                                        "decision": "approved"}, follow=True)
    assert "The content of version 1 is not the one you read" in _text(response)
    assert not Approval.objects.exists()


def test_only_named_approvers_decide(plan, lead, make_user, client_for):
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = draft(plan)
    other_exec = make_user(Role.EXECUTIVE)
    client = client_for(other_exec)
    assert "Your decision" not in _text(client.get("/plan/versions/1/"))
    assert client.post("/plan/versions/1/decide/", {"version": "1", "content_hash": version.content_hash,
                                                    "decision": "approved"}).status_code == 403
    assert client_for(lead).post("/plan/versions/1/decide/", {"version": "1", "content_hash": version.content_hash,
                                                              "decision": "approved"}).status_code == 403


def test_requesting_changes_needs_a_comment(plan, lead, ceo, client_for):
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = draft(plan)
    client = client_for(ceo)
    data = {"version": "1", "content_hash": version.content_hash, "decision": "changes_requested"}
    assert "Say which changes you are asking for." in _text(client.post("/plan/versions/1/decide/", data, follow=True))
    response = client.post("/plan/versions/1/decide/", {**data, "comment": "Name the scribe."}, follow=True)
    assert "Changes requested" in _text(response)
    assert draft(plan).status == VersionStatus.DRAFT


def test_the_diff_page(two_versions, lead, client_for):
    text = _text(client_for(lead).get("/plan/diff/?from=1&to=2"))
    assert "Changes from version 1 to version 2" in text
    assert "Title: <del>Incident response plan</del> → <ins>Incident response plan (2027)</ins>" in text
    assert client_for(lead).get("/plan/diff/?from=1&to=x").status_code == 404
    assert client_for(lead).get("/plan/diff/?from=1&to=9").status_code == 404
    for bad in ("/plan/diff/?from=1&to=99999999999999999999", "/plan/diff/?to=1",
                "/plan/versions/99999999999999999999/", "/plan/edit/nothing/", "/plan/edit/rules/no-such-rule/"):
        assert client_for(lead).get(bad).status_code == 404, bad


def test_the_diff_shows_section_lines_and_step_fields(published, plan, lead, client_for):
    content = {**published.content}
    content["sections"] = [{**s, "body": s["body"] + "\n\nA new line."} if s["key"] == "purpose" else s
                           for s in content["sections"]]
    kinds = [dict(k) for k in content["incident_types"]]
    kinds[0]["playbook"] = [{**kinds[0]["playbook"][0], "title": "Pull the plug"}, *kinds[0]["playbook"][1:]]
    content["incident_types"] = kinds
    actions.do_save_draft(acting_user=lead, plan=plan, content=content)
    text = _text(client_for(lead).get("/plan/diff/?from=1&to=2"))
    assert '<ins><span class="sr-only">added: </span>+ A new line.</ins>' in text
    assert "Pull the plug" in text and "<dt>title</dt>" in text


# --- acknowledging ---------------------------------------------------------------------------

def test_a_reader_acknowledges_signed_in(published, user_of, client_for):
    employee = user_of(Role.EMPLOYEE)
    client = client_for(employee)
    assert "I have read and will follow this plan" in _text(client.get("/plan/"))
    response = client.post("/plan/acknowledge/", follow=True)
    assert "you have acknowledged version 1 of the plan" in _text(response)
    assert "I have read and will follow this plan" not in _text(response)
    assert Acknowledgement.objects.filter(version=published, person=employee.person).count() == 1


def test_acknowledging_by_the_emailed_link(published, client_for):
    reader = person("Rita", "Reader")
    client = client_for(None)
    path = links.acknowledge_link_path(reader.pk)
    page = _text(client.get(path))
    assert "For Rita Reader" in page and "I have read and will follow this plan" in page
    response = client.post(path, follow=True)
    assert "Thank you, Rita: you have acknowledged version 1" in _text(response)
    assert Acknowledgement.objects.get().person == reader
    client.post(path)
    assert Acknowledgement.objects.count() == 1


def test_a_bad_or_expired_link_says_so(published, client_for):
    reader = person("Rita", "Reader")
    client = client_for(None)
    path = links.acknowledge_link_path(reader.pk)
    tampered = client.get(path[:-6] + "xxxxx/")
    assert tampered.status_code == 400 and "Ask the security team for a new link" in _text(tampered)
    old = links.acknowledge_link_path(reader.pk, now=timezone.now() - timedelta(days=31))
    expired = client.get(old)
    assert expired.status_code == 410
    assert client.post(old).status_code == 410
    assert not Acknowledgement.objects.exists()


def test_a_link_before_any_version_is_in_force(plan, client_for):
    reader = person("Rita", "Reader")
    response = client_for(None).post(links.acknowledge_link_path(reader.pk))
    assert response.status_code == 410 and "No version of the plan is in force" in _text(response)


def test_the_lead_sees_who_has_not_acknowledged(published, lead, make_user, client_for):
    readers = [make_user(Role.EMPLOYEE, person=person(f"Reader{i}", "Test")) for i in range(3)]
    actions.do_acknowledge(version=published, person=readers[0].person)
    text = _text(client_for(lead).get("/plan/"))
    assert "1 acknowledged · 2 required readers have not." in text
    assert "Reader1 Test" in text and "Reader0 Test" not in text
    # htmx asks for the list alone.
    region = client_for(lead).get("/plan/?page=1", headers={"HX-Request": "true"})
    assert _text(region).lstrip().startswith('<section id="readers"')


# --- query counts ----------------------------------------------------------------------------

def _queries(client, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_list_pages_cost_the_same_however_many_rows(published, plan, lead, ceo, counsel, make_user, client_for):
    client = client_for(lead)
    make_user(Role.EMPLOYEE, person=person("First", "Reader"))
    few = {page: _queries(client, page) for page in ("/plan/", "/plan/versions/")}
    for n in range(3):
        make_user(Role.EMPLOYEE, person=person(f"More{n}", "Reader"))
        content = {**draft_or_published(plan).content, "title": f"Plan {n}"}
        actions.do_save_draft(acting_user=lead, plan=plan, content=content)
        actions.do_submit_for_review(acting_user=lead, plan=plan)
        approve_all(plan, ceo, counsel)
    assert PlanVersion.objects.count() == 4
    many = {page: _queries(client, page) for page in ("/plan/", "/plan/versions/")}
    assert many == few
    assert few["/plan/versions/"] <= 8 and few["/plan/"] <= 14


def draft_or_published(plan: Plan) -> PlanVersion:
    version = plan.working_version() or plan.published()
    assert version is not None
    return version
