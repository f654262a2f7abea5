"""The plan over JSON, for every role: who sees which versions, who edits, who approves, who
acknowledges; bad input answers 422 and a refused step 409, each with a clear message."""

import copy

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bastion.accounts.models import Role
from bastion.response import actions
from bastion.response.models import Acknowledgement, Approval, PlanVersion, VersionStatus
from conftest import ALL_ROLES

from .conftest import approve_all, draft, person

JSON = "application/json"
ALL_VERSION_READERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.AUDITOR}
EDITORS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}


@pytest.fixture
def two_versions(published, plan, lead):
    """Version 1 in force, version 2 a draft with a changed playbook step."""
    content = copy.deepcopy(published.content)
    content["incident_types"][0]["playbook"][0]["title"] = "Isolate affected machines from the network"
    actions.do_save_draft(acting_user=lead, plan=plan, content=content)
    return plan


def user_in(role, make_user):
    return make_user(role, person=person(f"P{role}", "Role"))


@pytest.mark.parametrize("role", ALL_ROLES)
def test_who_sees_which_versions(role, make_user, api_for, two_versions):
    client = api_for(user_in(role, make_user))
    plan = client.get("/api/v1/plans").json()
    assert plan["name"] == "Incident response plan"
    assert plan["in_force"]["number"] == 1
    numbers = [v["number"] for v in plan["versions"]]
    in_force = client.get(f"/api/v1/plans/{plan['id']}/versions/1")
    assert in_force.status_code == 200
    assert in_force.json()["content"]["rules"][0]["key"] == "internal-liability"
    draft_version = client.get(f"/api/v1/plans/{plan['id']}/versions/2")
    listed = [v["number"] for v in client.get(f"/api/v1/plans/{plan['id']}/versions").json()]
    diff = client.get(f"/api/v1/plans/{plan['id']}/diff", {"from": 1, "to": 2})
    if role in ALL_VERSION_READERS:
        assert numbers == listed == [2, 1]
        assert draft_version.status_code == 200 and draft_version.json()["status"] == "draft"
        assert [a["approver"]["email"] for a in in_force.json()["approvals"]] == ["carla@example.com", "gina@example.com"]
        [kind] = [p for p in diff.json()["parts"] if p["part"] == "incident_types"][0]["items"]
        assert kind["steps"][0]["fields"] == [{"field": "title", "before": "Isolate affected machines",
                                               "after": "Isolate affected machines from the network"}]
    else:
        assert numbers == listed == [1]
        assert draft_version.status_code == 404
        assert in_force.json()["approvals"] is None
        assert diff.status_code == 404


def test_anonymous_sees_nothing(api_for, two_versions):
    client = api_for(None)
    for path in ("/api/v1/plans", f"/api/v1/plans/{two_versions.pk}/versions/1", f"/api/v1/plans/{two_versions.pk}/versions"):
        assert client.get(path).status_code == 401
    assert client.post("/api/v1/plans/evaluate", {}, content_type=JSON).status_code == 401


def test_no_plan_yet_is_not_found(api_for, lead):
    assert api_for(lead).get("/api/v1/plans").status_code == 404


@pytest.mark.parametrize("role", ALL_ROLES)
def test_only_the_security_team_edits(role, make_user, api_for, plan):
    content = copy.deepcopy(draft(plan).content)
    content["title"] = "Our incident response plan"
    response = api_for(make_user(role)).put(f"/api/v1/plans/{plan.pk}/draft", {"content": content},
                                            content_type=JSON)
    if role in EDITORS:
        assert response.status_code == 200
        assert response.json()["content"]["title"] == "Our incident response plan"
    else:
        assert response.status_code == 403
        assert draft(plan).content["title"] == "Incident response plan"


def test_invalid_content_is_refused_with_each_problem(api_for, lead, plan):
    content = copy.deepcopy(draft(plan).content)
    content["rules"][0]["when"]["all"][0]["fact"] = "moon_phase"
    del content["rules"][1]["deadline"]["clock"]
    content["roles"][0]["holders"] = [{"person": 999_999, "deputy": None}]
    response = api_for(lead).put(f"/api/v1/plans/{plan.pk}/draft", {"content": content}, content_type=JSON)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {("body", "payload", "content")}
    messages = [d["msg"] for d in detail]
    assert messages[0] == "Role incident_commander, holder 1: no person with id 999999 in the directory."
    assert messages[1].startswith("Rule internal-liability, condition all 1: unknown fact 'moon_phase'")
    assert messages[2].startswith("Rule internal-executive: the deadline has no clock start")
    assert draft(plan).content_hash == PlanVersion.objects.get(pk=draft(plan).pk).content_hash
    assert draft(plan).content["rules"][0]["when"]["all"][0]["fact"] == "corporate_liability_possible"


