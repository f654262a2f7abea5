"""The demo organisation's phishing simulation, as a newcomer sees it through the API."""

import pytest
from django.core.management import call_command

from bastion.accounts.models import Role, User
from bastion.phishing.models import Campaign, CampaignStatus, Recipient, TrackingEvent


@pytest.mark.django_db
def test_demo_has_two_finished_campaigns_that_show_training_worked_and_one_scheduled(api_for, capsys):
    call_command("demo")
    assert list(Campaign.objects.order_by("starts_at").values_list("status", flat=True)) == [
        CampaignStatus.FINISHED, CampaignStatus.FINISHED, CampaignStatus.SCHEDULED]
    before, after, scheduled = Campaign.objects.order_by("starts_at")
    assert scheduled.remedial_programme is not None and scheduled.remedial_programme.remedial
    assert not Recipient.objects.filter(campaign=scheduled, sent_at__isnull=False).exists()
    api = api_for(User.objects.filter(role=Role.EXECUTIVE).order_by("pk").first())
    old = api.get(f"/api/v1/campaigns/{before.pk}/results").json()
    new = api.get(f"/api/v1/campaigns/{after.pk}/results").json()
    assert old["sent"] == old["recipients"] > 10
    # Scanners' clicks are kept, flagged with their rule, and left out of the rates.
    assert TrackingEvent.objects.filter(recipient__campaign=before, automated=True, rule="too-soon").exists()
    assert old["raw"]["clicked"] >= old["filtered"]["clicked"] > 0
    assert new["click_rate"] < old["click_rate"] and new["report_rate"] > old["report_rate"]
    assert new["median_seconds_to_report"] > 0
