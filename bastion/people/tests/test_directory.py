"""The people pages as a security lead and the other directory readers use them."""

import itertools
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bastion.accounts.models import Role
from bastion.audit.chain import verify
from bastion.audit.models import AuditEntry
from bastion.people.models import Group, GroupKind, Person, PersonStatus

_numbers = itertools.count(1)


def add_person(**fields) -> Person:
    """A person with made-up but valid directory fields; any of them can be given."""
    n = next(_numbers)
    values = {
        "employee_id": f"E{n:05d}", "email": f"person{n}@example.com",
        "first_name": f"First{n}", "last_name": f"Last{n}", "department": "Engineering",
        "country": "DE",
    }
    values.update(fields)
    return Person.objects.create(**values)


def person_form(**fields) -> dict:
    """A complete, valid person form as a browser would post it."""
    values = {
        "employee_id": "E9001", "email": "nora.new@example.com", "first_name": "Nora",
        "last_name": "New", "department": "Sales", "title": "Account executive", "manager": "",
        "country": "fr", "language": "fr", "hire_date": "2026-01-05", "leave_date": "",
        "status": "active",
    }
    values.update(fields)
    return values


@pytest.fixture
def lead_client(client_for, lead):
    return client_for(lead)


# The list -------------------------------------------------------------------------------------


def test_list_shows_active_people_by_name_with_filters(lead_client):
    boss = add_person(first_name="Carla", last_name="Boss", department="Executive", employee_id="B1")
    add_person(first_name="Zoe", last_name="Adams", department="Sales", country="FR", manager=boss)
    add_person(first_name="Yann", last_name="Berg", department="Sales", country="DE")
    add_person(first_name="Lea", last_name="Gone", department="Sales", status=PersonStatus.LEAVER)

    page = lead_client.get("/people/").content.decode()
    assert page.index("Adams, Zoe") < page.index("Berg, Yann") < page.index("Boss, Carla")
    assert "Gone, Lea" not in page  # leavers are hidden by default
    assert '<option value="Sales">Sales</option>' in page  # departments come from the data
    assert "3 people match." in page

    sales_fr = lead_client.get("/people/", {"department": "Sales", "country": "fr"}).content.decode()
    assert "Adams, Zoe" in sales_fr and "Berg, Yann" not in sales_fr

    leavers = lead_client.get("/people/", {"status": "leaver"}).content.decode()
    assert "Gone, Lea" in leavers and "Adams, Zoe" not in leavers

    everyone = lead_client.get("/people/", {"status": "all"}).content.decode()
    assert "Gone, Lea" in everyone and "Boss, Carla" in everyone

    by_manager = lead_client.get("/people/", {"manager": "B1"}).content.decode()
    assert "Adams, Zoe" in by_manager and "Berg, Yann" not in by_manager


def test_search_finds_by_name_email_and_employee_id(lead_client):
    add_person(first_name="Ingrid", last_name="Holm", email="ingrid.holm@example.com", employee_id="X-77")
    add_person(first_name="Peter", last_name="Lund")
    assert "Holm, Ingrid" in lead_client.get("/people/", {"q": "ingrid"}).content.decode()
    assert "Holm, Ingrid" in lead_client.get("/people/", {"q": "x-77"}).content.decode()
    result = lead_client.get("/people/", {"q": "Ingrid.Holm@"}).content.decode()
    assert "Holm, Ingrid" in result and "Lund, Peter" not in result
    # Every word must match the start of a name: "ingrid lund" is no one.
    assert "Holm, Ingrid" in lead_client.get("/people/", {"q": "HOL ing"}).content.decode()
    assert "No one matches" in lead_client.get("/people/", {"q": "ingrid lund"}).content.decode()
    assert "No one matches" in lead_client.get("/people/", {"q": "nobody-like-this"}).content.decode()


def test_list_is_paginated_by_fifty(lead_client):
    for i in range(55):
        add_person(last_name=f"Person{i:03d}")
    first = lead_client.get("/people/").content.decode()
    assert "Person049" in first and "Person050" not in first
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = lead_client.get("/people/", {"page": 2}).content.decode()
    assert "Person050" in second and "Person054" in second
    # Nonsense page numbers and filters fall back instead of failing.
    assert lead_client.get("/people/", {"page": "x", "status": "bogus", "country": "ZZZZ"}).status_code == 200


