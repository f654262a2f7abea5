"""The demo organisation's incidents (PRODUCT.md: `make run` shows open and closed incidents): one
open and two closed, run by the demo's published plan through the real actions, so every
timeline's hash chain and the audit trail verify."""

import pytest
from django.core.management import call_command

from bastion.accounts.models import Role, User
from bastion.audit.chain import verify
from bastion.demo.management.commands.demo import DEMO_PASSWORD
from bastion.incidents import timeline
from bastion.incidents.models import Incident, NotificationStatus, Status


@pytest.mark.django_db
def test_demo_has_one_open_and_two_closed_incidents_whose_timelines_verify(client):
    call_command("demo")

    assert Incident.objects.open().count() == 1
    closed = Incident.objects.filter(status=Status.CLOSED)
    assert closed.count() == 2
    reviewed = closed.filter(deviations__isnull=False, review__completed_at__isnull=False).distinct()
    assert reviewed.count() >= 1
    ransomware = reviewed.get(type_key="ransomware")
    assert ransomware.deviations.filter(kind="skipped").exists()
    assert ransomware.review.action_items.count() == 3
    assert ransomware.law_enforcement_decision == "reported"

    breach = closed.get(type_key="data_breach")
    assert breach.notifications.filter(rule_key="gdpr-33-authority", status=NotificationStatus.DONE).exists()
    assert breach.law_enforcement_decision == "not_reported"
    assert breach.review.allows_closing

    open_incident = Incident.objects.open().get()
    assert open_incident.status == Status.CONTAINMENT
    assert open_incident.updates.count() == 1
    assert open_incident.notifications.filter(status=NotificationStatus.DUE).exists()
    emailed = open_incident.notifications.get(rule_key="internal-executive", recipient_key="role:communications")
    assert emailed.status == NotificationStatus.DONE and emailed.notified_channel == "email" and emailed.emailed_to
    assert emailed.what_was_said.startswith(f"Incident {open_incident.reference} declared at severity ")

    for incident in Incident.objects.all():
        result = timeline.verify(incident)
        assert result.ok, (incident.reference, result.problem)
        assert result.checked == incident.timeline.count() > 3
        assert incident.declared_at > incident.plan_version.published_at
    assert verify().ok

    # The demo lead sees them: the open one with its update, a closed one with its review.
    lead = User.objects.get(role=Role.SECURITY_LEAD)
    client.post("/login/", {"email": lead.email, "password": DEMO_PASSWORD})
    page = client.get(f"/incidents/{open_incident.pk}/").content.decode()
    assert "Supplier bank details changed by a fake email" in page
    assert "Chain verified" in client.get(f"/incidents/{open_incident.pk}/timeline/verify/").content.decode()
    assert "Ransomware on the warehouse servers" in client.get("/incidents/?status=closed").content.decode()
