"""The demo's incident response plan: approved by the CEO and the General Counsel, in force,
acknowledged by about 60% of its readers, with next year's draft begun."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.audit.chain import verify
from bastion.response.models import (
    Acknowledgement,
    AcknowledgementAsk,
    Decision,
    Plan,
    VersionStatus,
)


@pytest.mark.django_db
def test_demo_has_a_published_plan_partly_acknowledged(client_for):
    call_command("demo")
    plan = Plan.current()
    assert plan is not None
    lead = User.objects.get(role=Role.SECURITY_LEAD)
    assert plan.owner == lead
    assert {u.person.title for u in plan.approvers.all()} == {"Chief Executive Officer", "General Counsel"}

    published = plan.published()
    assert published is not None and published.number == 1
    now = timezone.now()
    assert now - published.published_at > timedelta(days=30)
    # Every approver's standing approval is bound to the published content's hash; Legal's
    # earlier request for a change was on content that is no longer this version's.
    standing = published.approvals.standing()
    assert set(standing.values_list("decision", flat=True)) == {Decision.APPROVED}
    assert set(standing.values_list("approver_id", flat=True)) == set(plan.approvers.values_list("pk", flat=True))
    assert set(standing.values_list("content_hash", flat=True)) == {published.content_hash}
    request = published.approvals.get(decision=Decision.CHANGES_REQUESTED)
    assert request.invalidated_at is not None and request.content_hash != published.content_hash
    assert all(a.at <= published.published_at for a in published.approvals.all())

    # Roles are held by the demo's people, with deputies.
    roles = {r["key"]: r["holders"] for r in published.content["roles"]}
    assert roles["incident_commander"][0]["person"] == lead.person_id
    assert roles["incident_commander"][0]["deputy"] is not None
    assert roles["legal"][0]["deputy"] is not None

    readers = set(plan.required_readers().values_list("pk", flat=True))
    acknowledged = set(Acknowledgement.objects.filter(version=published).values_list("person_id", flat=True))
    assert acknowledged < readers
    assert 0.45 < len(acknowledged) / len(readers) < 0.8
    assert lead.person_id in acknowledged
    assert all(published.published_at < a.at < now for a in Acknowledgement.objects.filter(version=published))
    manager = User.objects.get(role=Role.MANAGER)
    assert manager.person_id in readers - acknowledged  # a newcomer signed in as the manager can acknowledge
    # Those who have not acknowledged were asked and reminded; nobody was asked twice per stage.
    pending = readers - acknowledged
    assert set(AcknowledgementAsk.objects.filter(version=published, stage="21d").values_list("person_id", flat=True)) \
        == pending

    working = plan.working_version()
    assert working is not None and working.number == 2 and working.status == VersionStatus.DRAFT
    assert working.content_hash != published.content_hash
    assert verify().ok

    # The version in force downloads as PDF (laid out only through the view, once).
    response = client_for(manager).get("/plan/versions/1/plan.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert client_for(manager).get("/plan/versions/2/plan.pdf").status_code == 404