def test_list_answers_htmx_with_the_results_region_only(lead_client):
    add_person(first_name="Ada", last_name="Lovelace")
    response = lead_client.get("/people/", {"q": "ada"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="results">')
    assert "Lovelace, Ada" in body and "<html" not in body
    assert "HX-Request" in response["Vary"]


def test_editors_see_add_and_import_links_readers_do_not(client_for, lead, make_user):
    page = client_for(lead).get("/people/").content.decode()
    assert 'href="/people/new/"' in page and 'href="/people/import/"' in page
    for role in (Role.EXECUTIVE, Role.AUDITOR):
        page = client_for(make_user(role)).get("/people/").content.decode()
        assert 'href="/people/new/"' not in page and 'href="/people/import/"' not in page


def _queries(client, url, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params).status_code == 200
    return len(ctx.captured_queries)


def test_people_list_query_count_does_not_grow_with_people(lead_client, django_assert_max_num_queries):
    boss = add_person(department="Executive")
    for i in range(5):
        add_person(manager=boss, department=f"Dept{i}")
    few = _queries(lead_client, "/people/")
    managers = [add_person(manager=boss, department=f"Dept{i % 7}") for i in range(10)]
    for i in range(50):
        add_person(manager=managers[i % 10], department=f"Dept{i % 9}", country="US")
    assert _queries(lead_client, "/people/") == few
    with django_assert_max_num_queries(8):
        lead_client.get("/people/", {"q": "First", "department": "Dept1", "country": "us", "status": "all"})


def test_manager_list_query_count_is_bounded(client_for, make_user, django_assert_max_num_queries):
    boss = add_person()
    user = make_user(Role.MANAGER, person=boss)
    for _ in range(60):
        add_person(manager=boss)
    client = client_for(user)
    with django_assert_max_num_queries(8):
        page = client.get("/people/").content.decode()
    assert "61 people match." in page


# The detail page ------------------------------------------------------------------------------


def test_detail_shows_fields_manager_reports_and_groups(lead_client):
    boss = add_person(first_name="Carla", last_name="Boss", employee_id="B1")
    person = add_person(first_name="Mia", last_name="Meyer", employee_id="M1", manager=boss,
                        department="Sales", title="Sales lead", country="FR", language="fr",
                        hire_date=date(2025, 3, 1))
    add_person(first_name="Rob", last_name="Report", manager=person)
    static = Group.objects.create(name="Fire wardens")
    static.members.add(person)
    Group.objects.create(name="Everyone in Sales", kind=GroupKind.RULE,
                         rules=[{"field": "department", "op": "is", "value": "sales"}])
    Group.objects.create(name="Germany", kind=GroupKind.RULE,
                         rules=[{"field": "country", "op": "is", "value": "DE"}])
    Group.objects.create(name="Reports to B1", kind=GroupKind.RULE,
                         rules=[{"field": "manager", "op": "reports_to", "value": "B1"}])

    page = lead_client.get(f"/people/{person.pk}/").content.decode()
    for text in ("Mia Meyer", "M1", "Sales lead", "FR", "fr", "1 Mar 2025", "Active"):
        assert text in page
    assert f'<a href="/people/{boss.pk}/">Carla Boss</a>' in page
    assert "Rob" in page
    assert "Fire wardens" in page and "Everyone in Sales" in page and "Reports to B1" in page
    assert "Germany" not in page


def test_detail_group_lookup_is_bounded(lead_client, django_assert_max_num_queries):
    person = add_person(department="Sales")
    for i in range(30):
        Group.objects.create(name=f"Rule {i}", kind=GroupKind.RULE,
                             rules=[{"field": "department", "op": "is", "value": "Sales" if i % 2 else "HR"}])
    with django_assert_max_num_queries(14):
        page = lead_client.get(f"/people/{person.pk}/").content.decode()
    assert "Rule 1<" in page and "Rule 2<" not in page


def test_detail_of_someone_with_many_reports_links_to_the_full_list(lead_client):
    boss = add_person(employee_id="BIG")
    for _ in range(53):
        add_person(manager=boss)
    page = lead_client.get(f"/people/{boss.pk}/").content.decode()
    assert "Showing 50 of 53" in page
    assert "/people/?manager=BIG&amp;status=all" in page


@pytest.mark.parametrize("role, sees_audit", [
    (Role.SECURITY_LEAD, True), (Role.AUDITOR, True), (Role.SECURITY_TEAM, False),
    (Role.EXECUTIVE, False),
])
def test_recent_changes_only_for_audit_readers(client_for, lead, make_user, role, sees_audit):
    lead_client = client_for(lead)
    lead_client.post("/people/new/", person_form())
    person = Person.objects.get(employee_id="E9001")
    lead_client.post(f"/people/{person.pk}/edit/", person_form(title="Head of sales"))
    user = lead if role == Role.SECURITY_LEAD else make_user(role)
    page = client_for(user).get(f"/people/{person.pk}/").content.decode()
    assert ("Recent changes" in page) is sees_audit
    if sees_audit:
        assert "person.updated" in page and "person.created" in page
        assert "Head of sales" in page and "alice@example.com" in page


# Create and edit ------------------------------------------------------------------------------


def test_create_person_stores_normalised_values_and_audits(lead_client):
    boss = add_person(employee_id="B1")
    response = lead_client.post("/people/new/", person_form(manager="B1", email="Nora.New@Example.com"))
    person = Person.objects.get(employee_id="E9001")
    assert response.status_code == 302 and response["Location"] == f"/people/{person.pk}/"
    assert person.manager == boss
    assert person.country == "FR" and person.email == "nora.new@example.com"
    assert person.hire_date == date(2026, 1, 5)
    entry = AuditEntry.objects.for_object(person).get()
    assert entry.action == "person.created" and entry.actor_label == "alice@example.com"
    assert entry.after["manager"] == "B1" and entry.after["employee_id"] == "E9001"
    assert "added to the directory" in lead_client.get(response["Location"]).content.decode()
    assert verify().ok


def test_create_shows_clear_errors(lead_client):
    add_person(employee_id="E1", email="taken@example.com")
    response = lead_client.post("/people/new/", person_form(
        employee_id="E1", email="TAKEN@example.com", manager="NOPE", country="DEU",
        language="not a language", hire_date="2026-13-01", first_name="",
    ))
    page = response.content.decode()
    assert response.status_code == 400
    for message in (
        "Another person already has the employee id E1.",
        "Another person already has the email address taken@example.com.",
        "No person has the employee id NOPE.",
        "Enter a two-letter country code",
        "Enter a language code",
        "Enter a date as YYYY-MM-DD.",
        "This field is required.",
    ):
        assert message in page
    assert Person.objects.count() == 1
    assert not AuditEntry.objects.filter(action="person.created").exists()


def test_leave_date_rules(lead_client):
    response = lead_client.post("/people/new/", person_form(hire_date="2026-02-01", leave_date="2026-01-01"))
    assert "The leave date cannot be before the hire date." in response.content.decode()

    future = (date.today() + timedelta(days=30)).isoformat()
    response = lead_client.post("/people/new/", person_form(leave_date=future, status="leaver"))
    assert "The leave date is still to come" in response.content.decode()

    # A leave date that has passed makes the person a leaver.
    response = lead_client.post("/people/new/", person_form(hire_date="2020-01-01", leave_date="2024-06-30"))
    assert response.status_code == 302
    assert Person.objects.get(employee_id="E9001").status == PersonStatus.LEAVER


def test_edit_shows_current_values_and_saves_only_changes_to_audit(lead_client):
    boss = add_person(employee_id="B1")
    person = add_person(employee_id="P1", first_name="Paul", last_name="Smith", manager=boss,
                        hire_date=date(2024, 5, 6))
    form = lead_client.get(f"/people/{person.pk}/edit/").content.decode()
    assert 'value="P1"' in form and 'value="B1"' in form and 'value="2024-05-06"' in form

    values = person_form(employee_id="P1", email=person.email, first_name="Paul", last_name="Smith",
                         department="Finance", title="", manager="B1", country="DE", language="",
                         hire_date="2024-05-06")
    response = lead_client.post(f"/people/{person.pk}/edit/", values)
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.department == "Finance"
    entry = AuditEntry.objects.for_object(person).get()
    assert entry.action == "person.updated"
    assert entry.before == {"department": "Engineering"} and entry.after == {"department": "Finance"}

    # Saving again without a change writes nothing to the trail.
    lead_client.post(f"/people/{person.pk}/edit/", values)
    assert AuditEntry.objects.for_object(person).count() == 1


def test_edit_refuses_self_management_and_cycles(lead_client):
    top = add_person(employee_id="TOP")
    middle = add_person(employee_id="MID", manager=top)
    add_person(employee_id="LOW", manager=middle)

    def post(person, manager):
        return lead_client.post(f"/people/{person.pk}/edit/", person_form(
            employee_id=person.employee_id, email=person.email, manager=manager))

    response = post(top, "TOP")
    assert response.status_code == 400
    assert "A person cannot be their own manager." in response.content.decode()
    response = post(top, "LOW")
    assert response.status_code == 400
    assert "already reports to" in response.content.decode()
    top.refresh_from_db()
    assert top.manager is None
    assert post(middle, "").status_code == 302  # clearing the manager is fine


def test_employee_id_and_email_of_the_same_person_are_not_duplicates(lead_client):
    person = add_person(employee_id="SAME", email="same@example.com")
    response = lead_client.post(f"/people/{person.pk}/edit/", person_form(
        employee_id="SAME", email="SAME@example.com", first_name="Renamed"))
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.first_name == "Renamed"


def test_text_from_people_is_escaped(lead_client):
    person = add_person(first_name="<script>alert(1)</script>", title="<b>boss</b>")
    page = lead_client.get(f"/people/{person.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<b>boss</b>" not in page
