"""Programme pages and the programmes / assignments API: what each role may do, validation with
clear messages, rule changes recorded with their reason, and bounded query counts."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.awareness.actions import install_starter_curriculum
from bastion.awareness.engine import run_assignments
from bastion.awareness.models import (
    Assignment,
    AssignmentStatus,
    Course,
    Programme,
    ProgrammeChange,
)
from bastion.people.models import Group, GroupKind, Person
from conftest import ALL_ROLES

WRITERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM)
READERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR)
PROGRESS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR, Role.EXECUTIVE, Role.MANAGER)


@pytest.fixture
def course(db) -> Course:
    install_starter_curriculum()
    return Course.objects.get(slug="recognising-phishing")


@pytest.fixture
def programme(course) -> Programme:
    return Programme.objects.create(name="Everyone: phishing", course=course, starts_on=date(2020, 1, 1))


def person(n: int, **fields) -> Person:
    return Person.objects.create(employee_id=f"E{n}", email=f"p{n}@example.com", first_name=f"Pat{n}",
                                 last_name="Example", department=fields.pop("department", "Sales"),
                                 hire_date=date(2019, 1, 1), **fields)


def form_data(course: Course, /, **overrides) -> dict:
    data = {"name": "New hires", "course": str(course.pk), "audience": "", "active": "on",
            "starts_on": "2026-03-01", "on_hire": "on", "hire_due_days": "14", "recurring_months": "12",
            "due_days": "30", "reminder_days": "-7, 0, 3", "escalate_after_days": "7",
            "consequence_after_days": "30", "consequence_notify": "hr@example.com", "incentive_points": "10",
            "incentive_recognition": "on"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- pages --------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES + [None])
@pytest.mark.parametrize("page", ["/awareness/programmes/", "{p}", "{p}edit/", "/awareness/programmes/new/"])
def test_who_sees_the_programme_pages(client_for, make_user, programme, role, page):
    url = page.format(p=f"/awareness/programmes/{programme.pk}/")
    response = client_for(make_user(role) if role else None).get(url)
    allowed = WRITERS if ("edit" in url or "new" in url) else READERS
    if role is None:
        assert response.status_code == 302 and "/login" in response["Location"]
    elif role in allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ALL_ROLES + [None])
def test_only_the_security_team_creates_and_edits(client_for, make_user, course, programme, role):
    client = client_for(make_user(role) if role else None)
    client.post("/awareness/programmes/new/", form_data(course))
    client.post(f"/awareness/programmes/{programme.pk}/edit/",
                form_data(course, name=programme.name, due_days="20", reason="Shorter", starts_on="2020-01-01"))
    created = Programme.objects.filter(name="New hires").exists()
    programme.refresh_from_db()
    assert created == (role in WRITERS) and (programme.due_days == 20) == (role in WRITERS)


def test_list_shows_rules_in_words_and_counts_computed_by_the_database(
        client_for, make_user, programme, course, django_assert_max_num_queries):
    for n in range(4):
        person(n)
    run_assignments(timezone.now())
    first, second = Assignment.objects.order_by("pk")[:2]
    Assignment.objects.filter(pk=first.pk).update(status=AssignmentStatus.COMPLETED, completed_at=timezone.now())
    Assignment.objects.filter(pk=second.pk).update(due_on=timezone.localdate() - timedelta(days=1))
    for n in range(30):
        Programme.objects.create(name=f"Programme {n:02}", course=course, on_change=True)
    client = client_for(make_user(Role.AUDITOR))
    with django_assert_max_num_queries(8):
        page = client.get("/awareness/programmes/").content.decode()
    assert "Everyone: phishing" in page and "Everyone in the directory" in page
    assert "On hire (due 14 days after the hire date); everyone else once (due 30 days after being assigned); " \
           "every 12 months after completion" in page
    assert '<td data-label="Open">3</td>' in page and '<td data-label="Completed">1</td>' in page
    assert '<span class="badge bad">1</span>' in page
    assert "New programme" not in page  # the auditor reads


def test_list_is_paginated(client_for, lead, course):
    for n in range(55):
        Programme.objects.create(name=f"Programme {n:02}", course=course)
    page = client_for(lead).get("/awareness/programmes/?page=2").content.decode()
    assert "Programme 54" in page and "Programme 00" not in page and "Page 2 of 2" in page


def test_create_a_programme(client_for, lead, course):
    response = client_for(lead).post("/awareness/programmes/new/", form_data(course), follow=True)
    programme = Programme.objects.get(name="New hires")
    assert response.redirect_chain[-1][0] == f"/awareness/programmes/{programme.pk}/"
    assert programme.reminder_days == [-7, 0, 3] and programme.created_by == lead
    assert "Programme “New hires” created" in response.content.decode()
    assert AuditEntry.objects.filter(action="programme.created", object_id=str(programme.pk)).exists()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("reminder_days", "-7, soon", "“soon” is not a whole number of days"),
    ("reminder_days", "-90, 0", "-90 is out of range: reminders go from -60"),
    ("reminder_days", "0, 121", "121 is out of range"),
    ("reminder_days", "1.5", "“1.5” is not a whole number of days"),
    ("consequence_notify", "hr-at-example", "Enter a valid email address"),
    ("due_days", "0", "Between 1 and 365 days."),
    ("due_days", "400", "Between 1 and 365 days."),
    ("hire_due_days", "-1", "Between 0 and 365 days."),
    ("hire_due_days", "", "Required."),
    ("recurring_months", "0", "Between 1 and 120 months, or blank for once only."),
    ("escalate_after_days", "x", "A whole number of days."),
    ("course", "999999", "Choose one of the courses listed"),
    ("starts_on", "31/02/2026", "Enter a valid date."),
])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_saved(client_for, lead, course, field, value,
                                                                       message):
    response = client_for(lead).post("/awareness/programmes/new/", form_data(course, **{field: value}))
    assert response.status_code == 400
    page = response.content.decode().replace("&quot;", '"').replace("&#x27;", "'")
    assert message in page and "Nothing was saved." in page
    assert not Programme.objects.exists() and not AuditEntry.objects.filter(action="programme.created").exists()


def test_reminder_days_are_sorted_and_each_kept_once(client_for, lead, course):
    client_for(lead).post("/awareness/programmes/new/", form_data(course, reminder_days=" 3,-7 ,0, 3,, "))
    assert Programme.objects.get().reminder_days == [-7, 0, 3]


def test_duplicate_name_is_refused(client_for, lead, course, programme):
    response = client_for(lead).post("/awareness/programmes/new/", form_data(course, name=programme.name))
    assert "A programme with this name exists already." in response.content.decode()


def test_changing_a_rule_asks_for_a_reason_and_records_each_change(client_for, lead, course, programme):
    client = client_for(lead)
    url = f"/awareness/programmes/{programme.pk}/edit/"
    data = form_data(course, name=programme.name, recurring_months="6", due_days="21", starts_on="2020-01-01",
                     consequence_notify="", reminder_days="-7, 0, 3", escalate_after_days="7",
                     consequence_after_days="30")
    response = client.post(url, data)
    assert response.status_code == 400
    assert "Say why the rules change" in response.content.decode()
    programme.refresh_from_db()
    assert programme.recurring_months == 12 and not ProgrammeChange.objects.exists()

    response = client.post(url, {**data, "reason": "Twice a year after the Q1 incidents"}, follow=True)
    assert "Saved; 2 rule changes recorded." in response.content.decode()
    programme.refresh_from_db()
    assert (programme.recurring_months, programme.due_days) == (6, 21)
    changes = {c.field: c for c in ProgrammeChange.objects.all()}
    assert set(changes) == {"recurring_months", "due_days"}
    assert (changes["recurring_months"].before, changes["recurring_months"].after) == (12, 6)
    assert changes["due_days"].changed_by == lead and changes["due_days"].reason.startswith("Twice a year")
    page = client.get(f"/awareness/programmes/{programme.pk}/").content.decode()
    assert "Repeat every (months)" in page and "Twice a year after the Q1 incidents" in page
    # Renaming only is not a rule change: no reason needed, nothing recorded.
    response = client.post(url, {**data, "name": "Phishing for all"}, follow=True)
    assert response.content.decode().count("Saved.") == 1 and ProgrammeChange.objects.count() == 2


def test_detail_says_when_the_audience_matches_nobody(client_for, lead, programme):
    group = Group.objects.create(name="Nobody here", kind=GroupKind.RULE,
                                 rules=[{"field": "department", "op": "is", "value": "Moon base"}])
    Programme.objects.filter(pk=programme.pk).update(audience=group)
    page = client_for(lead).get(f"/awareness/programmes/{programme.pk}/").content.decode()
    assert "Its audience matches nobody active in the directory: nobody is assigned." in page
    assert "Nobody here · 0 active people" in page


def test_detail_says_when_the_course_has_no_published_version(client_for, lead, programme, course):
    person(1)
    course.versions.update(status="draft")
    page = client_for(lead).get(f"/awareness/programmes/{programme.pk}/").content.decode()
    assert "Its course has no published version: nobody is assigned until it is published." in page


def test_detail_shows_rules_counts_and_last_run(client_for, lead, programme):
    person(1)
    run_assignments(datetime(2026, 3, 2, 9, tzinfo=UTC))
    page = client_for(lead).get(f"/awareness/programmes/{programme.pk}/").content.decode()
    assert "7 days before, on the due date, 3 days after" in page
    assert "1 open · 0 completed" in page and "2 Mar 2026 09:00" in page and "Programme start: 1 (1 open)" in page


# --- API ----------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES + [None])
def test_programmes_api_roles(api_for, make_user, programme, course, role):
    api = api_for(make_user(role) if role else None)
    listed = api.get("/api/v1/programmes")
    one = api.get(f"/api/v1/programmes/{programme.pk}")
    created = api.post("/api/v1/programmes", {"name": "API made", "course": course.pk},
                       content_type="application/json")
    changed = api.patch(f"/api/v1/programmes/{programme.pk}", {"due_days": 10, "reason": "Faster"},
                        content_type="application/json")
    if role is None:
        assert {listed.status_code, one.status_code, created.status_code, changed.status_code} == {401}
        return
    assert listed.status_code == one.status_code == (200 if role in READERS else 403)
    assert created.status_code == (201 if role in WRITERS else 403)
    assert changed.status_code == (200 if role in WRITERS else 403)


def test_programmes_api_create_get_update(api_for, lead, course, programme, django_assert_max_num_queries):
    api = api_for(lead)
    response = api.post("/api/v1/programmes", {"name": "Starters", "course": course.pk, "reminder_days": [3, -7],
                                               "recurring_months": None, "consequence_notify": "HR@example.com"},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reminder_days"] == [-7, 3] and body["recurring_months"] is None
    assert body["consequence_notify"] == "hr@example.com" and body["course"] == {"id": course.pk,
                                                                                 "name": course.title}
    assert body["on_hire"] is True and body["due_days"] == 30 and body["open"] == 0
    pk = body["id"]

    refused = api.patch(f"/api/v1/programmes/{pk}", {"recurring_months": 6}, content_type="application/json")
    assert refused.status_code == 422
    assert any("Say why the rules change" in e["msg"] for e in refused.json()["detail"])
    response = api.patch(f"/api/v1/programmes/{pk}", {"recurring_months": 6, "reason": "Twice a year"},
                         content_type="application/json")
    assert response.status_code == 200 and response.json()["recurring_months"] == 6
    change = ProgrammeChange.objects.get(programme_id=pk)
    assert (change.before, change.after, change.reason) == (None, 6, "Twice a year")
    # Unchanged fields keep their values; a nullable one sent as null is cleared.
    response = api.patch(f"/api/v1/programmes/{pk}", {"escalate_after_days": None, "reason": "No escalation"},
                         content_type="application/json")
    assert response.json()["escalate_after_days"] is None and response.json()["reminder_days"] == [-7, 3]

    for n in range(20):
        Programme.objects.create(name=f"P{n:02}", course=course)
    with django_assert_max_num_queries(5):
        listed = api.get("/api/v1/programmes?limit=10&offset=0").json()
    assert listed["count"] == 22 and len(listed["items"]) == 10


@pytest.mark.parametrize(("payload", "field", "message"), [
    ({"reminder_days": [-61]}, "reminder_days", "-61 is out of range"),
    ({"due_days": 0}, "due_days", "Between 1 and 365 days."),
    ({"consequence_notify": "nope"}, "consequence_notify", "Enter a valid email address"),
    ({"course": 999999}, "course", "Choose one of the courses listed"),
    ({"audience": 999999}, "audience", "Choose one of the groups listed."),
])
def test_programmes_api_refuses_bad_input_with_422(api_for, lead, course, payload, field, message):
    response = api_for(lead).post("/api/v1/programmes", {"name": "Bad", "course": course.pk, **payload},
                                  content_type="application/json")
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == field and message in e["msg"] for e in errors), errors
    assert not Programme.objects.filter(name="Bad").exists()


def test_programmes_api_refuses_unknown_and_mistyped_fields(api_for, lead, course):
    api = api_for(lead)
    assert api.post("/api/v1/programmes", {"name": "X", "course": course.pk, "colour": "red"},
                    content_type="application/json").status_code == 422
    assert api.post("/api/v1/programmes", {"name": "X", "course": course.pk, "due_days": "soon"},
                    content_type="application/json").status_code == 422
    assert api.get("/api/v1/programmes/999999").status_code == 404


@pytest.fixture
def team(make_user, programme):
    """A manager with two reports (one indirect) and one other person, all assigned."""
    boss = person(1, department="Sales")
    direct = person(2, manager=boss)
    indirect = person(3, manager=direct)
    person(4, department="Finance")
    run_assignments(timezone.now())
    return {"manager": make_user(Role.MANAGER, person=boss), "direct": direct, "indirect": indirect}


@pytest.mark.parametrize("role", ALL_ROLES + [None])
def test_assignments_api_roles(api_for, make_user, team, role):
    if role == Role.MANAGER:
        user = team["manager"]
    else:
        user = make_user(role) if role else None
    response = api_for(user).get("/api/v1/assignments")
    if role is None:
        assert response.status_code == 401
    elif role == Role.MANAGER:
        emails = {a["person"]["email"] for a in response.json()["items"]}
        assert emails == {"p2@example.com", "p3@example.com"}  # their reports only
    elif role in PROGRESS:
        assert response.json()["count"] == 4
    else:
        assert response.status_code == 403


def test_a_manager_without_a_directory_record_sees_nothing(api_for, make_user, team):
    assert api_for(make_user(Role.MANAGER)).get("/api/v1/assignments").status_code == 403


def test_assignments_api_filters_and_pages(api_for, lead, team, programme, django_assert_max_num_queries):
    api = api_for(lead)
    direct = team["direct"]
    overdue = Assignment.objects.get(person=direct)
    Assignment.objects.filter(pk=overdue.pk).update(due_on=timezone.localdate() - timedelta(days=3))
    done = Assignment.objects.get(person=team["indirect"])
    Assignment.objects.filter(pk=done.pk).update(status=AssignmentStatus.COMPLETED, completed_at=timezone.now())

    def ids(query: str) -> list[int]:
        response = api.get("/api/v1/assignments" + query)
        assert response.status_code == 200, response.content
        return [a["id"] for a in response.json()["items"]]

    assert ids(f"?person={direct.pk}") == ids("?person=P2@example.com") == [overdue.pk]
    assert ids("?overdue=true") == [overdue.pk]
    assert overdue.pk not in ids("?overdue=false") and len(ids("?overdue=false")) == 3
    assert ids("?status=completed") == [done.pk]
    assert len(ids("?status=open")) == 3
    assert len(ids(f"?programme={programme.pk}")) == 4 and ids("?programme=999999") == []
    item = api.get("/api/v1/assignments?overdue=true").json()["items"][0]
    assert item["days_overdue"] == 3 and item["programme"]["name"] == programme.name
    assert item["course_version"]["title"] == "Recognising phishing" and item["reason"] == "initial"
    assert api.get("/api/v1/assignments?status=lost").status_code == 422
    assert api.get("/api/v1/assignments?limit=0").status_code == 422
    assert api.get("/api/v1/assignments?overdue=maybe").status_code == 422

    for n in range(10, 40):
        person(n)
    run_assignments(timezone.now() + timedelta(hours=1))
    # The token (and its use), the page, the change stamp (2), the count.
    with django_assert_max_num_queries(6):
        page = api.get("/api/v1/assignments?limit=25&offset=25").json()
    assert page["count"] == 34 and len(page["items"]) == 9
