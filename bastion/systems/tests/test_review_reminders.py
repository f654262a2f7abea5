"""Reminders: leaders who have not answered before the deadline, and the yearly review, each sent
once, through a real SMTP server."""

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.jobs.periodic import discover_jobs
from bastion.outbox.models import OutboxMessage
from bastion.systems import actions, reminders
from bastion.systems.models import CriticalityReview, ReviewReminder
from conftest import ALL_ROLES

from .helpers import add_system, answer_link

NOON = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.get_current_timezone())


@pytest.mark.parametrize(("days_left", "stage"), [
    (30, None), (8, None), (7, "7d"), (3, "7d"), (2, "7d"), (1, "1d"), (0, "1d"), (-1, None),
])
def test_reminder_stage_by_days_left(days_left, stage):
    today = date(2026, 11, 2)
    assert reminders.reminder_stage(today + timedelta(days=days_left), today) == stage


@pytest.fixture
def review(lead, leaders):
    """Opened three days before NOON, answers due a week after it."""
    systems = [add_system("ERP"), add_system("Wiki")]
    review = actions.do_create_review(acting_user=lead, title="2027 review", deadline=NOON.date() + timedelta(days=7),
                                      aggregation="mean", systems=systems, leaders=leaders)
    actions.do_open_review(acting_user=lead, review=review)
    CriticalityReview.objects.filter(pk=review.pk).update(opened_at=NOON - timedelta(days=3))
    return CriticalityReview.objects.get(pk=review.pk)


def _send(run_tasks, capture, now) -> int:
    with capture(execute=True):
        queued = reminders.send_answer_reminders(now)
    run_tasks()
    return queued


def test_leaders_who_have_not_submitted_are_reminded_once_per_stage(
        review, smtp_server, run_tasks, client, django_capture_on_commit_callbacks):
    cfo = review.invitations.get(person__email="cfo@example.com")
    coo = review.invitations.get(person__email="coo@example.com")
    actions.do_save_answers(invitation=cfo, answers={}, submit=True)  # the CFO has answered
    actions.do_save_answers(invitation=coo, answers={}, submit=False)  # the COO saved a draft

    assert _send(run_tasks, django_capture_on_commit_callbacks, NOON - timedelta(days=1)) == 0  # 8 days left
    assert _send(run_tasks, django_capture_on_commit_callbacks, NOON) == 1
    assert _send(run_tasks, django_capture_on_commit_callbacks, NOON + timedelta(hours=1)) == 0
    assert _send(run_tasks, django_capture_on_commit_callbacks, NOON + timedelta(days=2)) == 0  # still "7d"
    assert [m["To"] for m in smtp_server.messages] == ["coo@example.com"]
    message = smtp_server.messages[0]
    assert message["Subject"] == "Reminder: 2027 review (7 days left)"
    body = message.get_body(("plain",)).get_content()
    assert "You have saved a draft" in body and "9 November 2026, in 7 days" in body
    # The link in the reminder works: it opens the COO's answers.
    page = client.get(answer_link(message))
    assert page.status_code == 200 and "Oscar Operations" in page.content.decode()

    # The day before the deadline: the last reminder, once.
    assert _send(run_tasks, django_capture_on_commit_callbacks, NOON + timedelta(days=6)) == 1
    assert _send(run_tasks, django_capture_on_commit_callbacks, NOON + timedelta(days=6, hours=3)) == 0
    assert len(smtp_server.messages) == 2
    assert smtp_server.messages[1]["Subject"] == "Reminder: 2027 review (answers due tomorrow)"
    assert sorted(ReviewReminder.objects.values_list("stage", flat=True)) == ["1d", "7d"]
    # After the deadline, nothing more.
    assert _send(run_tasks, django_capture_on_commit_callbacks, NOON + timedelta(days=8)) == 0
    assert OutboxMessage.objects.filter(template="review_reminder").count() == 2


def test_no_reminder_just_after_opening_nor_for_closed_reviews(review, lead):
    CriticalityReview.objects.filter(pk=review.pk).update(opened_at=NOON - timedelta(hours=2))
    assert reminders.send_answer_reminders(NOON) == 0  # invited two hours ago: too soon
    assert reminders.send_answer_reminders(NOON + timedelta(days=1)) == 2
    review.refresh_from_db()
    actions.do_close_review(acting_user=lead, review=review)
    assert reminders.send_answer_reminders(NOON + timedelta(days=6)) == 0


def test_a_claimed_reminder_is_not_sent_again(review):
    invitation = review.invitations.select_related("person", "review").first()
    assert reminders.remind(invitation, "7d", now=NOON) == 1
    assert reminders.remind(invitation, "7d", now=NOON) == 0  # a second worker, or a retried job
    assert OutboxMessage.objects.filter(template="review_reminder").count() == 1


def test_lead_reminds_pending_leaders_from_the_review_page(client_for, lead, review, smtp_server, run_tasks,
                                                           django_capture_on_commit_callbacks):
    cfo = review.invitations.get(person__email="cfo@example.com")
    actions.do_save_answers(invitation=cfo, answers={}, submit=True)
    client = client_for(lead)
    page = client.get(f"/systems/reviews/{review.pk}/").content.decode()
    assert "Remind those who have not answered" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/systems/reviews/{review.pk}/remind/", follow=True)
    assert "Reminder sent to 1 leader(s) who have not answered." in response.content.decode()
    run_tasks()
    assert [m["To"] for m in smtp_server.messages] == ["coo@example.com"]
    # The same day, nobody is reminded twice.
    response = client.post(f"/systems/reviews/{review.pk}/remind/", follow=True)
    assert "Nobody to remind" in response.content.decode()
    assert OutboxMessage.objects.filter(template="review_reminder").count() == 1
    page = client.get(f"/systems/reviews/{review.pk}/").content.decode()
    assert timezone.localdate().strftime("%-d %b %Y") in page  # last reminded
    assert AuditEntry.objects.get(action="review.reminded").after == {"reminded": ["coo@example.com"]}


