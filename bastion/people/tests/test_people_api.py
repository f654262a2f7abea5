"""The people and groups API as a script would use it."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bastion.accounts.actions import do_create_token, do_revoke_token
from bastion.audit.models import AuditEntry
from bastion.people.models import Group, GroupKind, Person

from .test_directory import add_person

JSON = "application/json"


@pytest.fixture
def api(api_for, lead):
    return api_for(lead)


def new_person(**fields) -> dict:
    body = {"employee_id": "E9001", "email": "nora@example.com", "first_name": "Nora",
            "last_name": "New"}
    body.update(fields)
    return body


def problems(response) -> dict:
    """The 422 body as {field: [messages]} (the last part of each location)."""
    found: dict = {}
    for error in response.json()["detail"]:
        found.setdefault(str(error["loc"][-1]), []).append(error["msg"])
    return found


# Authentication -------------------------------------------------------------------------------


def test_api_needs_a_valid_token(client, lead):
    assert client.get("/api/v1/people").status_code == 401
    assert client.get("/api/v1/groups", headers={"Authorization": "Bearer bst_nonsense"}).status_code == 401
    token, raw = do_create_token(user=lead, name="script")
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/people", headers=headers).status_code == 200
    do_revoke_token(acting_user=lead, token=token)
    response = client.get("/api/v1/people", headers=headers)
    assert response.status_code == 401
    assert "A valid API token is required" in response.json()["detail"]
    assert client.post("/api/v1/people", new_person(), content_type=JSON, headers=headers).status_code == 401
    assert not Person.objects.exists()


# People ---------------------------------------------------------------------------------------


def test_list_people_with_filters_and_pages(api):
    boss = add_person(employee_id="B1", last_name="Boss")
    add_person(employee_id="S1", last_name="Adams", department="Sales", country="FR", manager=boss)
    add_person(employee_id="S2", last_name="Berg", department="Sales", status="leaver")
    body = api.get("/api/v1/people").json()
    assert body["count"] == 3
    assert [p["employee_id"] for p in body["items"]] == ["S1", "S2", "B1"]
    assert body["items"][0]["manager"] == "B1" and body["items"][0]["country"] == "FR"

    def ids(**params):
        return [p["employee_id"] for p in api.get("/api/v1/people", params).json()["items"]]

    assert ids(department="Sales") == ["S1", "S2"]
    assert ids(status="active") == ["S1", "B1"]
    assert ids(country="fr") == ["S1"]
    assert ids(manager="B1") == ["S1"]
    assert ids(q="berg") == ["S2"]
    assert ids(limit=1, offset=1) == ["S2"]
    assert api.get("/api/v1/people", {"limit": 1}).json()["count"] == 3


def test_list_people_updated_since(api):
    old = add_person(employee_id="OLD")
    Person.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=3))
    add_person(employee_id="NEW")
    since = (timezone.now() - timedelta(days=1)).isoformat()
    body = api.get("/api/v1/people", {"updated_since": since}).json()
    assert [p["employee_id"] for p in body["items"]] == ["NEW"]
    naive = (timezone.now() - timedelta(days=1)).replace(tzinfo=None).isoformat()
    assert api.get("/api/v1/people", {"updated_since": naive}).json()["count"] == 1


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "retired"},
    {"updated_since": "last tuesday"}, {"country": "DEU"}, {"q": "x" * 101},
])
def test_list_people_refuses_bad_parameters(api, params):
    assert api.get("/api/v1/people", params).status_code == 422


def test_people_api_list_query_count_does_not_grow(api, django_assert_max_num_queries):
    boss = add_person()
    for _ in range(5):
        add_person(manager=boss)
    api.get("/api/v1/people")  # the token's first use records when it was used

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/v1/people", {"limit": 100}).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    managers = [add_person(manager=boss) for _ in range(10)]
    for i in range(50):
        add_person(manager=managers[i % 10])
    assert count() == few
    with django_assert_max_num_queries(4):
        body = api.get("/api/v1/people", {"limit": 100}).json()
    assert body["count"] == 66 and len(body["items"]) == 66


def test_get_one_person(api):
    boss = add_person(employee_id="B1")
    person = add_person(employee_id="P1", manager=boss, hire_date=date(2025, 1, 2))
    body = api.get(f"/api/v1/people/{person.pk}").json()
    assert body["employee_id"] == "P1" and body["manager"] == "B1" and body["hire_date"] == "2025-01-02"
    assert api.get("/api/v1/people/999999").status_code == 404
    assert api.get("/api/v1/people/99999999999999999999999").status_code == 404


def test_create_person_and_audit(api):
    add_person(employee_id="B1")
    response = api.post("/api/v1/people", new_person(manager="B1", country="de", hire_date="2026-01-05"),
                        content_type=JSON)
    assert response.status_code == 201
    body = response.json()
    assert body["manager"] == "B1" and body["country"] == "DE" and body["status"] == "active"
    person = Person.objects.get(pk=body["id"])
    entry = AuditEntry.objects.for_object(person).get()
    assert entry.action == "person.created" and entry.actor_label == "alice@example.com"


@pytest.mark.parametrize("body, field, message", [
    (new_person(foo="bar"), "foo", "Extra inputs are not permitted"),
    (new_person(hire_date="2026-02-30"), "hire_date", "Enter a date as YYYY-MM-DD."),
    (new_person(hire_date=20260101), "hire_date", "Input should be a valid string"),
    (new_person(manager="NOPE"), "manager", "No person has the employee id NOPE."),
    (new_person(first_name="x" * 101), "first_name", "Ensure this value has at most 100 characters"),
    (new_person(employee_id="E1,E2"), "employee_id", "cannot contain commas"),
    (new_person(email="not-an-email"), "email", "Enter a valid email address."),
    (new_person(status="retired"), "status", "Select a valid choice."),
    (new_person(country="Germany"), "country", "two-letter country code"),
    (new_person(hire_date="2026-02-01", leave_date="2026-01-01"), "leave_date", "cannot be before the hire date"),
    ({"employee_id": "E1"}, "email", "Field required"),
])
def test_create_person_refuses_bad_bodies(api, body, field, message):
    response = api.post("/api/v1/people", body, content_type=JSON)
    assert response.status_code == 422
    assert any(message in m for m in problems(response)[field]), response.json()
    assert not Person.objects.exists()


def test_duplicates_are_refused_with_clear_messages(api):
    add_person(employee_id="E9001", email="nora@example.com")
    response = api.post("/api/v1/people", new_person(email="NORA@example.com"), content_type=JSON)
    assert response.status_code == 422
    assert problems(response) == {
        "employee_id": ["Another person already has the employee id E9001."],
        "email": ["Another person already has the email address nora@example.com."],
    }


def test_malformed_json_is_a_client_error(api):
    response = api.post("/api/v1/people", "{not json", content_type=JSON)
    assert response.status_code == 400


def test_patch_changes_only_what_is_sent(api):
    boss = add_person(employee_id="B1")
    person = add_person(employee_id="P1", department="Sales", title="Rep", manager=boss)
    response = api.patch(f"/api/v1/people/{person.pk}", {"department": "Finance", "title": None},
                         content_type=JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["department"] == "Finance" and body["title"] == "" and body["manager"] == "B1"
    entry = AuditEntry.objects.for_object(person).get()
    assert entry.before == {"department": "Sales", "title": "Rep"}
    assert entry.after == {"department": "Finance", "title": ""}

    response = api.patch(f"/api/v1/people/{person.pk}", {"manager": None}, content_type=JSON)
    assert response.json()["manager"] is None


def test_patch_refuses_bad_changes(api):
    top = add_person(employee_id="TOP")
    low = add_person(employee_id="LOW", manager=top)
    other = add_person(employee_id="OTH", email="other@example.com")

    def patch(person, body):
        response = api.patch(f"/api/v1/people/{person.pk}", body, content_type=JSON)
        assert response.status_code == 422, response.content
        return problems(response)

    assert patch(top, {"manager": "LOW"})["manager"][0].endswith("so they cannot also be their manager.")
    assert patch(top, {"manager": "TOP"}) == {"manager": ["A person cannot be their own manager."]}
    assert "email" in patch(low, {"email": "other@example.com"})
    assert "employee_id" in patch(low, {"employee_id": None})
    assert "unknown" in patch(other, {"unknown": 1})
    assert patch(low, {"leave_date": "soon"}) == {"leave_date": ["Enter a date as YYYY-MM-DD."]}
    assert not AuditEntry.objects.filter(action="person.updated").exists()


def test_patch_with_past_leave_date_makes_a_leaver(api):
    person = add_person()
    body = api.patch(f"/api/v1/people/{person.pk}", {"leave_date": "2024-01-31"}, content_type=JSON).json()
    assert body["status"] == "leaver" and body["leave_date"] == "2024-01-31"


# Groups ---------------------------------------------------------------------------------------


def test_group_api_create_read_members_and_patch(api):
    a = add_person(employee_id="A1", department="Sales", last_name="Alpha")
    b = add_person(employee_id="B2", department="HR", last_name="Beta")
    response = api.post("/api/v1/groups", {"name": "Wardens", "members": ["A1"]}, content_type=JSON)
    assert response.status_code == 201
    wardens = response.json()
    assert wardens["kind"] == "static" and wardens["member_count"] == 1

    response = api.post("/api/v1/groups", {
        "name": "Sales", "kind": "rule", "description": "Everyone selling",
        "rules": [{"field": "department", "op": "is", "value": "Sales"}],
    }, content_type=JSON)
    sales = response.json()
    assert response.status_code == 201 and sales["member_count"] == 1
    assert sales["rules_in_words"] == "Department is Sales"

    listing = api.get("/api/v1/groups").json()
    assert listing["count"] == 2 and [g["name"] for g in listing["items"]] == ["Sales", "Wardens"]
    assert [g["name"] for g in api.get("/api/v1/groups", {"kind": "rule"}).json()["items"]] == ["Sales"]

    members = api.get(f"/api/v1/groups/{sales['id']}/members").json()
    assert [m["employee_id"] for m in members["items"]] == ["A1"]

    # The rule group follows a change of department at once.
    api.patch(f"/api/v1/people/{b.pk}", {"department": "Sales"}, content_type=JSON)
    assert api.get(f"/api/v1/groups/{sales['id']}").json()["member_count"] == 2

    response = api.patch(f"/api/v1/groups/{wardens['id']}", {
        "add_members": ["B2"], "remove_members": ["A1"], "description": "First aid",
    }, content_type=JSON)
    assert response.status_code == 200
    assert response.json()["description"] == "First aid"
    assert list(Group.objects.get(pk=wardens["id"]).members.all()) == [b]
    assert a not in Group.objects.get(pk=wardens["id"]).members.all()
    entry = AuditEntry.objects.filter(action="group.updated").get()
    assert entry.after == {"description": "First aid", "members_added": ["B2"], "members_removed": ["A1"]}


@pytest.mark.parametrize("body, location", [
    ({"name": "G", "kind": "rule", "rules": [{"field": "hire_date", "op": "after", "value": "2026-1-99"}]},
     ["body", "payload", "rules", 0, "value"]),
    ({"name": "G", "kind": "rule", "rules": [{"field": "shoe_size", "op": "is", "value": "9"}]},
     ["body", "payload", "rules", 0, "field"]),
    ({"name": "G", "kind": "rule", "rules": [{"field": "country", "op": "is", "value": "DE", "x": 1}]},
     ["body", "payload", "rules", 0, "x"]),
    ({"name": "G", "kind": "rule", "rules": [{"field": "country", "op": "is", "value": "DE"}] * 7},
     ["body", "payload", "rules"]),
    ({"name": "G", "kind": "rule"}, ["body", "payload"]),
    ({"name": "G", "members": ["GHOST"]}, ["body", "payload", "members"]),
    ({"name": "G", "kind": "sometimes"}, ["body", "payload", "kind"]),
    ({"name": "G" * 151}, ["body", "payload", "name"]),
    ({"name": "G", "members": "A1"}, ["body", "payload", "members"]),
])
def test_group_api_refuses_bad_bodies(api, body, location):
    response = api.post("/api/v1/groups", body, content_type=JSON)
    assert response.status_code == 422, response.content
    assert location in [e["loc"] for e in response.json()["detail"]], response.json()
    assert not Group.objects.exists()


def test_group_patch_to_static_needs_rules_cleared(api):
    group = Group.objects.create(name="DE", kind=GroupKind.RULE,
                                 rules=[{"field": "country", "op": "is", "value": "DE"}])
    response = api.patch(f"/api/v1/groups/{group.pk}", {"kind": "static"}, content_type=JSON)
    assert response.status_code == 422
    response = api.patch(f"/api/v1/groups/{group.pk}", {"kind": "static", "rules": []}, content_type=JSON)
    assert response.status_code == 200 and response.json()["rules"] == []


def test_group_members_api_query_count_is_bounded(api, django_assert_max_num_queries):
    boss = add_person()
    people = [add_person(manager=boss) for _ in range(60)]
    group = Group.objects.create(name="All")
    group.members.add(*people)
    api.get("/api/v1/groups")
    with django_assert_max_num_queries(5):
        body = api.get(f"/api/v1/groups/{group.pk}/members", {"limit": 100}).json()
    assert body["count"] == 60 and body["items"][0]["manager"] == boss.employee_id