@pytest.mark.parametrize("role", [*ALL_ROLES, "named_approver"])
def test_only_named_approvers_approve(role, make_user, api_for, plan, lead, ceo):
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    user = ceo if role == "named_approver" else make_user(role)
    version = draft(plan)
    response = api_for(user).post(f"/api/v1/plans/{plan.pk}/versions/1/decision",
                                  {"decision": "approved", "content_hash": version.content_hash}, content_type=JSON)
    if role == "named_approver":
        assert response.status_code == 201
        assert response.json()["content_hash"] == version.content_hash
        assert response.json()["approver"]["email"] == "carla@example.com"
    else:
        assert response.status_code == 403
        assert not Approval.objects.exists()


def test_approving_through_the_api(api_for, plan, lead, ceo, counsel):
    submitted = api_for(lead).post(f"/api/v1/plans/{plan.pk}/versions/1/submit")
    assert submitted.status_code == 200 and submitted.json()["status"] == "in_review"
    version = draft(plan)
    client = api_for(ceo)
    url = f"/api/v1/plans/{plan.pk}/versions/1/decision"
    wrong_hash = client.post(url, {"decision": "approved", "content_hash": "abc"}, content_type=JSON)
    assert wrong_hash.status_code == 409
    assert wrong_hash.json()["detail"].startswith("The content of version 1 is not the one you read")
    wrong_version = client.post(f"/api/v1/plans/{plan.pk}/versions/2/decision",
                                {"decision": "approved", "content_hash": version.content_hash}, content_type=JSON)
    assert wrong_version.status_code == 404  # there is no version 2
    bad = client.post(url, {"decision": "maybe", "content_hash": version.content_hash}, content_type=JSON)
    assert bad.status_code == 422 and bad.json()["detail"][0]["msg"] == "The decision is approved or changes_requested."
    no_comment = client.post(url, {"decision": "changes_requested", "content_hash": version.content_hash},
                             content_type=JSON)
    assert no_comment.status_code == 422
    assert no_comment.json()["detail"] == [{"type": "value_error", "loc": ["body", "payload", "comment"],
                                            "msg": "Say which changes you are asking for."}]
    assert client.post(url, {"decision": "approved", "content_hash": version.content_hash},
                       content_type=JSON).status_code == 201
    assert api_for(counsel).post(url, {"decision": "approved", "content_hash": version.content_hash},
                                 content_type=JSON).status_code == 201
    assert api_for(lead).get("/api/v1/plans").json()["in_force"]["number"] == 1
    again = client.post(url, {"decision": "approved", "content_hash": version.content_hash}, content_type=JSON)
    assert again.status_code == 409
    assert again.json()["detail"] == "Version 1 is not under review: no version is in review now."


@pytest.mark.parametrize("role", ALL_ROLES)
def test_everyone_acknowledges_the_version_in_force_for_themselves(role, make_user, api_for, two_versions):
    user = user_in(role, make_user)
    client = api_for(user)
    response = client.post(f"/api/v1/plans/{two_versions.pk}/versions/1/acknowledge")
    assert response.status_code == 201
    assert response.json()["person"] == user.person.email
    assert Acknowledgement.objects.filter(person=user.person, version__number=1).exists()
    unpublished = client.post(f"/api/v1/plans/{two_versions.pk}/versions/2/acknowledge")
    if role in ALL_VERSION_READERS:
        assert unpublished.status_code == 409
        assert unpublished.json()["detail"] == "Version 2 is not published yet; only the plan in force is acknowledged."
    else:
        assert unpublished.status_code == 404
    assert Acknowledgement.objects.count() == 1


