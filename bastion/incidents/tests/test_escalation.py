"""Overdue notifications escalate to the incident commander and the security leads by email,
once, through a real SMTP server; a restricted incident's escalation reaches only leads who are
members."""

from datetime import timedelta

from bastion.accounts.models import Role
from bastion.incidents import actions, escalation
from bastion.incidents.models import NotificationDue

from .conftest import T0


def _run(run_tasks, capture, now) -> int:
    with capture(execute=True):
        escalated = escalation.escalate_overdue(now)
    run_tasks()
    return escalated


def _declare(lead, commander, **fields):
    return actions.do_declare(
        acting_user=lead, now=T0, title="Customer database exposed", summary="An open storage bucket.",
        detected_at=T0 - timedelta(hours=2), reported_by="A researcher", type_key="data_breach",
        incident_commander=commander, facts={"personal_data": True, "jurisdictions": ["DE"]},
        clocks={"awareness": T0}, **fields)


def test_a_missed_notification_escalates_once_by_email(published, lead, commander, make_user, smtp_server,
                                                        run_tasks, django_capture_on_commit_callbacks):
    make_user(Role.SECURITY_LEAD, email="second-lead@example.com")
    make_user(Role.SECURITY_LEAD, email="gone-lead@example.com", is_active=False)
    incident = _declare(lead, commander)
    gdpr = incident.notifications.filter(rule_key="gdpr-33-authority")
    assert gdpr.count() == 2
    capture = django_capture_on_commit_callbacks
    # Before the deadline: nothing.
    assert _run(run_tasks, capture, T0 + timedelta(hours=71)) == 0
    assert smtp_server.messages == []
    # One recipient notified in time, the other missed.
    actions.do_record_notification(acting_user=lead, notification=gdpr.get(recipient_key="role:legal"),
                                   notified_by=commander, notified_whom="Gina Counsel", notified_at=T0 + timedelta(hours=1),
                                   channel="phone", what_was_said="Breach of customer data; authority form needed.",
                                   now=T0 + timedelta(hours=1))
    assert _run(run_tasks, capture, T0 + timedelta(hours=73)) == 1
    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == ["alice@example.com", "ivan@example.com", "second-lead@example.com"]
    message = smtp_server.messages[0]
    assert message["Subject"].strip() == (f"Overdue notification in INC-{incident.pk}: "
                                  "GDPR art. 33: notify the supervisory authority")
    body = message.get_body(("plain",)).get_content()
    assert "Recipient: Lead data protection supervisory authority" in body
    assert "Deadline: 2026-03-05T09:00:00.000000+00:00" in body
    row = gdpr.get(recipient_key__startswith="external:")
    assert row.status == "escalated" and row.escalated_at == T0 + timedelta(hours=73)
    assert "escalated to alice@example.com, ivan@example.com, second-lead@example.com" in \
        incident.timeline.filter(kind="notification").order_by("-seq").first().text
    # Run again, later: nothing more.
    assert _run(run_tasks, capture, T0 + timedelta(hours=80)) == 0
    assert len(smtp_server.messages) == 3
    # Still recordable after escalation.
    actions.do_record_notification(acting_user=lead, notification=row, notified_by=commander,
                                   notified_whom="BfDI portal, ref 77", notified_at=T0 + timedelta(hours=81),
                                   channel="portal", what_was_said="Late phase 1 notification, with reasons for the delay.",
                                   now=T0 + timedelta(hours=81))
    assert NotificationDue.objects.get(pk=row.pk).status == "done"


def test_a_restricted_incident_escalates_only_to_leads_who_may_see_it(published, lead, commander, make_user,
                                                                       smtp_server, run_tasks,
                                                                       django_capture_on_commit_callbacks):
    make_user(Role.SECURITY_LEAD, email="outsider-lead@example.com")
    _declare(lead, commander, restricted=True)
    assert _run(run_tasks, django_capture_on_commit_callbacks, T0 + timedelta(hours=73)) == 2
    assert sorted({m["To"] for m in smtp_server.messages}) == ["alice@example.com", "ivan@example.com"]


def test_the_escalation_is_a_periodic_job_of_the_worker():
    from datetime import timedelta as td

    from bastion.jobs.periodic import discover_jobs

    job = discover_jobs()["bastion.incidents.tasks.escalate_overdue_notifications"]
    assert job.every == td(minutes=5)
