"""Progress as management sees it: figures by department, programme and manager, the people
behind them, one person's record, CSV; a manager sees only their own people."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.awareness import progress
from bastion.awareness.models import (
    Assignment,
    AssignmentEvent,
    AssignmentReason,
    EventKind,
    Programme,
)
from bastion.people.models import Person, PersonStatus
from conftest import ALL_ROLES

from .conftest import person


def test_figures_by_department_worked_out(org):
    rows = {r.label: r for r in progress.grouped(Assignment.objects.all(), "department")}
    sales, finance = rows["Sales"], rows["Finance"]
    assert (sales.assigned, sales.completed, sales.on_time, sales.overdue) == (4, 2, 1, 1)
    assert sales.completion == 50.0 and sales.on_time_rate == 50.0 and sales.average_score == 80.0
    assert (finance.assigned, finance.in_progress, finance.completed, finance.on_time_rate) == (1, 1, 0, None)
    total = progress.totals(Assignment.objects.all())
    assert (total.assigned, total.completed, total.overdue, total.not_started) == (5, 2, 1, 2)


def test_progress_page_shows_the_figures_and_the_chart(client_for, lead, org):
    page = client_for(lead).get("/awareness/progress/?by=department").content.decode()
    assert "40%</span> completed (2 of 5)" in page and "50%</span> on time" in page
    assert '<td data-label="Department"><a href="/awareness/progress/people/?department=Sales">Sales</a></td>' in page
    assert "<svg" in page and "Completion by department" in page
    page = client_for(lead).get("/awareness/progress/?by=manager").content.decode()
    assert "Mona Manager" in page and "No manager" in page


def test_progress_csv(client_for, lead, org):
    response = client_for(lead).get("/awareness/progress/?by=department&format=csv")
    lines = response.content.decode().splitlines()
    assert response["Content-Type"].startswith("text/csv")
    assert lines[0].startswith("department,assigned,completed")
    assert "Sales,4,2,50.0,50.0,1,0,0,80.0" in lines


def test_people_list_filters_and_csv(client_for, lead, org):
    client = client_for(lead)
    page = client.get("/awareness/progress/people/?status=overdue").content.decode()
    assert "1 assignment match" in page and "Cat Overdue" in page and "40 days late" in page
    page = client.get("/awareness/progress/people/?status=non_compliant").content.decode()
    assert "Cat Overdue" in page and "Ann Ontime" not in page
    page = client.get("/awareness/progress/people/?department=Finance").content.decode()
    assert "Eve Finance" in page and "Ann Ontime" not in page
    csv_text = client.get("/awareness/progress/people/?format=csv&status=completed").content.decode()
    assert csv_text.count("\n") == 3 and ",yes,90," in csv_text and ",no,70," in csv_text
    for bad in ("?page=abc", "?programme=abc", "?status=nonsense", "?by=nonsense", "?q=%00x"[:5]):
        assert client.get(f"/awareness/progress/people/{bad}").status_code == 200


def test_a_manager_sees_only_their_people(client_for, make_user, org):
    mona = make_user(Role.MANAGER, email="mona.user@example.com", person=org["mona"])
    page = client_for(mona).get("/awareness/progress/people/").content.decode()
    assert "4 assignments match" in page and "Eve Finance" not in page
    page = client_for(mona).get("/awareness/progress/").content.decode()
    assert "your people" in page and "(2 of 4)" in page
    assert client_for(mona).get(f"/awareness/people/{org['Ann'].pk}/").status_code == 200
    assert client_for(mona).get(f"/awareness/people/{org['Eve'].pk}/").status_code == 404
    # A manager without a directory record sees nothing.
    assert client_for(make_user(Role.MANAGER)).get("/awareness/progress/").status_code == 403


def test_person_record_shows_events_and_the_lead_waives_with_a_reason(client_for, lead, org):
    cat = org["Cat"]
    client = client_for(lead)
    page = client.get(f"/awareness/people/{cat.pk}/").content.decode()
    assert "Marked non-compliant after 40 days overdue" in page and "Reason to waive" in page
    event = AssignmentEvent.objects.get(kind=EventKind.CONSEQUENCE)
    response = client.post(f"/awareness/events/{event.pk}/waive/", {"reason": "short"}, follow=True)
    assert "Say why the consequence is waived" in response.content.decode()
    response = client.post(f"/awareness/events/{event.pk}/waive/", {"reason": "Parental leave until March."},
                           follow=True)
    page = response.content.decode()
    assert "Consequence waived" in page and "Parental leave until March." in page


@pytest.mark.parametrize("role", ALL_ROLES + [None])
def test_progress_roles(client_for, make_user, org, role):
    user = make_user(role) if role else None
    client = client_for(user)
    overview = client.get("/awareness/progress/")
    record = client.get(f"/awareness/people/{org['Ann'].pk}/")
    event = AssignmentEvent.objects.get(kind=EventKind.CONSEQUENCE)
    waive = client.post(f"/awareness/events/{event.pk}/waive/", {"reason": "A long enough reason."})
    event.refresh_from_db()
    if role is None:
        assert overview.status_code == 302 and "/login" in overview["Location"]
        assert event.waived_at is None
    elif role in (Role.SECURITY_LEAD, Role.SECURITY_TEAM):
        assert overview.status_code == 200 and record.status_code == 200 and event.waived_at is not None
    elif role in (Role.AUDITOR, Role.EXECUTIVE):
        assert overview.status_code == 200 and record.status_code == 200
        assert waive.status_code == 403 and event.waived_at is None
    else:  # employees, business leaders, and managers without a directory record
        assert overview.status_code == 403 and record.status_code == 403
        assert waive.status_code == 403 and event.waived_at is None


def test_progress_pages_query_count_does_not_grow(client_for, lead, org, django_assert_max_num_queries):
    client = client_for(lead)
    for url in ("/awareness/progress/?by=department", "/awareness/progress/?by=manager",
                "/awareness/progress/people/"):
        with django_assert_max_num_queries(12):
            assert client.get(url).status_code == 200
    date.today()


@pytest.mark.parametrize("role", ALL_ROLES)
def test_the_person_page_links_to_their_training_for_those_who_may_see_it(client_for, make_user, org, role):
    user = make_user(role, person=org["mona"]) if role == Role.MANAGER else make_user(role)
    response = client_for(user).get(f"/people/{org['Ann'].pk}/")
    link = f'href="/awareness/people/{org["Ann"].pk}/"' in response.content.decode()
    if response.status_code == 200:
        assert link == (role in (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR, Role.EXECUTIVE,
                                 Role.MANAGER))
    else:
        assert not link


def test_odd_numbers_in_the_query_are_not_errors(client_for, api_for, lead, org):
    client, api = client_for(lead), api_for(lead)
    for bad in ("²", "99999999999999999999999", "-1", "1e3"):
        assert client.get("/awareness/progress/", {"programme": bad}).status_code == 200
        assert client.get("/awareness/progress/people/", {"programme": bad}).status_code == 200
        response = api.get("/api/v1/assignments", {"person": bad})
        assert response.status_code == 200 and response.json()["count"] == 0
    assert api.get("/api/v1/assignments", {"programme": "99999999999999999999"}).status_code == 422


def test_a_manager_is_offered_only_their_peoples_programmes(client_for, make_user, org):
    other = Programme.objects.create(name="Finance controls", course=org["programme"].course)
    mona = make_user(Role.MANAGER, email="mona.user@example.com", person=org["mona"])
    page = client_for(mona).get("/awareness/progress/").content.decode()
    assert ">Basics</option>" in page and other.name not in page


def test_cached_figures_stay_live(client_for, lead, org, django_assert_max_num_queries):
    client = client_for(lead)
    assert "40%</span> completed (2 of 5)" in client.get("/awareness/progress/?by=department").content.decode()
    # Seen again unchanged: the figures come from the cache (the two change stamps, no count).
    with django_assert_max_num_queries(8) as seen:
        page = client.get("/awareness/progress/?by=department").content.decode()
    assert "40%</span> completed (2 of 5)" in page
    assert not any("COUNT(" in q["sql"] for q in seen.captured_queries)
    # Dan completes his course: the next view counts again.
    dan = Assignment.objects.get(person=org["Dan"])
    dan.complete(score=100, now=timezone.now())
    dan.save()
    page = client.get("/awareness/progress/?by=department").content.decode()
    assert "60%</span> completed (3 of 5)" in page
    page = client.get("/awareness/progress/people/?status=completed").content.decode()
    assert "3 assignments match" in page
    # So does a change in the directory: Dan leaves, and no longer counts.
    Person.objects.filter(pk=org["Dan"].pk).update(status=PersonStatus.LEAVER, updated_at=timezone.now())
    assert "50%</span> completed (2 of 4)" in client.get("/awareness/progress/?by=department").content.decode()
    assert "2 assignments match" in client.get("/awareness/progress/people/?status=completed").content.decode()


def test_a_renamed_programme_shows_its_new_name_at_once(client_for, lead, org):
    client = client_for(lead)
    assert ">Basics</a>" in client.get("/awareness/progress/?by=programme").content.decode()
    Programme.objects.filter(pk=org["programme"].pk).update(name="Security basics")
    assert ">Security basics</a>" in client.get("/awareness/progress/?by=programme").content.decode()


def test_group_rows_are_paged_the_chart_shows_the_top_and_the_csv_has_all(client_for, lead, org,
                                                                         django_assert_max_num_queries):
    programme, version = org["programme"], org["programme"].course.latest_published()
    today = timezone.localdate()
    for n in range(60):
        boss = person(f"Boss{n:02d}", "Manager", department="Ops")
        report = person(f"Rep{n:02d}", "Report", department="Ops", manager=boss)
        Assignment.objects.create(person=report, programme=programme, version=version,
                                  reason=AssignmentReason.INITIAL, cycle_key="initial",
                                  due_on=today - timedelta(days=n + 1))
    client = client_for(lead)
    # 60 new managers, Mona, and "No manager": 62 rows.
    page = client.get("/awareness/progress/?by=manager").content.decode()
    assert page.count('<td data-label="Manager">') == 50 and "Page 1 of 2 · 62 in all" in page
    assert page.count("<rect ") == 2 * 12
    with django_assert_max_num_queries(10):
        page = client.get("/awareness/progress/?by=manager&page=2").content.decode()
    assert page.count('<td data-label="Manager">') == 12 and "Page 2 of 2" in page
    assert 'href="?by=manager&amp;page=1" rel="prev"' in page
    lines = client.get("/awareness/progress/?by=manager&format=csv").content.decode().splitlines()
    assert len(lines) == 1 + 62


def test_a_manager_sees_three_levels_down_and_a_loop_does_not_hang(client_for, make_user, org):
    programme, version = org["programme"], org["programme"].course.latest_published()
    today = timezone.localdate()
    head = person("Hana", "Head", department="Ops")
    middle = person("Milo", "Middle", department="Ops", manager=head)
    lead_ = person("Lena", "Lead", department="Ops", manager=middle)
    worker = person("Walt", "Worker", department="Ops", manager=lead_)
    for who in (middle, lead_, worker):
        Assignment.objects.create(person=who, programme=programme, version=version,
                                  reason=AssignmentReason.INITIAL, cycle_key="initial",
                                  due_on=today - timedelta(days=3))
    hana = make_user(Role.MANAGER, email="hana.user@example.com", person=head)
    client = client_for(hana)
    page = client.get("/awareness/progress/people/").content.decode()
    assert "3 assignments match" in page
    assert all(name in page for name in ("Milo Middle", "Lena Lead", "Walt Worker"))
    assert "Ann Ontime" not in page and "Eve Finance" not in page
    assert "(0 of 3)" in client.get("/awareness/progress/?by=manager").content.decode()
    assert client.get(f"/awareness/people/{worker.pk}/").status_code == 200
    assert client.get(f"/awareness/people/{org['Ann'].pk}/").status_code == 404
    # The directory is wrong: the head reports to the worker. Hana's pages still answer, with her
    # own chain (and herself, now in it), nobody else.
    Person.objects.filter(pk=head.pk).update(manager=worker, updated_at=timezone.now())
    page = client.get("/awareness/progress/people/").content.decode()
    assert "3 assignments match" in page and "Ann Ontime" not in page
    assert client.get("/awareness/progress/").status_code == 200
    assert client.get(f"/awareness/people/{head.pk}/").status_code == 200
    assert client.get(f"/awareness/people/{org['Ann'].pk}/").status_code == 404
