"""Who may see and change people and groups, for every role, on the pages and in the API.

The organisation: Carla (CEO) manages Mia and Otto; Mia manages Rob; Rob manages Dee.
The manager user is Mia, the employee user is Rob, the business leader is Otto.
"""

import pytest

from bastion.accounts.models import Role
from bastion.people.models import Group, GroupKind, Person
from conftest import ALL_ROLES

from .test_directory import add_person, person_form

JSON = "application/json"
READERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.AUDITOR}
EDITORS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}


@pytest.fixture
def org(db):
    carla = add_person(employee_id="CEO", first_name="Carla", last_name="Ceo")
    mia = add_person(employee_id="MIA", first_name="Mia", last_name="Manager", manager=carla)
    otto = add_person(employee_id="OTTO", first_name="Otto", last_name="Other", manager=carla)
    rob = add_person(employee_id="ROB", first_name="Rob", last_name="Report", manager=mia)
    dee = add_person(employee_id="DEE", first_name="Dee", last_name="Deep", manager=rob)
    group = Group.objects.create(name="Everyone", kind=GroupKind.RULE,
                                 rules=[{"field": "status", "op": "is", "value": "active"}])
    return {"carla": carla, "mia": mia, "otto": otto, "rob": rob, "dee": dee, "group": group}


@pytest.fixture
def user_in(make_user, org):
    """A user of `role`; the manager is Mia, the employee Rob, the business leader Otto."""
    people = {Role.MANAGER: org["mia"], Role.EMPLOYEE: org["rob"], Role.BUSINESS_LEADER: org["otto"]}

    def make(role):
        return make_user(role, person=people.get(role))

    return make


def _list_status(role) -> int:
    return 200 if role in READERS or role == Role.MANAGER else 403


def _view_status(role, person_key) -> int:
    """Rob is visible to readers, his manager Mia and himself; Otto to readers and himself."""
    if role in READERS:
        return 200
    visible = {Role.MANAGER: {"mia", "rob", "dee"}, Role.EMPLOYEE: {"rob"}, Role.BUSINESS_LEADER: {"otto"}}
    return 200 if person_key in visible[role] else 404


def _edit_status(role, person_key) -> int:
    status = _view_status(role, person_key)
    if status == 404:
        return 404
    return 200 if role in EDITORS else 403


# Pages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/people/", "/people/new/", "/people/1/", "/people/1/edit/",
                                 "/people/groups/", "/people/groups/new/", "/people/groups/1/",
                                 "/people/groups/1/edit/"])