def test_acknowledging_without_a_directory_record(make_user, api_for, published):
    response = api_for(make_user(Role.EMPLOYEE)).post(f"/api/v1/plans/{published.plan_id}/versions/1/acknowledge")
    assert response.status_code == 409
    assert "not linked to a person in the directory" in response.json()["detail"]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_who_sees_who_has_acknowledged(role, make_user, api_for, published):
    readers = [make_user(Role.EMPLOYEE, person=person(name, "Reader")) for name in ("Ann", "Ben", "Cy")]
    actions.do_acknowledge(version=published, person=readers[1].person)
    response = api_for(make_user(role)).get(f"/api/v1/plans/{published.plan_id}/versions/1/acknowledgements")
    if role not in ALL_VERSION_READERS:
        assert response.status_code == 403
        return
    data = response.json()
    # Required readers: employees and managers with a directory record (the plan's settings).
    assert (data["required"], data["acknowledged"]) == (3, 1)
    assert [(i["name"], i["acknowledged_at"] is not None) for i in data["items"]] == [
        ("Ann Reader", False), ("Ben Reader", True), ("Cy Reader", False)]
    pending = api_for(make_user(role)).get(f"/api/v1/plans/{published.plan_id}/versions/1/acknowledgements",
                                           {"pending": "true"}).json()
    assert [i["name"] for i in pending["items"]] == ["Ann Reader", "Cy Reader"] and pending["count"] == 2


def test_acknowledgement_list_has_a_fixed_number_of_queries(make_user, api_for, published, lead):
    client = api_for(lead)
    url = f"/api/v1/plans/{published.plan_id}/versions/1/acknowledgements"
    client.get(url)
    counts = []
    for n in (2, 20):
        for i in range(n):
            make_user(Role.EMPLOYEE, person=person(f"Q{n}x{i}", "Reader"))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_everyone_evaluates_the_plan_in_force(role, make_user, api_for, two_versions):
    client = api_for(make_user(role))
    response = client.post("/api/v1/plans/evaluate", {
        "facts": {"personal_data": True, "jurisdictions": ["EU"]},
        "clocks": {"awareness": "2026-11-06T10:00:00+00:00"}}, content_type=JSON)
    assert response.status_code == 200
    data = response.json()
    assert data["version"] == 1
    assert [(i["rule"], i["recipient_label"], i["deadline"]) for i in data["items"]] == [
        ("gdpr-33-authority", "Lead data protection supervisory authority", "2026-11-09T10:00:00Z"),
        ("gdpr-33-authority", "Legal (General Counsel)", "2026-11-09T10:00:00Z")]
    draft_version = client.post("/api/v1/plans/evaluate", {"version": 2}, content_type=JSON)
    assert draft_version.status_code == (200 if role in ALL_VERSION_READERS else 404)


def test_evaluate_refuses_unknown_facts_and_clocks(api_for, lead, published):
    response = api_for(lead).post("/api/v1/plans/evaluate", {
        "facts": {"moon_phase": "full", "severity": "extreme"},
        "clocks": {"teatime": "2026-11-06T16:00:00+00:00", "awareness": "2026-11-06T10:00:00"}}, content_type=JSON)
    assert response.status_code == 422
    messages = [d["msg"] for d in response.json()["detail"]]
    assert messages[0].startswith("Unknown fact 'moon_phase' (the facts are: severity,")
    assert messages[1] == "'extreme' is not one of the plan's severity levels (critical, high, medium, low)."
    assert messages[2].startswith("Unknown clock 'teatime'")
    assert messages[3] == "The clock 'awareness' needs a date and time with its time zone."
    garbled = api_for(lead).post("/api/v1/plans/evaluate", {"clocks": {"awareness": "soon"}}, content_type=JSON)
    assert garbled.status_code == 422


def test_evaluate_before_any_version_is_in_force(api_for, lead, plan):
    response = api_for(lead).post("/api/v1/plans/evaluate", {}, content_type=JSON)
    assert response.status_code == 409 and response.json()["detail"] == "No version of the plan is in force yet."


def test_submitting_through_the_api_needs_the_draft(api_for, lead, ceo, counsel, plan):
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    approve_all(plan, ceo, counsel)
    response = api_for(lead).post(f"/api/v1/plans/{plan.pk}/versions/1/submit")
    assert response.status_code == 409
    assert PlanVersion.objects.get(number=1).status == VersionStatus.PUBLISHED


