"""The plan's reminders through a real SMTP server, on a controlled clock: readers asked to
acknowledge and reminded, the owner reminded of the periodic review and the leads told when it is
overdue; each email once, so a rerun sends nothing."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.jobs.periodic import discover_jobs
from bastion.response import actions, links, reminders
from bastion.response.models import (
    Acknowledgement,
    AcknowledgementAsk,
    PlanReviewReminder,
    PlanVersion,
)

from .conftest import approve_all, person

T0 = datetime(2026, 11, 2, 9, tzinfo=timezone.get_current_timezone())


def test_the_jobs_are_registered():
    jobs = discover_jobs()
    assert jobs["bastion.response.tasks.send_acknowledgement_reminders"].every == timedelta(hours=1)
    assert jobs["bastion.response.tasks.send_plan_review_reminders"].every == timedelta(hours=6)


def _run(function, now, capture, run_tasks) -> int:
    with capture(execute=True):
        queued = function(now)
    run_tasks()
    return queued


@pytest.fixture
def readers(make_user):
    return [make_user(Role.EMPLOYEE, email=f"{name.lower()}@example.com", person=person(name, "Reader"))
            for name in ("Ann", "Ben")] + [make_user(Role.MANAGER, email="mo@example.com", person=person("Mo", "Manager"))]


def test_readers_are_asked_once_and_reminded_twice(published, readers, smtp_server, run_tasks,
                                                   django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    ann, ben, mo = readers
    send = reminders.send_acknowledgement_reminders
    assert _run(send, T0, capture, run_tasks) == 3
    assert _run(send, T0 + timedelta(hours=1), capture, run_tasks) == 0
    assert sorted(m["To"] for m in smtp_server.messages) == ["ann@example.com", "ben@example.com", "mo@example.com"]
    message = next(m for m in smtp_server.messages if m["To"] == "ann@example.com")
    assert message["Subject"] == "Please read and acknowledge the Incident response plan"
    body = message.get_body(("plain",)).get_content()
    assert "Hello Ann," in body and "Version 1 of the Incident response plan is now in force" in body
    token = body.split("/plan/acknowledge/", 1)[1].split("/")[0]
    assert links.person_id_from_acknowledge_token(token, now=T0) == ann.person.pk

    actions.do_acknowledge(version=published, person=ann.person)
    actions.do_acknowledge(version=published, person=mo.person, acting_user=mo)
    assert _run(send, T0 + timedelta(days=6), capture, run_tasks) == 0
    assert _run(send, T0 + timedelta(days=7), capture, run_tasks) == 1
    assert _run(send, T0 + timedelta(days=8), capture, run_tasks) == 0
    reminder = smtp_server.messages[-1]
    assert reminder["To"] == "ben@example.com"
    assert reminder["Subject"] == "Reminder: please read and acknowledge the Incident response plan"
    assert "We have not had your acknowledgement yet." in reminder.get_body(("plain",)).get_content()
    assert _run(send, T0 + timedelta(days=21), capture, run_tasks) == 1
    assert _run(send, T0 + timedelta(days=60), capture, run_tasks) == 0
    assert len(smtp_server.messages) == 5
    assert sorted(AcknowledgementAsk.objects.filter(person=ben.person).values_list("stage", flat=True)) == [
        "21d", "7d", "ask"]
    assert AuditEntry.objects.filter(action="plan.acknowledgement_asked").count() == 3


def test_a_claimed_ask_is_not_sent_again(published, readers):
    assert reminders.ask_readers(published, T0) == 3
    assert reminders.ask_readers(published, T0) == 0  # a second worker, or the job after the publication's task
    assert AcknowledgementAsk.objects.count() == 3


def test_a_new_version_asks_everyone_again(published, plan, lead, ceo, counsel, readers):
    assert reminders.send_acknowledgement_reminders(T0) == 3
    content = dict(published.content, title="Incident response plan 2027")
    actions.do_save_draft(acting_user=lead, plan=plan, content=content, summary_of_changes="New title.")
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    version_2 = approve_all(plan, ceo, counsel)
    assert reminders.send_acknowledgement_reminders(T0 + timedelta(days=1)) == 3
    assert AcknowledgementAsk.objects.filter(version=version_2, stage="ask").count() == 3
    # No reminder of the superseded version: it is not in force any more.
    assert reminders.send_acknowledgement_reminders(T0 + timedelta(days=7, hours=1)) == 0


def test_drafts_ask_nobody(plan, readers):
    assert reminders.send_acknowledgement_reminders(T0) == 0


# --- the periodic review -----------------------------------------------------------------------

@pytest.fixture
def reviewed_a_year_ago(published, plan, make_user):
    """Version 1 published on 2 December 2025: the yearly review is due on 2 December 2026."""
    make_user(Role.SECURITY_LEAD, email="leo@example.com", full_name="Leo Lead")
    PlanVersion.objects.filter(pk=published.pk).update(published_at=T0.replace(year=2025, month=12))
    return plan


def test_the_owner_is_reminded_and_the_leads_told_when_overdue(reviewed_a_year_ago, smtp_server, run_tasks,
                                                                django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    send = reminders.send_review_reminders
    assert reviewed_a_year_ago.review_due_on().isoformat() == "2026-12-02"
    assert _run(send, T0 - timedelta(days=1), capture, run_tasks) == 0  # 31 days before
    assert _run(send, T0, capture, run_tasks) == 1  # 30 days before
    assert _run(send, T0 + timedelta(hours=6), capture, run_tasks) == 0
    [warning] = smtp_server.messages
    assert warning["To"] == "alice@example.com"  # the owner
    assert warning["Subject"] == "The Incident response plan is due for review on 2 December 2026"
    assert "in 30 days" in warning.get_body(("plain",)).get_content()

    due_day = T0 + timedelta(days=30)
    assert _run(send, due_day, capture, run_tasks) == 1
    assert _run(send, due_day + timedelta(days=13), capture, run_tasks) == 0
    assert smtp_server.messages[-1]["Subject"] == "The Incident response plan is due for review"

    # Two weeks overdue: the owner and every security lead.
    assert _run(send, due_day + timedelta(days=14), capture, run_tasks) == 2
    assert _run(send, due_day + timedelta(days=40), capture, run_tasks) == 0
    overdue = smtp_server.messages[-2:]
    assert sorted(m["To"] for m in overdue) == ["alice@example.com", "leo@example.com"]
    assert overdue[0]["Subject"].strip() == "Overdue: the review of the Incident response plan was due on 2 December 2026"
    assert "14 days ago" in overdue[0].get_body(("plain",)).get_content()
    assert list(PlanReviewReminder.objects.order_by("sent_at").values_list("stage", flat=True)) == [
        "30d", "due", "overdue"]
    assert len(smtp_server.messages) == 4


def test_a_new_approved_version_resets_the_review_date(reviewed_a_year_ago, lead, ceo, counsel):
    plan = reviewed_a_year_ago
    # The yearly review: the plan is re-approved as it is.
    actions.do_save_draft(acting_user=lead, plan=plan, content=plan.published().content,
                          summary_of_changes="Yearly review: no change.")
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    approve_all(plan, ceo, counsel)
    assert plan.versions.count() == 2
    assert plan.review_due_on() > timezone.localdate() + timedelta(days=360)
    assert reminders.send_review_reminders(T0 + timedelta(days=30)) == 0


def test_the_review_interval_is_configurable(reviewed_a_year_ago, lead):
    plan = actions.do_update_plan_settings(acting_user=lead, plan=reviewed_a_year_ago, review_interval_months=6)
    assert plan.review_due_on().isoformat() == "2026-06-02"
    assert reminders.send_review_reminders(T0) == 2  # long overdue: the owner and the other lead
    assert PlanReviewReminder.objects.get().stage == "overdue"


def test_without_an_owner_the_leads_are_reminded(reviewed_a_year_ago, lead):
    from bastion.response.models import Plan

    Plan.objects.filter(pk=reviewed_a_year_ago.pk).update(owner=None)
    assert reminders.send_review_reminders(T0) == 2
    assert PlanReviewReminder.objects.get().recipients == ["alice@example.com", "leo@example.com"]


@pytest.mark.parametrize(("days_left", "stage"), [
    (60, None), (31, None), (30, "30d"), (1, "30d"), (0, "due"), (-13, "due"), (-14, "overdue"), (-400, "overdue"),
])
def test_review_stage(days_left, stage):
    assert reminders.review_stage(days_left) == stage


# --- findings of the security review ----------------------------------------------------------

def test_an_acknowledgement_link_is_for_one_version(published, plan, lead, ceo, counsel, readers, client_for):
    from bastion.lib.tokens import LinkTokenError

    ann = readers[0]
    token = links.acknowledge_link_path(ann.person.pk, 1, now=T0).split("/")[-2]
    link = links.check_acknowledge_token(token, now=T0)
    assert (link.person_id, link.version_number) == (ann.person.pk, 1)
    # Version 2 is published: the old email's link no longer acknowledges anything.
    content = dict(published.content, title="Incident response plan, revised")
    actions.do_save_draft(acting_user=lead, plan=plan, content=content)
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    approve_all(plan, ceo, counsel)
    with pytest.raises(LinkTokenError) as error:
        links.person_id_from_acknowledge_token(token, now=T0)
    assert str(error.value) == ("This link was for version 1; version 2 is now in force — open the plan to "
                                "acknowledge it.")
    response = client_for(None).post(f"/plan/acknowledge/{token}/")
    assert response.status_code >= 400 and "version 2 is now in force" in response.content.decode()
    assert not Acknowledgement.objects.exists()
    # The reminders now send links for version 2, which work.
    fresh = links.acknowledge_link_path(ann.person.pk, now=T0).split("/")[-2]
    assert links.read_acknowledge_token(fresh, now=T0).version_number == 2
    assert links.person_id_from_acknowledge_token(fresh, now=T0) == ann.person.pk


def test_a_link_from_before_versions_were_in_links(published, plan, lead, ceo, counsel, readers):
    from bastion.lib.tokens import LinkTokenError, make_link_token

    ann = readers[0]
    PlanVersion.objects.filter(pk=published.pk).update(published_at=timezone.now() - timedelta(days=2))
    published.refresh_from_db()
    sent = make_link_token(links.ACKNOWLEDGE_PURPOSE, ann.person.pk, expires_in=timedelta(days=30),
                           now=published.published_at + timedelta(minutes=5))
    assert links.person_id_from_acknowledge_token(sent, now=published.published_at + timedelta(days=1)) == ann.person.pk
    content = dict(published.content, title="Incident response plan, revised")
    actions.do_save_draft(acting_user=lead, plan=plan, content=content)
    actions.do_submit_for_review(acting_user=lead, plan=plan)
    approve_all(plan, ceo, counsel)
    with pytest.raises(LinkTokenError, match="This link was sent for an earlier version; version 2 is now in force"):
        links.person_id_from_acknowledge_token(sent, now=published.published_at + timedelta(days=1))


def test_a_leavers_link_is_refused(published, readers):
    from bastion.lib.tokens import LinkTokenError
    from bastion.people.models import PersonStatus

    ann = readers[0]
    token = links.acknowledge_link_path(ann.person.pk, now=T0).split("/")[-2]
    ann.person.status = PersonStatus.LEAVER
    ann.person.save()
    with pytest.raises(LinkTokenError, match="no longer in the directory"):
        links.check_acknowledge_token(token, now=T0)
    with pytest.raises(actions.PlanStateError, match="has left the organisation"):
        actions.do_acknowledge(version=published, person=ann.person)


def test_the_emailed_link_names_the_version(published, readers, smtp_server, run_tasks,
                                            django_capture_on_commit_callbacks):
    _run(reminders.send_acknowledgement_reminders, T0, django_capture_on_commit_callbacks, run_tasks)
    body = smtp_server.messages[0].get_body(("plain",)).get_content()
    token = body.split("/plan/acknowledge/", 1)[1].split("/")[0]
    assert links.read_acknowledge_token(token, now=T0).version_number == 1


def test_a_plan_never_published_reminds_its_owner_once(plan, smtp_server, run_tasks,
                                                      django_capture_on_commit_callbacks):
    from bastion.response.models import Plan

    capture = django_capture_on_commit_callbacks
    Plan.objects.filter(pk=plan.pk).update(created_at=T0)
    send = reminders.send_review_reminders
    assert _run(send, T0 + timedelta(days=29), capture, run_tasks) == 0
    assert _run(send, T0 + timedelta(days=30), capture, run_tasks) == 1
    assert _run(send, T0 + timedelta(days=31), capture, run_tasks) == 0
    assert _run(send, T0 + timedelta(days=300), capture, run_tasks) == 0
    [message] = smtp_server.messages
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "The Incident response plan has never been approved"
    assert "no version of it has been approved and published yet" in message.get_body(("plain",)).get_content()
    assert list(PlanReviewReminder.objects.values_list("stage", flat=True)) == ["unpublished"]