def test_anonymous_is_sent_to_sign_in(client, org, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    response = client.post(url, {"name": "x"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("role", ALL_ROLES)
def test_people_list_by_role(client_for, user_in, role):
    response = client_for(user_in(role)).get("/people/", {"status": "all"})
    assert response.status_code == _list_status(role)
    if role == Role.MANAGER:
        page = response.content.decode()
        assert "Report, Rob" in page and "Deep, Dee" in page and "Manager, Mia" in page
        assert "Other, Otto" not in page and "Ceo, Carla" not in page
        assert 'href="/people/new/"' not in page
    elif role in READERS:
        assert "Other, Otto" in response.content.decode()


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("person_key", ["rob", "otto"])
def test_person_detail_by_role(client_for, user_in, org, role, person_key):
    person = org[person_key]
    response = client_for(user_in(role)).get(f"/people/{person.pk}/")
    assert response.status_code == _view_status(role, person_key)
    if response.status_code == 200:
        page = response.content.decode()
        assert person.employee_id in page
        assert (f'href="/people/{person.pk}/edit/"' in page) == (role in EDITORS)


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("person_key", ["rob", "otto"])
def test_person_edit_by_role(client_for, user_in, org, role, person_key):
    person = org[person_key]
    client = client_for(user_in(role))
    expected = _edit_status(role, person_key)
    assert client.get(f"/people/{person.pk}/edit/").status_code == expected
    response = client.post(f"/people/{person.pk}/edit/", person_form(
        employee_id=person.employee_id, email=person.email, first_name="Changed",
        last_name=person.last_name, manager=person.manager.employee_id))
    assert response.status_code == (302 if expected == 200 else expected)
    person.refresh_from_db()
    assert (person.first_name == "Changed") == (expected == 200)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_person_create_by_role(client_for, user_in, role):
    client = client_for(user_in(role))
    allowed = role in EDITORS
    assert client.get("/people/new/").status_code == (200 if allowed else 403)
    response = client.post("/people/new/", person_form())
    assert response.status_code == (302 if allowed else 403)
    assert Person.objects.filter(employee_id="E9001").exists() == allowed


def test_managers_direct_reports_list_stays_in_their_line(client_for, user_in, org):
    page = client_for(user_in(Role.MANAGER)).get(f"/people/{org['mia'].pk}/").content.decode()
    assert f'href="/people/{org["rob"].pk}/"' in page
    # Mia's own manager is named but not linked: Mia may not open Carla's record.
    assert "Carla Ceo" in page and f'href="/people/{org["carla"].pk}/"' not in page
    assert "Groups" not in page.split("<main")[1] and "Recent changes" not in page


@pytest.mark.parametrize("role", ALL_ROLES)
def test_group_pages_by_role(client_for, user_in, org, role):
    client = client_for(user_in(role))
    group = org["group"]
    reads = 200 if role in READERS else 403
    edits = 200 if role in EDITORS else 403
    assert client.get("/people/groups/").status_code == reads
    assert client.get(f"/people/groups/{group.pk}/").status_code == reads
    assert client.get("/people/groups/new/").status_code == edits
    assert client.get(f"/people/groups/{group.pk}/edit/").status_code == edits
    response = client.post("/people/groups/new/", {"name": "New", "kind": "static", "add_members": "ROB"})
    assert response.status_code == (302 if role in EDITORS else 403)
    response = client.post(f"/people/groups/{group.pk}/edit/", {
        "name": "Renamed", "kind": "rule", "rule_0_field": "status", "rule_0_op": "is",
        "rule_0_value": "active"})
    assert response.status_code == (302 if role in EDITORS else 403)
    group.refresh_from_db()
    assert (group.name == "Renamed") == (role in EDITORS)
    if role in READERS:
        page = client.get("/people/groups/").content.decode()
        assert ('href="/people/groups/new/"' in page) == (role in EDITORS)


def test_missing_group_is_404_for_readers(client_for, user_in):
    assert client_for(user_in(Role.AUDITOR)).get("/people/groups/999999/").status_code == 404
    assert client_for(user_in(Role.SECURITY_LEAD)).get("/people/groups/999999/edit/").status_code == 404


def test_deactivated_user_sees_nothing(client_for, make_user, org):
    user = make_user(Role.SECURITY_LEAD, is_active=False)
    response = client_for(user).get("/people/")
    assert response.status_code in (302, 403)


# API ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_people_api_by_role(api_for, user_in, org, role):
    api = api_for(user_in(role))
    response = api.get("/api/v1/people")
    assert response.status_code == _list_status(role)
    if role == Role.MANAGER:
        assert {p["employee_id"] for p in response.json()["items"]} == {"MIA", "ROB", "DEE"}
    for key in ("rob", "otto"):
        person = org[key]
        assert api.get(f"/api/v1/people/{person.pk}").status_code == _view_status(role, key)
        response = api.patch(f"/api/v1/people/{person.pk}", {"title": "Changed"}, content_type=JSON)
        assert response.status_code == _edit_status(role, key)
        person.refresh_from_db()
        assert (person.title == "Changed") == (role in EDITORS)
    response = api.post("/api/v1/people", {"employee_id": "N1", "email": "n1@example.com",
                                           "first_name": "N", "last_name": "One"}, content_type=JSON)
    assert response.status_code == (201 if role in EDITORS else 403)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_groups_api_by_role(api_for, user_in, org, role):
    api = api_for(user_in(role))
    group = org["group"]
    reads = 200 if role in READERS else 403
    assert api.get("/api/v1/groups").status_code == reads
    assert api.get(f"/api/v1/groups/{group.pk}").status_code == reads
    assert api.get(f"/api/v1/groups/{group.pk}/members").status_code == reads
    response = api.post("/api/v1/groups", {"name": "New", "members": ["ROB"]}, content_type=JSON)
    assert response.status_code == (201 if role in EDITORS else 403)
    response = api.patch(f"/api/v1/groups/{group.pk}", {"name": "Renamed"}, content_type=JSON)
    assert response.status_code == (200 if role in EDITORS else 403)


@pytest.mark.parametrize("url", ["/api/v1/people", "/api/v1/people/1", "/api/v1/groups",
                                 "/api/v1/groups/1", "/api/v1/groups/1/members"])
def test_api_without_token_is_401(client, org, url):
    assert client.get(url).status_code == 401