def test_listed_in_the_openapi_document(api_for, lead):
    paths = api_for(lead).get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/plans"]) == {"get"}
    assert set(paths["/api/v1/plans/evaluate"]) == {"post"}
    assert set(paths["/api/v1/plans/{plan_id}/versions/{number}"]) == {"get"}
    assert set(paths["/api/v1/plans/{plan_id}/versions/{number}/decision"]) == {"post"}
    assert set(paths["/api/v1/plans/{plan_id}/versions/{number}/acknowledge"]) == {"post"}
    assert set(paths["/api/v1/plans/{plan_id}/draft"]) == {"put"}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_only_the_lead_changes_the_settings(role, make_user, api_for, plan, ceo):
    response = api_for(make_user(role)).put(f"/api/v1/plans/{plan.pk}/settings",
                                            {"approvers": ["carla@example.com"], "review_interval_months": 6},
                                            content_type=JSON)
    if role == Role.SECURITY_LEAD:
        assert response.status_code == 200
        assert [a["email"] for a in response.json()["approvers"]] == ["carla@example.com"]
        assert response.json()["review_interval_months"] == 6
    else:
        assert response.status_code == 403
        assert sorted(plan.approvers.values_list("email", flat=True)) == ["carla@example.com", "gina@example.com"]


def test_bad_settings_are_refused_clearly(api_for, lead, make_user, plan):
    make_user(Role.EMPLOYEE, email="eve@example.com")
    client = api_for(lead)
    url = f"/api/v1/plans/{plan.pk}/settings"
    response = client.put(url, {"owner": "nobody@example.com", "approvers": ["ghost@example.com"],
                                "reader_groups": ["Nonexistent"]}, content_type=JSON)
    assert response.status_code == 422
    assert [d["msg"] for d in response.json()["detail"]] == [
        "No user with the email nobody@example.com.", "No user with the email ghost@example.com.",
        "No group named Nonexistent."]
    response = client.put(url, {"approvers": ["eve@example.com"]}, content_type=JSON)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == ("Approvers are executives (senior management) with an active "
                                                   "account; not: eve@example.com.")
    response = client.put(url, {"reader_roles": ["janitor"]}, content_type=JSON)
    assert response.status_code == 422 and response.json()["detail"][0]["msg"].startswith("Unknown role(s): janitor")
    assert sorted(plan.approvers.values_list("email", flat=True)) == ["carla@example.com", "gina@example.com"]


def test_the_plan_and_a_version_take_a_fixed_number_of_queries(api_for, lead, ceo, counsel, published, plan):
    client = api_for(lead)
    client.get("/api/v1/plans")

    def count(path) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        return len(queries)

    before = (count("/api/v1/plans"), count(f"/api/v1/plans/{plan.pk}/versions/1"))
    for n in range(2, 5):  # three more published versions, each approved by both
        content = copy.deepcopy(plan.published().content)
        content["title"] = f"Plan {n}"
        actions.do_save_draft(acting_user=lead, plan=plan, content=content)
        actions.do_submit_for_review(acting_user=lead, plan=plan)
        approve_all(plan, ceo, counsel)
    assert (count("/api/v1/plans"), count(f"/api/v1/plans/{plan.pk}/versions/1")) == before


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c["incident_types"][0]["playbook"][0].update(owner_role=["legal"]),
     "Incident type ransomware, step 1: the owner role ['legal'] is not one of the plan's roles."),
    (lambda c: c["rules"][0]["deadline"].update(clock={"at": "awareness"}),
     "Rule internal-liability: unknown clock {'at': 'awareness'}"),
    (lambda c: c["rules"][0].update(channel=["phone"]), "Rule internal-liability: unknown channel ['phone']"),
    (lambda c: c["sections"][0].update(body="a\x00b"),
     "the plan › sections › item 1 › body: text must not contain the NUL character"),
    (lambda c: c["incident_types"][0]["playbook"][0].update(expected_minutes=float("nan")),
     "expected_minutes: numbers must be finite (not NaN or Infinity)."),
    (lambda c: c["sections"][0].update(shown_to_nobody="x"), "Section purpose: unknown field 'shown_to_nobody'"),
])
def test_malformed_content_answers_422_not_500(api_for, lead, plan, change, message):
    import json

    content = copy.deepcopy(draft(plan).content)
    change(content)
    # json.dumps writes NaN as the bare word NaN, which Python's parser (and so the API) reads back.
    response = api_for(lead).put(f"/api/v1/plans/{plan.pk}/draft", json.dumps({"content": content}),
                                 content_type=JSON)
    assert response.status_code == 422
    assert any(message in d["msg"] for d in response.json()["detail"])
    assert PlanVersion.objects.get().content_hash == draft(plan).content_hash