@pytest.mark.parametrize("role", ALL_ROLES + [None])
def test_only_review_runners_send_reminders(client_for, make_user, review, role):
    user = make_user(role) if role else None
    response = client_for(user).post(f"/systems/reviews/{review.pk}/remind/")
    reminded = ReviewReminder.objects.count()
    if role in (Role.SECURITY_LEAD, Role.SECURITY_TEAM):
        assert response.status_code == 302 and reminded == 2
    else:
        assert response.status_code in (302, 403, 404) and reminded == 0
        if role is None:
            assert "/login" in response["Location"]


def test_reminding_a_closed_review_is_refused(client_for, lead, review):
    actions.do_close_review(acting_user=lead, review=review)
    response = client_for(lead).post(f"/systems/reviews/{review.pk}/remind/", follow=True)
    assert "Only an open review has leaders to remind." in response.content.decode()
    assert not ReviewReminder.objects.exists()


# --- the yearly review ----------------------------------------------------------------------

@pytest.fixture
def closed_last_year(lead, leaders):
    review = actions.do_create_review(acting_user=lead, title="2026 review", deadline=NOON.date(),
                                      aggregation="mean", systems=[add_system("ERP")], leaders=leaders)
    actions.do_open_review(acting_user=lead, review=review)
    actions.do_close_review(acting_user=lead, review=review)
    CriticalityReview.objects.filter(pk=review.pk).update(closed_at=NOON - timedelta(days=340))
    return review


def _cycle(run_tasks, capture, now) -> int:
    with capture(execute=True):
        queued = reminders.send_cycle_reminders(now)
    run_tasks()
    return queued


def test_security_leads_hear_when_the_yearly_review_comes_due(
        closed_last_year, lead, make_user, smtp_server, run_tasks, django_capture_on_commit_callbacks):
    make_user(Role.SECURITY_LEAD, email="second.lead@example.com")
    make_user(Role.SECURITY_LEAD, email="gone.lead@example.com", is_active=False)
    make_user(Role.SECURITY_TEAM, email="team@example.com")
    due = (NOON - timedelta(days=340)).date().replace(year=NOON.year)  # a year after it closed
    capture = django_capture_on_commit_callbacks
    assert _cycle(run_tasks, capture, NOON - timedelta(days=6)) == 0  # 31 days before: not yet
    assert _cycle(run_tasks, capture, NOON) == 2
    assert _cycle(run_tasks, capture, NOON + timedelta(days=3)) == 0
    assert sorted(m["To"] for m in smtp_server.messages) == [lead.email, "second.lead@example.com"]
    assert smtp_server.messages[0]["Subject"] == f"The yearly criticality review is due on {due:%-d %B %Y}"
    body = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert "2026 review" in body and "/systems/reviews/new/" in body
    # When it is due, once more; then nothing.
    assert _cycle(run_tasks, capture, NOON + timedelta(days=25)) == 2
    assert _cycle(run_tasks, capture, NOON + timedelta(days=40)) == 0
    assert len(smtp_server.messages) == 4
    assert smtp_server.messages[-1]["Subject"] == "The yearly criticality review is due"


def test_no_yearly_reminder_once_the_next_review_is_under_way(closed_last_year, lead, leaders, client_for):
    page = client_for(lead).get("/systems/reviews/").content.decode()
    assert "The yearly review is due on" in page or "The yearly review is overdue" in page
    actions.do_create_review(acting_user=lead, title="2027 review", deadline=timezone.localdate(),
                             aggregation="mean", systems=[add_system("CRM")], leaders=leaders)
    assert reminders.send_cycle_reminders(NOON + timedelta(days=30)) == 0
    page = client_for(lead).get("/systems/reviews/").content.decode()
    assert "The yearly review is under way" in page and "2027 review" in page


def test_no_yearly_reminder_before_a_first_review(lead):
    assert reminders.review_cycle() is None
    assert reminders.send_cycle_reminders() == 0


def test_review_list_tells_when_the_next_review_is_due(closed_last_year, lead, client_for):
    CriticalityReview.objects.filter(pk=closed_last_year.pk).update(closed_at=timezone.now() - timedelta(days=100))
    page = client_for(lead).get("/systems/reviews/").content.decode()
    due = reminders.a_year_after(timezone.localdate(timezone.now() - timedelta(days=100)))
    assert f"Next yearly review due on {due:%-d %B %Y}" in page
    CriticalityReview.objects.filter(pk=closed_last_year.pk).update(closed_at=timezone.now() - timedelta(days=400))
    assert "The yearly review is overdue" in client_for(lead).get("/systems/reviews/").content.decode()


def test_a_year_after_29_february():
    assert reminders.a_year_after(date(2028, 2, 29)) == date(2029, 2, 28)
    assert reminders.a_year_after(date(2026, 3, 1)) == date(2027, 3, 1)


def test_reminder_jobs_are_periodic():
    jobs = discover_jobs()
    assert jobs["bastion.systems.tasks.send_review_reminders"].every == timedelta(hours=1)
    assert jobs["bastion.systems.tasks.send_review_cycle_reminders"].every == timedelta(hours=6)
