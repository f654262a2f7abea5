"""Reminders, escalation to managers, consequences and incentives: each once, with a
controlled clock, received by a real SMTP server and read as a person would."""

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from bastion.audit.models import AuditEntry
from bastion.awareness import followup
from bastion.awareness.actions import install_starter_curriculum
from bastion.awareness.models import (
    Assignment,
    AssignmentEvent,
    AssignmentReason,
    AssignmentStatus,
    EventKind,
    Programme,
)
from bastion.people.models import Person, PersonStatus

DUE = date(2026, 12, 1)


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.get_current_timezone())


@pytest.fixture
def course(db):
    return install_starter_curriculum()[0]


@pytest.fixture
def programme(course):
    return Programme.objects.create(name="Yearly security basics", course=course, reminder_days=[-7, 0, 3],
                                    escalate_after_days=7, consequence_after_days=30,
                                    consequence_notify="hr@example.com", incentive_points=10,
                                    incentive_recognition=True, incentive_prize_draw=True)


_n = iter(range(1, 10_000))


def person(first: str, last: str, manager: Person | None = None, **fields) -> Person:
    n = next(_n)
    return Person.objects.create(employee_id=f"F{n:05d}", email=f"{first.lower()}.{last.lower()}@example.com",
                                 first_name=first, last_name=last, manager=manager, department="Sales", **fields)


def assign(programme: Programme, who: Person, due_on: date = DUE, **fields) -> Assignment:
    version = programme.course.latest_published()
    assert version is not None
    return Assignment.objects.create(person=who, programme=programme, version=version,
                                     reason=AssignmentReason.INITIAL, cycle_key="initial", due_on=due_on,
                                     assigned_at=at(due_on - timedelta(days=30)), **fields)


def run(now: datetime, capture, run_tasks) -> followup.FollowupResult:
    with capture(execute=True):
        result = followup.run_followup(now)
    run_tasks()
    return result


@pytest.mark.parametrize(("today", "stage"), [
    (date(2026, 11, 23), None), (date(2026, 11, 24), -7), (date(2026, 11, 30), -7), (DUE, 0),
    (date(2026, 12, 3), 0), (date(2026, 12, 4), 3), (date(2027, 3, 1), 3),
])
def test_reminder_stage(today, stage):
    assert followup.reminder_stage(DUE, today, [-7, 0, 3]) == stage


def test_reminders_before_on_and_after_the_due_date_each_once(
        programme, smtp_server, run_tasks, django_capture_on_commit_callbacks, client):
    capture = django_capture_on_commit_callbacks
    ann = person("Ann", "Archer")
    done = person("Dan", "Done")
    assign(programme, ann)
    assign(programme, done, status=AssignmentStatus.COMPLETED, completed_at=at(date(2026, 11, 20)), on_time=True)

    assert run(at(date(2026, 11, 23)), capture, run_tasks).reminders == 0
    assert run(at(date(2026, 11, 24)), capture, run_tasks).reminders == 1
    assert run(at(date(2026, 11, 25)), capture, run_tasks).reminders == 0
    assert run(at(DUE), capture, run_tasks).reminders == 1
    assert run(at(DUE, 15), capture, run_tasks).reminders == 0
    assert run(at(date(2026, 12, 4)), capture, run_tasks).reminders == 1
    assert run(at(date(2026, 12, 20)), capture, run_tasks).reminders == 0

    reminders = [m for m in smtp_server.messages if m["To"] == ann.email]
    assert [m["Subject"].strip() for m in reminders] == [
        "Reminder: Acceptable use of company machines is due on 1 December",
        "Due today: Acceptable use of company machines",
        "Overdue: Acceptable use of company machines (3 days late)",
    ]
    body = reminders[0].get_body(("plain",)).get_content()
    assert "Hello Ann," in body and "due on 1 December 2026, in 7 days" in body
    link = body.split("/training/t/", 1)[1].split()[0]
    assert client.get(f"/training/t/{link}").status_code in (200, 302)
    # Who has completed is not reminded (they are thanked for being on time instead).
    assert [m["Subject"].strip() for m in smtp_server.messages if m["To"] == done.email] == [
        "Thank you: Acceptable use of company machines completed on time"]
    assert sorted(AssignmentEvent.objects.filter(kind=EventKind.REMINDER).values_list("stage", flat=True)) == [
        "+0", "+3", "-7"]
    assert AuditEntry.objects.filter(action="awareness.reminded").count() == 3


def test_no_reminder_in_the_first_day_of_an_assignment(programme):
    new = assign(programme, person("Nia", "New"), due_on=date(2026, 12, 3))
    Assignment.objects.filter(pk=new.pk).update(assigned_at=at(DUE, 8))
    assert followup.run_followup(at(DUE, 12)).reminders == 0
    assert followup.run_followup(at(date(2026, 12, 2), 9)).reminders == 1


