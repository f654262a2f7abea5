"""Who sees and changes incidents, for every role, and need to know: a restricted incident is
visible only to its members and its declarer — left out of lists and a 404 everywhere else."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.incidents import actions
from conftest import ALL_ROLES

RUNNERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
READERS = RUNNERS | {Role.EXECUTIVE, Role.AUDITOR}
PAGES = ["", "/timeline", "/timeline/verify", "/notifications", "/deviations"]


def declare(user, title: str, **fields):
    return actions.do_declare(acting_user=user, title=title, summary="Something happened.",
                              detected_at=timezone.now() - timedelta(hours=1), reported_by="SIEM",
                              type_key="account_compromise", **fields)


@pytest.fixture
def incidents(published, lead, make_user):
    """An ordinary incident, and a restricted one (insider case) with one team member in it."""
    insider_team = make_user(Role.SECURITY_TEAM, email="ines@example.com")
    open_one = declare(lead, "Phished account")
    restricted = declare(lead, "Insider case", restricted=True, members=[insider_team])
    return {"open": open_one, "restricted": restricted, "member": insider_team}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_role_sees_what_it_may(role, incidents, make_user, api_for):
    api = api_for(make_user(role))
    listing = api.get("/api/v1/incidents")
    ordinary, restricted = incidents["open"].pk, incidents["restricted"].pk
    if role not in READERS:
        assert listing.status_code == 403
        for page in PAGES:
            assert api.get(f"/api/v1/incidents/{ordinary}{page}").status_code == 403
        assert api.patch(f"/api/v1/incidents/{ordinary}", {"facts": {}}, content_type="application/json").status_code == 403
        return
    assert listing.status_code == 200
    assert [i["title"] for i in listing.json()["items"]] == ["Phished account"]
    assert listing.json()["count"] == 1
    for page in PAGES:
        assert api.get(f"/api/v1/incidents/{ordinary}{page}").status_code == 200
        assert api.get(f"/api/v1/incidents/{restricted}{page}").status_code == 404
    change = api.patch(f"/api/v1/incidents/{ordinary}", {"facts": {"ransom_demanded": False}},
                       content_type="application/json")
    assert change.status_code == (200 if role in RUNNERS else 403)
    assert api.patch(f"/api/v1/incidents/{restricted}", {"facts": {}},
                     content_type="application/json").status_code == 404
    assert api.post(f"/api/v1/incidents/{restricted}/status", {"status": "triage"},
                    content_type="application/json").status_code == 404


def test_members_and_the_declarer_see_a_restricted_incident(incidents, lead, api_for):
    restricted = incidents["restricted"]
    for user, status in ((incidents["member"], "triage"), (lead, "containment")):
        api = api_for(user)
        assert {i["title"] for i in api.get("/api/v1/incidents").json()["items"]} == {"Phished account", "Insider case"}
        for page in PAGES:
            assert api.get(f"/api/v1/incidents/{restricted.pk}{page}").status_code == 200
        moved = api.post(f"/api/v1/incidents/{restricted.pk}/status", {"status": status},
                         content_type="application/json")
        assert moved.status_code == 200 and moved.json()["status"] == status


def test_another_security_lead_who_is_not_a_member_gets_404(incidents, make_user, api_for):
    api = api_for(make_user(Role.SECURITY_LEAD))
    assert api.get(f"/api/v1/incidents/{incidents['restricted'].pk}").status_code == 404
    assert "Insider case" not in api.get("/api/v1/incidents").content.decode()


def test_an_executive_member_reads_a_restricted_incident_but_changes_nothing(published, lead, make_user, api_for):
    counsel = make_user(Role.EXECUTIVE, email="legal-member@example.com")
    restricted = declare(lead, "Insider case", restricted=True, members=[counsel])
    api = api_for(counsel)
    assert api.get(f"/api/v1/incidents/{restricted.pk}").status_code == 200
    assert api.patch(f"/api/v1/incidents/{restricted.pk}", {"facts": {}},
                     content_type="application/json").status_code == 403


def test_anonymous_requests_are_refused(incidents, api_for):
    assert api_for(None).get("/api/v1/incidents").status_code == 401
