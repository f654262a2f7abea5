"""Changing the team after declaration: commander, scribe, liaison and legal from the directory,
and a restricted incident's members — on the page (htmx and plain) and through the API, for every
role; leavers refused; nobody locks a restricted incident away; each change on the timeline and
in the audit trail."""

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.incidents import actions
from bastion.incidents.models import Incident
from bastion.people.models import PersonStatus
from conftest import ALL_ROLES

from .conftest import person

RUNNERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
READERS = RUNNERS | {Role.EXECUTIVE, Role.AUDITOR}


def _text(response) -> str:
    """What the reader sees: the page's text, without its tags."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def declare(user, title: str = "Phished account", **fields) -> Incident:
    return actions.do_declare(acting_user=user, title=title, summary="A user entered their password on a fake page.",
                              detected_at=timezone.now() - timedelta(hours=1), reported_by="SIEM",
                              type_key="account_compromise", **fields)


def patch_team(api, incident: Incident, body: dict):
    return api.patch(f"/api/v1/incidents/{incident.pk}/team", body, content_type="application/json")


@pytest.fixture
def scribe(db):
    return person("Sam", "Scribe", "sam@example.com")


@pytest.mark.parametrize("role", ALL_ROLES)
def test_who_may_change_the_team_through_the_api(role, published, lead, commander, scribe, make_user, api_for):
    ordinary = declare(lead, incident_commander=commander)
    restricted = declare(lead, "Insider case", restricted=True, members=[lead])
    api = api_for(lead if role == Role.SECURITY_LEAD else make_user(role))
    answer = patch_team(api, ordinary, {"scribe": "sam@example.com"})
    expected = 200 if role in RUNNERS else 403
    assert answer.status_code == expected, role
    ordinary.refresh_from_db()
    assert (ordinary.scribe == scribe) == (role in RUNNERS)
    # Restricted and not a member: as if it did not exist (the lead declared it, so sees it).
    assert patch_team(api, restricted, {"scribe": "sam@example.com"}).status_code == (
        200 if role == Role.SECURITY_LEAD else 404 if role in READERS else 403)


def test_the_incident_commander_changes_their_team_without_running_incidents(published, lead, commander, scribe,
                                                                                make_user, api_for, client_for):
    """An executive who commands the incident may change its team, and nothing else."""
    boss = make_user(Role.EXECUTIVE, email="ivan@example.com", person=commander)
    incident = declare(lead, incident_commander=commander)
    api = api_for(boss)
    answer = patch_team(api, incident, {"scribe": "sam@example.com", "legal": "nobody@example.com"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["msg"] == "legal: nobody in the directory has the address 'nobody@example.com'."
    answer = patch_team(api, incident, {"scribe": "sam@example.com"})
    assert answer.status_code == 200 and answer.json()["scribe"] == "sam@example.com"
    assert answer.json()["incident_commander"] == "ivan@example.com"
    assert api.patch(f"/api/v1/incidents/{incident.pk}", {"facts": {}},
                     content_type="application/json").status_code == 403
    # The page shows them the form (and not the facts form).
    page = _text(client_for(boss).get(f"/incidents/{incident.pk}/"))
    assert "Change the team" in page and "Change facts, clocks and severity" not in page
    # Another executive reads the team but cannot change it.
    other = make_user(Role.EXECUTIVE)
    assert "Change the team" not in _text(client_for(other).get(f"/incidents/{incident.pk}/"))
    assert client_for(other).post(f"/incidents/{incident.pk}/team/", {"scribe": ""}).status_code == 403


def test_a_change_is_on_the_timeline_and_in_the_audit_trail(published, lead, commander, scribe, api_for):
    incident = declare(lead, incident_commander=commander)
    answer = patch_team(api_for(lead), incident, {"incident_commander": "sam@example.com", "liaison": None})
    assert answer.status_code == 200
    assert answer.json()["incident_commander"] == "sam@example.com"
    entry = incident.timeline.order_by("-seq").first()
    assert entry is not None and entry.kind == "team"
    assert entry.text == ("Team: incident commander Ivan Commander (ivan@example.com) → "
                          "Sam Scribe (sam@example.com).")
    audit = AuditEntry.objects.get(action="incident.team", object_id=str(incident.pk))
    assert audit.before == {"incident_commander": commander.pk} and audit.after == {"incident_commander": scribe.pk}
    # The same again changes nothing and writes nothing.
    entries = incident.timeline.count()
    assert patch_team(api_for(lead), incident, {"incident_commander": "sam@example.com"}).status_code == 200
    assert incident.timeline.count() == entries
    assert AuditEntry.objects.filter(action="incident.team").count() == 1


def test_leavers_are_refused(published, lead, commander, scribe, api_for):
    incident = declare(lead, incident_commander=commander)
    scribe.status = PersonStatus.LEAVER
    scribe.save()
    answer = patch_team(api_for(lead), incident, {"scribe": "sam@example.com", "incident_commander": None})
    assert answer.status_code == 422
    assert [d["msg"] for d in answer.json()["detail"]] == [
        "Sam Scribe (sam@example.com) has left the organisation (a leaver in the directory); choose someone active "
        "as scribe."]
    incident.refresh_from_db()
    assert incident.scribe is None and incident.incident_commander == commander  # nothing half-saved


def test_members_of_a_restricted_incident(published, lead, commander, make_user, api_for):
    team_member = make_user(Role.SECURITY_TEAM, email="tom@example.com")
    auditor = make_user(Role.AUDITOR, email="audrey@example.com")
    employee = make_user(Role.EMPLOYEE, email="emma@example.com")
    gone = make_user(Role.SECURITY_TEAM, email="gone@example.com", is_active=False)
    incident = declare(lead, "Insider case", restricted=True, members=[lead])
    api = api_for(lead)
    assert api_for(auditor).get(f"/api/v1/incidents/{incident.pk}").status_code == 404

    refused = patch_team(api, incident, {"add_members": ["emma@example.com", "gone@example.com", "nobody@example.com"]})
    assert refused.status_code == 422
    assert [d["msg"] for d in refused.json()["detail"]] == ["No user has the address 'nobody@example.com'."]
    refused = patch_team(api, incident, {"add_members": ["emma@example.com", "gone@example.com"]})
    assert sorted(d["msg"] for d in refused.json()["detail"]) == [
        "emma@example.com has a role that sees no incidents; only the security lead and team, executives and "
        "auditors can be members.",
        "gone@example.com is not an active account; they cannot be a member."]
    assert employee.pk and gone.pk

    added = patch_team(api, incident, {"add_members": ["tom@example.com", "audrey@example.com"]})
    assert added.status_code == 200
    assert added.json()["members"] == ["alice@example.com", "audrey@example.com", "tom@example.com"]
    assert api_for(auditor).get(f"/api/v1/incidents/{incident.pk}").status_code == 200
    assert "members added: audrey@example.com, tom@example.com" in incident.timeline.order_by("-seq").first().text

    # Nobody removes themselves; the others go.
    mine = patch_team(api, incident, {"remove_members": ["alice@example.com"]})
    assert mine.json()["detail"][0]["msg"].startswith("You cannot remove yourself")
    removed = patch_team(api_for(team_member), incident, {"remove_members": ["audrey@example.com"]})
    assert removed.status_code == 200 and removed.json()["members"] == ["alice@example.com", "tom@example.com"]
    assert api_for(auditor).get(f"/api/v1/incidents/{incident.pk}").status_code == 404

    # An ordinary incident has no members to change.
    ordinary = declare(lead)
    refused = patch_team(api, ordinary, {"add_members": ["tom@example.com"]})
    assert refused.json()["detail"][0]["msg"].startswith("Only a restricted (need-to-know) incident has members")


def test_a_restricted_incident_is_never_locked_away(published, lead, commander, make_user, api_for):
    """The commander's account stays while they command, and an active security lead or team
    account always remains."""
    boss = make_user(Role.EXECUTIVE, email="ivan@example.com", person=commander)
    declarer = make_user(Role.SECURITY_TEAM, email="dora@example.com")
    incident = declare(declarer, "Insider case", restricted=True, members=[lead, boss], incident_commander=commander)
    declarer.is_active = False
    declarer.save()
    refused = patch_team(api_for(lead), incident, {"remove_members": ["ivan@example.com"]})
    assert refused.json()["detail"][0]["msg"] == (
        "ivan@example.com is the incident commander's account: change the commander first.")
    refused = patch_team(api_for(boss), incident, {"remove_members": ["alice@example.com"]})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["msg"] == (
        "At least one active security lead or team account (a member or the declarer) must remain, or nobody "
        "could run the incident.")
    assert sorted(incident.members.values_list("email", flat=True)) == ["alice@example.com", "ivan@example.com"]


def test_the_team_form_on_the_page_with_and_without_htmx(published, lead, commander, scribe, make_user, client_for):
    make_user(Role.SECURITY_TEAM, email="tom@example.com")
    incident = declare(lead, "Insider case", restricted=True, members=[lead], incident_commander=commander)
    client = client_for(lead)
    page = _text(client.get(f"/incidents/{incident.pk}/"))
    assert "Change the team" in page and "You cannot remove yourself or the incident commander's account" in page
    assert "Members alice@example.com (declared by alice@example.com, who sees it too)" in page

    # With htmx: only the team's region comes back, showing the change.
    region = client.post(f"/incidents/{incident.pk}/team/", {
        "incident_commander": "ivan@example.com", "scribe": "sam@example.com", "add_members": "tom@example.com"},
        headers={"HX-Request": "true"})
    assert region.status_code == 200
    body = _text(region)
    assert region.content.decode().lstrip().startswith('<div id="team">') and "<html" not in region.content.decode()
    assert ("Team changed: scribe (none) → Sam Scribe (sam@example.com); members added: tom@example.com." in body)
    assert "Members alice@example.com, tom@example.com" in body

    # A refusal, with htmx: the form shows why, nothing saved.
    scribe.status = PersonStatus.LEAVER
    scribe.save()
    region = client.post(f"/incidents/{incident.pk}/team/", {
        "incident_commander": "ivan@example.com", "scribe": "sam@example.com", "legal": "ivan@example.com"},
        headers={"HX-Request": "true"})
    body = _text(region)
    assert "Nothing was saved" in body and "has left the organisation" in body
    incident.refresh_from_db()
    assert incident.legal is None

    # Without htmx: a redirect and the message on the page; errors answer 400 with the whole page.
    scribe.status = PersonStatus.ACTIVE
    scribe.save()
    answer = client.post(f"/incidents/{incident.pk}/team/", {
        "incident_commander": "ivan@example.com", "scribe": "", "legal": "nobody@example.com"})
    assert answer.status_code == 400
    assert "Nobody in the people directory has the address nobody@example.com." in _text(answer)
    answer = client.post(f"/incidents/{incident.pk}/team/", {"incident_commander": "ivan@example.com", "scribe": ""},
                         follow=True)
    assert "Team changed: scribe Sam Scribe (sam@example.com) → (none)." in _text(answer)
    # Closed: no form and refused.
    incident.status = "closed"
    incident.save()
    assert "Change the team" not in _text(client.get(f"/incidents/{incident.pk}/"))
    answer = client.post(f"/incidents/{incident.pk}/team/", {"scribe": "sam@example.com"})
    assert answer.status_code == 400 and "The incident is closed; its team can no longer change." in _text(answer)


def test_whoever_is_given_a_team_role_on_a_restricted_incident_becomes_a_member(published, lead, commander, scribe,
                                                                                 make_user, client_for, api_for):
    """A need-to-know incident is invisible to non-members, so naming someone to its team makes
    their account a member — at declaration and when the team changes — or they could not serve."""
    boss = make_user(Role.EXECUTIVE, email="ivan@example.com", person=commander)
    writer = make_user(Role.SECURITY_TEAM, email="sam@example.com", person=scribe)
    incident = declare(lead, "Insider case", restricted=True, members=[lead], incident_commander=commander)
    assert set(incident.members.all()) == {lead, boss}
    assert client_for(boss).get(f"/incidents/{incident.pk}/").status_code == 200
    assert client_for(writer).get(f"/incidents/{incident.pk}/").status_code == 404

    answer = patch_team(api_for(lead), incident, {"scribe": "sam@example.com"})
    assert answer.status_code == 200, answer.content
    assert client_for(writer).get(f"/incidents/{incident.pk}/").status_code == 200
    entry = incident.timeline.order_by("-seq").first()
    assert "members added: sam@example.com" in entry.text
    # Someone with no account, or an account whose role sees no incidents, is not made a member.
    clerk = person("Cleo", "Clerk", "cleo@example.com")
    make_user(Role.EMPLOYEE, email="cleo@example.com", person=clerk)
    assert patch_team(api_for(lead), incident, {"liaison": "cleo@example.com"}).status_code == 200
    assert {u.email for u in incident.members.all()} == {lead.email, "ivan@example.com", "sam@example.com"}