def test_managers_get_one_email_listing_their_overdue_people(
        programme, smtp_server, run_tasks, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    mona = person("Mona", "Manager")
    for first, last in (("Ann", "Archer"), ("Bob", "Baker")):
        assign(programme, person(first, last, manager=mona))
    assign(programme, person("Cat", "Onschedule", manager=mona), due_on=date(2026, 12, 20))
    assign(programme, person("Ole", "Orphan"))  # no manager: nobody to escalate to
    assert run(at(date(2026, 12, 7)), capture, run_tasks).escalated == 0  # 6 days late
    result = run(at(date(2026, 12, 8)), capture, run_tasks)
    assert (result.escalated, result.managers_emailed) == (2, 1)
    assert run(at(date(2026, 12, 9)), capture, run_tasks).escalated == 0
    to_mona = [m for m in smtp_server.messages if m["To"] == mona.email]
    assert len(to_mona) == 1 and to_mona[0]["Subject"].strip() == "2 of your people are late with security training"
    body = to_mona[0].get_body(("plain",)).get_content()
    assert "- Ann Archer: Acceptable use of company machines, due 1 December 2026 (7 days late)" in body
    assert "Bob Baker" in body and "Cat" not in body
    told = AuditEntry.objects.get(action="awareness.escalated").after["told"]
    assert told == {mona.email: ["Ann Archer", "Bob Baker"]}


def test_consequence_marks_non_compliant_tells_hr_once_and_can_be_waived_with_a_reason(
        programme, lead, smtp_server, run_tasks, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    late = assign(programme, person("Lee", "Late"))
    assert run(at(date(2026, 12, 30)), capture, run_tasks).consequences == 0  # 29 days
    assert run(at(date(2026, 12, 31)), capture, run_tasks).consequences == 1
    assert run(at(date(2027, 1, 5)), capture, run_tasks).consequences == 0
    to_hr = [m for m in smtp_server.messages if m["To"] == "hr@example.com"]
    assert len(to_hr) == 1
    assert to_hr[0]["Subject"].strip() == "Security training: 1 person marked non-compliant (Yearly security basics)"
    assert "Lee Late <lee.late@example.com>, Sales" in to_hr[0].get_body(("plain",)).get_content()
    event = AssignmentEvent.objects.get(assignment=late, kind=EventKind.CONSEQUENCE)
    assert event.detail["action"] == "Marked non-compliant" and event.detail["days_overdue"] == 30
    assert AuditEntry.objects.get(action="awareness.consequence_applied").after["people"] == ["lee.late@example.com"]

    with pytest.raises(followup.WaiverError, match="Say why"):
        followup.do_waive(acting_user=lead, event=event, reason="ok")
    followup.do_waive(acting_user=lead, event=event, reason="On long-term sick leave since November.")
    event.refresh_from_db()
    assert event.waived_by == lead and event.waive_reason.startswith("On long-term sick leave")
    with pytest.raises(followup.WaiverError, match="already waived"):
        followup.do_waive(acting_user=lead, event=event, reason="Again, with feeling this time.")
    reminder = AssignmentEvent.objects.filter(kind=EventKind.REMINDER).first()
    with pytest.raises(followup.WaiverError, match="Only a consequence"):
        followup.do_waive(acting_user=lead, event=reminder, reason="Not a consequence at all.")
    assert AuditEntry.objects.filter(action="awareness.consequence_waived").count() == 1


def test_on_time_completion_earns_points_a_thank_you_and_a_draw_entry_once(
        programme, smtp_server, run_tasks, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    keen = person("Kim", "Keen")
    on_the_day = assign(programme, keen)
    on_the_day.complete(score=90, now=at(DUE, 23))
    on_the_day.save()
    late = assign(programme, person("Leo", "Later"))
    late.complete(score=100, now=at(date(2026, 12, 2), 0))
    late.save()
    assert (on_the_day.on_time, late.on_time) == (True, False)
    assert run(at(date(2026, 12, 3)), capture, run_tasks).incentives == 1
    assert run(at(date(2026, 12, 4)), capture, run_tasks).incentives == 0
    thanks = [m for m in smtp_server.messages if m["Subject"].strip().startswith("Thank you")]
    assert [m["To"] for m in thanks] == [keen.email]
    body = thanks[0].get_body(("plain",)).get_content()
    assert "You earned 10 points; you have 10 in all." in body and "prize draw" in body
    assert followup.points_by_person([keen.pk]) == {keen.pk: 10}
    event = AssignmentEvent.objects.get(kind=EventKind.INCENTIVE)
    assert event.detail == {"recognition": True, "prize_draw": True}
    assert AuditEntry.objects.get(action="awareness.incentive_awarded").after["people"] == [keen.email]


def test_leavers_and_inactive_programmes_get_nothing(programme):
    assign(programme, person("Gus", "Gone", status=PersonStatus.LEAVER))
    paused = Programme.objects.create(name="Paused", course=programme.course, active=False)
    assign(paused, person("Pat", "Paused"))
    result = followup.run_followup(at(date(2027, 2, 1)))
    assert (result.reminders, result.escalated, result.consequences) == (0, 0, 0)


def test_a_run_is_a_few_queries_per_programme_whatever_the_number_of_people(
        programme, django_assert_max_num_queries, settings):
    settings.BASTION_EMAIL_URL = ""  # held in the outbox: the queries are ours, not the sending's
    mona = person("Mona", "Manager")
    for i in range(30):
        assign(programme, person(f"P{i}", "Late", manager=mona), due_on=date(2026, 11, 1))
    # 30 reminders + 30 escalations + 30 consequences: the per-message outbox inserts and the
    # audit entries are all that grow with the people.
    with django_assert_max_num_queries(30 * 2 + 45):
        result = followup.run_followup(at(date(2026, 12, 8)))
    assert (result.reminders, result.escalated, result.consequences) == (30, 30, 30)


def test_follow_up_is_an_hourly_job():
    from bastion.jobs.periodic import discover_jobs

    assert discover_jobs()["bastion.awareness.tasks.follow_up_training"].every == timedelta(hours=1)
