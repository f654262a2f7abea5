"""Group pages: static and rule-based groups, their members and their validation."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bastion.audit.models import AuditEntry
from bastion.people.models import Group, GroupKind

from .test_directory import add_person, person_form


@pytest.fixture
def lead_client(client_for, lead):
    return client_for(lead)


def rule_form(name="Sales since 2026", *rows, **fields) -> dict:
    """A group form with the given (field, op, value) condition rows."""
    data = {"name": name, "description": "", "kind": "rule", "add_members": ""}
    for i, (field, op, value) in enumerate(rows):
        data.update({f"rule_{i}_field": field, f"rule_{i}_op": op, f"rule_{i}_value": value})
    data.update(fields)
    return data


def test_create_static_group_with_members_by_employee_id(lead_client):
    ana = add_person(employee_id="A1", first_name="Ana", last_name="Alvarez")
    ben = add_person(employee_id="B2", first_name="Ben", last_name="Brown")
    add_person(employee_id="C3", first_name="Cy", last_name="Cole")
    response = lead_client.post("/people/groups/new/", {
        "name": "Fire wardens", "description": "First responders", "kind": "static",
        "add_members": "A1,\r\nB2\r\n\r\nA1",
    })
    group = Group.objects.get(name="Fire wardens")
    assert response.status_code == 302 and response["Location"] == f"/people/groups/{group.pk}/"
    assert set(group.members.all()) == {ana, ben}
    entry = AuditEntry.objects.for_object(group).get()
    assert entry.action == "group.created" and entry.after["members"] == ["A1", "B2"]

    page = lead_client.get(f"/people/groups/{group.pk}/").content.decode()
    assert "2 members." in page and "Alvarez, Ana" in page and "Cole, Cy" not in page
    assert "First responders" in page


def test_static_group_errors_name_unknown_ids_and_duplicate_names(lead_client):
    Group.objects.create(name="Fire wardens")
    add_person(employee_id="A1")
    response = lead_client.post("/people/groups/new/", {
        "name": "fire wardens", "kind": "static", "add_members": "A1, GHOST, PHANTOM",
        "rule_0_field": "department", "rule_0_op": "is", "rule_0_value": "Sales",
    })
    page = response.content.decode()
    assert response.status_code == 400
    assert "There is already a group called fire wardens." in page
    assert "No person has the employee ids GHOST, PHANTOM." in page
    assert "A static group has no conditions" in page
    assert Group.objects.count() == 1


def test_edit_static_group_adds_and_removes_members(lead_client):
    a, b, c = (add_person(employee_id=i) for i in ("A1", "B2", "C3"))
    group = Group.objects.create(name="Wardens")
    group.members.add(a, b)
    form = lead_client.get(f"/people/groups/{group.pk}/edit/").content.decode()
    assert 'value="Wardens"' in form and "Remove members" in form

    response = lead_client.post(f"/people/groups/{group.pk}/edit/", {
        "name": "Wardens", "kind": "static", "add_members": "C3", "remove_members": "A1\nB2",
    })
    assert response.status_code == 302
    assert list(group.members.all()) == [c]
    entry = AuditEntry.objects.for_object(group).get()
    assert entry.after == {"members_added": ["C3"], "members_removed": ["A1", "B2"]}

    response = lead_client.post(f"/people/groups/{group.pk}/edit/", {
        "name": "Wardens", "kind": "static", "add_members": "A1", "remove_members": "A1",
    })
    assert "Asked to both add and remove: A1." in response.content.decode()


def test_rule_group_members_stay_current_when_people_change(lead_client):
    add_person(employee_id="S1", first_name="Sam", last_name="Seller", department="Sales",
               hire_date=date(2026, 3, 1))
    old = add_person(employee_id="S0", first_name="Olga", last_name="Old", department="Sales",
                     hire_date=date(2020, 1, 1))
    mover = add_person(employee_id="E1", first_name="Max", last_name="Mover", department="Engineering",
                       hire_date=date(2026, 2, 1))
    response = lead_client.post("/people/groups/new/", rule_form(
        "Sales since 2026", ("department", "is", "sales"), ("hire_date", "after", "2026-01-01")))
    group = Group.objects.get(name="Sales since 2026")
    assert response.status_code == 302
    assert group.rules == [{"field": "department", "op": "is", "value": "sales"},
                           {"field": "hire_date", "op": "after", "value": "2026-01-01"}]

    page = lead_client.get(f"/people/groups/{group.pk}/").content.decode()
    assert "Department is sales and Hire date after 2026-01-01" in page
    assert "Seller, Sam" in page and "Mover, Max" not in page and "Old, Olga" not in page

    # Max moves to Sales through the edit page: the group has him at once.
    lead_client.post(f"/people/{mover.pk}/edit/", person_form(
        employee_id="E1", email=mover.email, first_name="Max", last_name="Mover",
        department="Sales", hire_date="2026-02-01"))
    page = lead_client.get(f"/people/groups/{group.pk}/").content.decode()
    assert "Mover, Max" in page and "2 members right now." in page
    assert "Sales since 2026" in lead_client.get(f"/people/{mover.pk}/").content.decode()
    assert "Sales since 2026" not in lead_client.get(f"/people/{old.pk}/").content.decode()


@pytest.mark.parametrize("row, message", [
    (("department", "after", "x"), "Department can be compared with"),
    (("hire_date", "after", "01/02/2026"), "Enter the hire date as YYYY-MM-DD."),
    (("hire_date", "before", "2026-02-30"), "Enter the hire date as YYYY-MM-DD."),
    (("country", "in", "DE, France"), "Use two-letter country codes"),
    (("manager", "reports_to", "NOBODY"), "No person has the employee id NOBODY."),
    (("status", "is", "retired"), "Status is either active or leaver."),
    (("title", "is", ""), "Enter the value to compare title with."),
    (("", "is", "Sales"), "Choose what the condition is about"),
    (("colour", "is", "blue"), "Select a valid choice."),
])
def test_rule_errors_are_clear(lead_client, row, message):
    response = lead_client.post("/people/groups/new/", rule_form("Bad", row))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Group.objects.exists()


def test_rule_group_needs_a_condition_and_no_chosen_members(lead_client):
    add_person(employee_id="A1")
    response = lead_client.post("/people/groups/new/", rule_form("Empty", add_members="A1"))
    page = response.content.decode()
    assert "A rule-based group needs at least one condition." in page
    assert "A rule-based group chooses its members by its conditions" in page


def test_rule_values_are_normalised(lead_client):
    boss = add_person(employee_id="B1")
    de = add_person(country="DE", manager=boss, status="active")
    add_person(country="US", manager=boss)
    lead_client.post("/people/groups/new/", rule_form(
        "EU team", ("country", "in", " de ,fr"), ("manager", "reports_to", "B1"), ("status", "is", "Active")))
    group = Group.objects.get(name="EU team")
    assert group.rules[0]["value"] == "DE, FR" and group.rules[2]["value"] == "active"
    assert list(group.people()) == [de]


def test_making_a_static_group_rule_based_drops_chosen_members(lead_client):
    a = add_person(employee_id="A1", department="Legal")
    group = Group.objects.create(name="Legal")
    group.members.add(a)
    response = lead_client.post(f"/people/groups/{group.pk}/edit/", rule_form(
        "Legal", ("department", "is", "Legal")))
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.kind == GroupKind.RULE and not group.members.exists()
    assert list(group.people()) == [a]
    entry = AuditEntry.objects.for_object(group).get()
    assert entry.before == {"kind": "static", "rules": []}
    assert entry.after["kind"] == "rule" and entry.after["members_removed"] == ["A1"]


def test_edit_form_shows_existing_rules(lead_client):
    group = Group.objects.create(name="DE", kind=GroupKind.RULE,
                                 rules=[{"field": "country", "op": "is", "value": "DE"}])
    page = lead_client.get(f"/people/groups/{group.pk}/edit/").content.decode()
    assert '<option value="country" selected>' in page
    assert 'name="rule_0_value" value="DE"' in page
    assert "Condition 6" in page and "Condition 7" not in page


def test_group_list_shows_kind_and_member_counts(lead_client):
    people = [add_person(department="Sales" if i % 2 else "HR") for i in range(6)]
    wardens = Group.objects.create(name="Wardens")
    wardens.members.add(*people[:4])
    Group.objects.create(name="Sales", kind=GroupKind.RULE,
                         rules=[{"field": "department", "op": "is", "value": "Sales"}])
    page = lead_client.get("/people/groups/").content.decode()
    assert '<td data-label="Members">4</td>' in page and '<td data-label="Members">3</td>' in page
    assert "Rule-based" in page and "Static" in page
    assert "Wardens" in lead_client.get("/people/groups/", {"q": "ward"}).content.decode()
    assert "Sales" not in lead_client.get("/people/groups/", {"q": "ward"}).content.decode().split("<table")[1]


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_group_pages_query_counts_do_not_grow_with_people(lead_client, django_assert_max_num_queries):
    people = [add_person(department="Sales") for _ in range(5)]
    static = Group.objects.create(name="Static")
    static.members.add(*people)
    rule = Group.objects.create(name="Rule", kind=GroupKind.RULE,
                                rules=[{"field": "department", "op": "is", "value": "Sales"}])
    few_list = _queries(lead_client, "/people/groups/")
    few_detail = _queries(lead_client, f"/people/groups/{static.pk}/")
    more = [add_person(department="Sales") for _ in range(60)]
    static.members.add(*more)
    assert _queries(lead_client, "/people/groups/") == few_list
    assert _queries(lead_client, f"/people/groups/{static.pk}/") == few_detail
    for i in range(5):
        Group.objects.create(name=f"Static {i}").members.add(*more[:10])
    with django_assert_max_num_queries(8):
        lead_client.get("/people/groups/")  # static groups are counted in the page query
    with django_assert_max_num_queries(7):
        lead_client.get(f"/people/groups/{rule.pk}/")


def test_group_members_page_is_paginated(lead_client):
    for i in range(55):
        add_person(last_name=f"Member{i:03d}", department="Ops")
    group = Group.objects.create(name="Ops", kind=GroupKind.RULE,
                                 rules=[{"field": "department", "op": "is", "value": "Ops"}])
    first = lead_client.get(f"/people/groups/{group.pk}/").content.decode()
    assert "Member049" in first and "Member050" not in first and "55 members right now." in first
    second = lead_client.get(f"/people/groups/{group.pk}/", {"page": 2}).content.decode()
    assert "Member054" in second
    partial = lead_client.get(f"/people/groups/{group.pk}/", {"page": 2}, headers={"HX-Request": "true"})
    assert partial.content.decode().lstrip().startswith('<div id="members">')

