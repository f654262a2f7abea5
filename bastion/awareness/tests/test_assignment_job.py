"""The periodic assignment run, with a controlled clock: on hire, initial, yearly, leavers, changes
of department and of frequency, idempotence, and the "new training" email through a real SMTP
server."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.awareness import programme_actions
from bastion.awareness.actions import install_starter_curriculum
from bastion.awareness.engine import run_assignments
from bastion.awareness.models import (
    Assignment,
    AssignmentEvent,
    AssignmentStatus,
    Course,
    Programme,
    ProgrammeChange,
)
from bastion.jobs.periodic import discover_jobs
from bastion.lib import emails
from bastion.outbox.models import MessageStatus, OutboxMessage
from bastion.people.models import Group, GroupKind, Person, PersonStatus

START = date(2026, 3, 1)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def add_person(n: int, *, hired: date | None = date(2020, 1, 6), department: str = "Sales", **fields) -> Person:
    return Person.objects.create(employee_id=f"E{n}", email=f"person{n}@example.com", first_name=f"Pat{n}",
                                 last_name="Example", department=department, hire_date=hired, **fields)


@pytest.fixture
def phishing_course(db) -> Course:
    install_starter_curriculum()
    return Course.objects.get(slug="recognising-phishing")


@pytest.fixture
def programme(phishing_course) -> Programme:
    return Programme.objects.create(name="Everyone: phishing", course=phishing_course, starts_on=START,
                                    hire_due_days=14, due_days=30, recurring_months=12)


def complete(assignment: Assignment, when: datetime) -> None:
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.COMPLETED, completed_at=when,
                                                       score=100)


def current(person: Person, programme: Programme) -> Assignment:
    return Assignment.objects.get(person=person, programme=programme, current=True)


def test_the_job_is_registered_to_run_hourly():
    job = discover_jobs()["bastion.awareness.tasks.run_assignments"]
    assert job.every == timedelta(hours=1)


def test_new_hire_is_due_n_days_after_hire_date_and_earlier_staff_get_an_initial_assignment(programme):
    veteran = add_person(1, hired=date(2019, 5, 1))
    newcomer = add_person(2, hired=date(2026, 3, 2))
    future = add_person(3, hired=date(2026, 3, 10))  # in the HR file before their first day
    no_date = add_person(4, hired=None)

    result = run_assignments(NOW)

    assert result.created == 3
    assert (current(newcomer, programme).reason, current(newcomer, programme).due_on) == ("hire", date(2026, 3, 16))
    assert (current(veteran, programme).reason, current(veteran, programme).due_on) == ("initial", date(2026, 4, 1))
    assert current(no_date, programme).reason == "initial"
    assert not Assignment.objects.filter(person=future).exists()
    # Their first day: assigned on hire, due 14 days later.
    run_assignments(at(date(2026, 3, 10)))
    assert (current(future, programme).reason, current(future, programme).due_on) == ("hire", date(2026, 3, 24))
    # The version assigned is the course's published one.
    assert current(future, programme).version == programme.course.latest_published()


def test_running_again_assigns_and_emails_nothing_twice(programme):
    for n in range(5):
        add_person(n)
    first = run_assignments(NOW)
    again = run_assignments(NOW + timedelta(minutes=1))
    later = run_assignments(NOW + timedelta(days=3))
    assert (first.created, first.emailed) == (5, 5)
    assert (again.created, again.emailed, later.created, later.emailed) == (0, 0, 0, 0)
    assert Assignment.objects.count() == 5
    assert OutboxMessage.objects.filter(template="training_assigned").count() == 5
    assert AssignmentEvent.objects.filter(kind="assigned", stage="email").count() == 5
    entry = AuditEntry.objects.get(action="awareness.assigned")  # one: the runs after it assigned nothing
    assert entry.after == {"version": 1, "created": {"initial": 5}, "emailed": 5}


def test_yearly_refresher_is_due_exactly_twelve_months_after_completion(programme):
    person = add_person(1)
    run_assignments(NOW)
    first = current(person, programme)
    complete(first, at(date(2026, 3, 20), 15))

    # Assigned due_days (30) ahead of 20 March 2027: not on 17 February, on 18 February.
    assert run_assignments(at(date(2027, 2, 17))).created == 0
    assert run_assignments(at(date(2027, 2, 18))).created == 1
    refresher = current(person, programme)
    assert (refresher.reason, refresher.due_on, refresher.cycle_key) == ("recurring", date(2027, 3, 20),
                                                                        "recurring:2027-03-20")
    first.refresh_from_db()
    assert not first.current and first.status == AssignmentStatus.COMPLETED
    assert run_assignments(at(date(2027, 2, 19))).created == 0


def test_a_once_only_programme_does_not_come_back(programme):
    Programme.objects.filter(pk=programme.pk).update(recurring_months=None)
    person = add_person(1)
    run_assignments(NOW)
    complete(current(person, programme), NOW + timedelta(days=1))
    assert run_assignments(NOW + timedelta(days=800)).created == 0


def test_leavers_open_assignments_are_cancelled_and_they_get_nothing_new(programme):
    staying, leaving = add_person(1), add_person(2)
    run_assignments(NOW)
    Person.objects.filter(pk=leaving.pk).update(status=PersonStatus.LEAVER, leave_date=date(2026, 3, 5))
    add_person(3, status=PersonStatus.LEAVER)  # left before anything was assigned

    result = run_assignments(NOW + timedelta(days=5))

    assert result.cancelled == 1 and result.created == 0
    cancelled = Assignment.objects.get(person=leaving)
    assert cancelled.status == AssignmentStatus.CANCELLED and cancelled.cancelled_reason == "Left the organisation"
    assert cancelled.events.filter(kind="cancelled", stage="leaver").exists()
    assert AuditEntry.objects.get(action="awareness.leavers_cancelled").after["cancelled"] == 1
    assert current(staying, programme).status == AssignmentStatus.ASSIGNED
    assert not Assignment.objects.filter(person__employee_id="E3").exists()
    # Nothing more on the next runs; back in the directory, they are assigned afresh.
    assert run_assignments(NOW + timedelta(days=6)).cancelled == 0
    Person.objects.filter(pk=leaving.pk).update(status=PersonStatus.ACTIVE, leave_date=None)
    assert run_assignments(NOW + timedelta(days=60)).created == 1
    assert current(leaving, programme).cycle_key == "initial:2026-05-01"


def test_a_change_of_department_assigns_again_when_the_programme_says_so(programme):
    person = add_person(1, department="Sales")
    run_assignments(NOW)
    complete(current(person, programme), NOW + timedelta(days=2))
    Person.objects.filter(pk=person.pk).update(department="Finance")

    assert run_assignments(NOW + timedelta(days=10)).created == 0  # on_change is off
    Programme.objects.filter(pk=programme.pk).update(on_change=True)
    assert run_assignments(NOW + timedelta(days=11)).created == 1
    change = current(person, programme)
    assert (change.reason, change.department, change.due_on) == ("change", "Finance", date(2026, 4, 12))
    complete(change, NOW + timedelta(days=12))
    assert run_assignments(NOW + timedelta(days=13)).created == 0


def test_a_changed_frequency_is_recorded_with_its_reason_and_takes_effect(programme, make_user):
    lead = make_user(Role.SECURITY_LEAD)
    person = add_person(1)
    run_assignments(NOW)
    complete(current(person, programme), at(date(2026, 3, 10)))

    fields = {name: getattr(programme, name) for name in ("name", "course", "audience", "active", "starts_on",
              "on_hire", "hire_due_days", "recurring_months", "on_change", "remedial", "due_days",
              "reminder_days", "escalate_after_days", "consequence_after_days", "consequence_notify",
              "incentive_points", "incentive_recognition", "incentive_prize_draw")}
    fields["recurring_months"] = 6
    with pytest.raises(ValueError, match="Say why"):
        programme_actions.do_update_programme(acting_user=lead, programme=programme, fields=fields)
    programme_actions.do_update_programme(acting_user=lead, programme=programme, fields=fields,
                                          reason="Phishing clicks rose in Q1; twice a year from now")
    change = ProgrammeChange.objects.get()
    assert (change.field, change.before, change.after, change.changed_by) == ("recurring_months", 12, 6, lead)
    assert change.reason.startswith("Phishing clicks rose")

    # Six months after the completion, assigned 30 days ahead.
    assert run_assignments(at(date(2026, 8, 10))).created == 0
    assert run_assignments(at(date(2026, 8, 11))).created == 1
    assert current(person, programme).due_on == date(2026, 9, 10)


def test_a_shortened_frequency_never_makes_an_assignment_overdue_on_the_day_it_is_made(programme):
    person = add_person(1)
    run_assignments(NOW)
    complete(current(person, programme), at(date(2026, 3, 10)))
    Programme.objects.filter(pk=programme.pk).update(recurring_months=3)
    run_assignments(at(date(2026, 8, 1)))  # the rule's date, 10 June, has passed
    refresher = current(person, programme)
    assert refresher.cycle_key == "recurring:2026-06-10" and refresher.due_on == date(2026, 8, 31)


def test_audience_group_and_nobody_matching(programme):
    add_person(1, department="Sales")
    group = Group.objects.create(name="Finance", kind=GroupKind.RULE,
                                 rules=[{"field": "department", "op": "is", "value": "Finance"}])
    Programme.objects.filter(pk=programme.pk).update(audience=group)
    result = run_assignments(NOW)
    assert result.created == 0
    assert result.programmes[0].problem == "Its audience matches nobody active in the directory: nobody is assigned."
    add_person(2, department="finance")
    assert run_assignments(NOW + timedelta(hours=1)).created == 1


def test_programme_not_started_paused_or_without_published_course_assigns_nobody(programme, phishing_course):
    add_person(1)
    Programme.objects.filter(pk=programme.pk).update(starts_on=date(2026, 4, 1))
    assert run_assignments(NOW).programmes[0].problem.startswith("It starts on 01 Apr 2026")
    Programme.objects.filter(pk=programme.pk).update(starts_on=START, active=False)
    assert run_assignments(NOW).programmes == []
    Programme.objects.filter(pk=programme.pk).update(active=True)
    phishing_course.versions.update(status="draft")
    result = run_assignments(NOW)
    assert result.created == 0 and "no published version" in result.programmes[0].problem
    assert not Assignment.objects.exists()


def test_remedial_programme_is_not_assigned_to_everyone(programme):
    Programme.objects.filter(pk=programme.pk).update(remedial=True, on_hire=False, recurring_months=None)
    add_person(1)
    assert run_assignments(NOW).created == 0


def test_the_run_costs_the_same_few_queries_whatever_the_number_of_people(programme, django_assert_max_num_queries):
    for n in range(300):
        add_person(n)
    with django_assert_max_num_queries(40):
        result = run_assignments(NOW)
    assert result.created == 300 and result.emailed == 300


# --- the email ----------------------------------------------------------------------------

def _link(message) -> str:
    body = message.get_body(("plain",)).get_content()
    found = re.search(r"https?://\S+/training/\S+", body)
    assert found, body
    return "/" + found.group(0).split("/", 3)[3]


def test_new_assignments_are_emailed_once_through_a_real_smtp_server(
        programme, smtp_server, run_tasks, client, django_capture_on_commit_callbacks):
    newcomer = add_person(1, hired=date(2026, 3, 2))
    with django_capture_on_commit_callbacks(execute=True):
        run_assignments(NOW)
    run_tasks()
    with django_capture_on_commit_callbacks(execute=True):
        run_assignments(NOW + timedelta(hours=1))
    run_tasks()

    assert [m["To"] for m in smtp_server.messages] == [newcomer.email]
    message = smtp_server.messages[0]
    assert message["Subject"].strip() == "You have new security training: Recognising phishing, due 16 March 2026"
    body = message.get_body(("plain",)).get_content()
    assert "Hello Pat1," in body and "Please finish it by 16 March 2026" in body
    assert AssignmentEvent.objects.get(kind="assigned", stage="email").assignment == current(newcomer, programme)
    # The link in it opens the learner's training (whatever the /training/ pages show, not an error).
    response = client.get(_link(message))
    assert response.status_code < 500


def test_a_large_batch_is_left_to_the_outbox_sweep(programme, smtp_server, run_tasks, monkeypatch,
                                                   django_capture_on_commit_callbacks):
    from bastion.outbox.tasks import send_due_messages

    monkeypatch.setattr(emails, "PROMPT_SEND_LIMIT", 2)
    for n in range(3):
        add_person(n)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert run_assignments(NOW).emailed == 3
    assert callbacks == []  # no task per message
    assert OutboxMessage.objects.filter(status=MessageStatus.QUEUED).count() == 3
    OutboxMessage.objects.update(created_at=OutboxMessage.objects.first().created_at - timedelta(minutes=2))
    assert send_due_messages.call()["sent"] == 3
    assert sorted(m["To"] for m in smtp_server.messages) == [f"person{n}@example.com" for n in range(3)]


def test_without_a_mail_server_the_emails_are_held_not_lost(programme, settings):
    settings.BASTION_EMAIL_URL = ""
    add_person(1)
    run_assignments(NOW)
    assert OutboxMessage.objects.get(template="training_assigned").status == MessageStatus.HELD


# --- remedial -----------------------------------------------------------------------------

@pytest.fixture
def remedial(phishing_course) -> Programme:
    return Programme.objects.create(name="Phishing refresher", course=phishing_course, remedial=True,
                                    on_hire=False, recurring_months=None, due_days=14, starts_on=START)


def test_remedial_assignment_is_idempotent_per_source_and_emailed(remedial, smtp_server, run_tasks,
                                                                  django_capture_on_commit_callbacks):
    person = add_person(1)
    with django_capture_on_commit_callbacks(execute=True):
        first = programme_actions.assign_remedial(person, remedial, "phishing:result-1", now=NOW)
    run_tasks()
    assert first is not None and first.reason == "remedial" and first.cycle_key == "remedial:phishing:result-1"
    assert first.due_on == date(2026, 3, 16)
    assert programme_actions.assign_remedial(person, remedial, "phishing:result-1", now=NOW) == first
    # Another failure while this one is open: nothing new.
    assert programme_actions.assign_remedial(person, remedial, "phishing:result-2", now=NOW) is None
    complete(first, NOW + timedelta(days=2))
    second = programme_actions.assign_remedial(person, remedial, "phishing:result-3", now=NOW + timedelta(days=40))
    assert second is not None and second.current and not Assignment.objects.get(pk=first.pk).current
    assert [m["Subject"].strip() for m in smtp_server.messages] == [
        "You have new security training: Recognising phishing, due 16 March 2026"]
    assert AuditEntry.objects.filter(action="awareness.remedial_assigned").count() == 2
    # The periodic run leaves remedial assignments alone.
    assert run_assignments(NOW + timedelta(days=41)).created == 0


def test_remedial_refuses_other_programmes_and_leavers(remedial, programme):
    person = add_person(1)
    with pytest.raises(ValueError, match="is not a remedial programme"):
        programme_actions.assign_remedial(person, programme, "phishing:result-1")
    leaver = add_person(2, status=PersonStatus.LEAVER)
    with pytest.raises(ValueError, match="has left the organisation"):
        programme_actions.assign_remedial(leaver, remedial, "phishing:result-1")
    with pytest.raises(ValueError, match="source key"):
        programme_actions.assign_remedial(person, remedial, "  ")
    assert not Assignment.objects.exists()
