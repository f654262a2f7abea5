"""Real `bastion worker` processes sending a campaign into a real SMTP server, SIGKILLed in the
middle: a replacement finishes the campaign and no one ever receives two messages.

The guarantee (docs/architecture.md, sending.py): every recipient is sent at most once; all are
sent exactly once except a message whose worker died after handing it to the server and before
recording the answer — that one is marked "unknown" and never resent.
"""

import signal
import subprocess
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import F

from bastion.phishing.models import (
    Campaign,
    CampaignStatus,
    Recipient,
    RecipientStatus,
    SendingProfile,
)
from bastion.phishing.sending import STALE_CLAIM, UNKNOWN_ERROR
from bastion.phishing.tasks import send_campaigns

from .conftest import make_people
from .processes import start, stop, wait_for  # noqa: F401 - `start` is a fixture
from .smtp import MisbehavingSink

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sink():
    server = MisbehavingSink().start()
    yield server
    server.stop()


@pytest.fixture
def campaign_through(make_campaign):
    def make(server: MisbehavingSink, people: int, rate: int) -> Campaign:
        make_people(people)
        profile = SendingProfile.objects.create(name="Sink", smtp_url=server.url,
                                                from_address="it-support@example.com", rate_per_second=rate)
        return make_campaign(sending_profile=profile)

    return make


def start_worker(start) -> subprocess.Popen:  # noqa: F811
    # No scheduler: the test enqueues the sending job itself rather than wait for its 30-second
    # period (which the killed worker may have claimed).
    send_campaigns.enqueue()
    return start("worker", "--interval", "0.2", "--no-scheduler")


def kill(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)


def let_claims_go_stale() -> None:
    """Move the clock past STALE_CLAIM for the dead worker's claims, as tests/test_processes.py
    does for a dead worker's heartbeat."""
    Recipient.objects.filter(claimed_at__isnull=False).update(
        claimed_at=F("claimed_at") - STALE_CLAIM - timedelta(seconds=1))


def finished(campaign: Campaign) -> bool:
    return Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.FINISHED


def test_a_worker_killed_mid_campaign_is_replaced_and_no_one_receives_two(start, sink, campaign_through):  # noqa: F811
    campaign = campaign_through(sink, people=80, rate=20)  # four seconds of sending
    worker = start_worker(start)
    wait_for(lambda: len(sink.messages) >= 20, timeout=60, what="some messages to arrive")
    kill(worker)
    arrived = len(sink.messages)
    assert 20 <= arrived < 80
    # The dead worker's batch is still claimed: no one else may send it until the claim is stale.
    held = Recipient.objects.filter(status=RecipientStatus.PENDING, claimed_at__isnull=False)
    assert held.exists()

    let_claims_go_stale()
    replacement = start_worker(start)
    wait_for(lambda: finished(campaign), timeout=90, what="the campaign to finish")
    assert stop(replacement) == 0

    statuses = Counter(Recipient.objects.values_list("status", flat=True))
    # Killed while the pacer waited (almost always), nothing is uncertain; killed in the instant
    # between the server's "250" and the commit, that one message is unknown — never resent.
    assert statuses[RecipientStatus.SENT] + statuses[RecipientStatus.UNKNOWN] == 80
    assert statuses[RecipientStatus.UNKNOWN] <= 1
    by_to, by_token = sink.by_to(), sink.by_token()
    assert set(by_to.values()) == {1} and set(by_token.values()) == {1}  # no one received two
    sent = Recipient.objects.filter(status=RecipientStatus.SENT)
    assert set(sent.values_list("email", flat=True)) <= set(by_to)
    assert set(sent.values_list("token", flat=True)) <= set(by_token)
    assert len(by_to) in (80, 79)  # an unknown one arrived or not; every sent one did


def test_a_worker_killed_after_the_server_took_a_message_leaves_it_unknown_and_never_resends_it(
        start, sink, campaign_through):  # noqa: F811
    campaign = campaign_through(sink, people=30, rate=10_000)
    doomed = "person10@example.com"
    worker = start_worker(start)
    # The server takes this message, then the worker dies before it hears "250": it is in the
    # mailbox, and the worker's record says only "attempted".
    sink.kill_after_data[doomed] = worker.pid
    assert worker.wait(60) == -signal.SIGKILL
    assert sink.by_to()[doomed] == 1
    uncertain = Recipient.objects.get(email=doomed)
    assert uncertain.status == RecipientStatus.PENDING and uncertain.attempted_at and not uncertain.sent_at

    let_claims_go_stale()
    replacement = start_worker(start)
    wait_for(lambda: finished(campaign), timeout=90, what="the campaign to finish")
    assert stop(replacement) == 0

    uncertain.refresh_from_db()
    assert uncertain.status == RecipientStatus.UNKNOWN and uncertain.error == UNKNOWN_ERROR
    assert Counter(Recipient.objects.values_list("status", flat=True)) == {RecipientStatus.SENT: 29,
                                                                          RecipientStatus.UNKNOWN: 1}
    by_to, by_token = sink.by_to(), sink.by_token()
    assert len(by_to) == 30 and set(by_to.values()) == {1}  # it was not sent a second time
    assert len(by_token) == 30 and set(by_token.values()) == {1}


def test_a_large_campaign_goes_out_over_several_connections_each_person_once(sink, campaign_through):
    from bastion.phishing import sending

    campaign = campaign_through(sink, people=650, rate=10_000)
    assert sending._lanes(campaign, campaign.starts_at) == 3
    result = sending.send_due()
    assert result.sent == 650 and result.finished == [campaign.pk]
    by_to, by_token = sink.by_to(), sink.by_token()
    assert len(by_to) == 650 and set(by_to.values()) == {1}
    assert len(by_token) == 650 and set(by_token.values()) == {1}


def test_a_worker_killed_while_sending_over_several_connections_leaves_no_one_with_two(
        start, sink, campaign_through):  # noqa: F811
    from bastion.phishing.sending import CONNECTIONS

    campaign = campaign_through(sink, people=650, rate=150)  # four seconds and more of sending
    worker = start_worker(start)
    wait_for(lambda: len(sink.messages) >= 150, timeout=60, what="some messages to arrive")
    kill(worker)
    assert len(sink.messages) < 650
    let_claims_go_stale()
    replacement = start_worker(start)
    wait_for(lambda: finished(campaign), timeout=120, what="the campaign to finish")
    assert stop(replacement) == 0
    statuses = Counter(Recipient.objects.values_list("status", flat=True))
    assert statuses[RecipientStatus.SENT] + statuses[RecipientStatus.UNKNOWN] == 650
    assert statuses[RecipientStatus.UNKNOWN] <= CONNECTIONS  # at most one in flight per connection
    by_to = sink.by_to()
    assert set(by_to.values()) == {1} and len(by_to) >= statuses[RecipientStatus.SENT]
