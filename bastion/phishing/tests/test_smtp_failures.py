"""A mail server that is down, goes away mid-campaign, refuses one recipient or everyone, or
hangs up after taking a message: the campaign pauses with the reason, resumes, and no one ever
receives two messages. Every server here is a real SMTP server on loopback (tests/smtp.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bastion.phishing import sending
from bastion.phishing.models import CampaignStatus, Recipient, RecipientStatus, SendingProfile

from .conftest import make_people
from .smtp import EVERYONE, MisbehavingSink

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["one-by-one", "pipelining"])
def sink(request):
    server = MisbehavingSink(pipelining=request.param).start()
    yield server
    server.stop()


@pytest.fixture
def campaign_to(make_campaign):
    """campaign_to(sink, people=8): a campaign of that many people sent through `sink`."""

    def make(server: MisbehavingSink, people: int = 8, **fields):
        make_people(people)
        profile = SendingProfile.objects.create(name=f"Sink {server.port}", smtp_url=server.url,
                                                from_address="it-support@example.com", rate_per_second=10_000)
        return make_campaign(sending_profile=profile, **fields)

    return make


def statuses() -> dict[str, str]:
    return dict(Recipient.objects.values_list("email", "status"))


def assert_each_received_once(server: MisbehavingSink, expected: int) -> None:
    by_to, by_token = server.by_to(), server.by_token()
    assert len(by_to) == expected and set(by_to.values()) == {1}, by_to
    assert set(by_token) == set(Recipient.objects.filter(status=RecipientStatus.SENT).values_list("token", flat=True))
    assert set(by_token.values()) == {1}


def test_a_server_that_goes_away_mid_campaign_pauses_it_with_the_reason_and_it_resumes_when_back(sink, campaign_to):
    campaign = campaign_to(sink, people=12)

    def stop_after_5(recipient):
        if len(sink.messages) == 5:
            sink.stop()

    first = sending.send_due(after_send=stop_after_5)
    assert first.sent == 5 and campaign.pk in first.errors
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING and campaign.last_error  # paused, with the reason
    # The message being sent when the server went away was not taken: it waits, unattempted.
    assert Recipient.objects.filter(status=RecipientStatus.PENDING, attempted_at__isnull=True,
                                    claimed_at__isnull=True).count() == 7

    down = sending.send_due()  # still down
    campaign.refresh_from_db()
    assert down.sent == 0 and "connection refused" in campaign.last_error

    sink.start()  # back, on the same port
    back = sending.send_due()
    assert back.sent == 7 and back.finished == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED and campaign.last_error == ""
    assert_each_received_once(sink, 12)


def test_a_server_closing_the_service_421_pauses_and_nothing_is_lost(sink, campaign_to):
    campaign = campaign_to(sink, people=6)
    sink.refuse_data["person3@example.com"] = "421 4.3.2 Service shutting down"
    first = sending.send_due()
    assert first.sent == 3 and "421" in first.errors[campaign.pk]
    assert statuses()["person3@example.com"] == RecipientStatus.PENDING
    sink.refuse_data.clear()
    assert sending.send_due().sent == 3
    assert_each_received_once(sink, 6)


def test_one_recipient_refused_for_good_fails_alone_and_is_never_resent(sink, campaign_to):
    campaign = campaign_to(sink, people=6)
    sink.refuse_rcpt["person2@example.com"] = "550 5.1.1 No such user"
    sink.refuse_data["person4@example.com"] = "554 5.7.1 Message rejected"
    result = sending.send_due()
    assert (result.sent, result.failed, result.finished) == (4, 2, [campaign.pk])
    failed = Recipient.objects.get(email="person2@example.com")
    assert failed.status == RecipientStatus.FAILED and "550" in failed.error and "No such user" in failed.error
    assert "554" in Recipient.objects.get(email="person4@example.com").error
    sink.refuse_rcpt.clear()
    sink.refuse_data.clear()
    assert sending.send_due().sent == 0
    assert_each_received_once(sink, 4)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED and campaign.last_error == ""


def test_one_recipient_refused_for_now_is_deferred_and_sent_once_later(sink, campaign_to):
    start = timezone.now()
    campaign = campaign_to(sink, people=6, starts_at=start)
    sink.refuse_rcpt["person2@example.com"] = "451 4.2.1 Mailbox busy, try later"
    first = sending.send_due(start)
    assert (first.sent, first.deferred, first.errors) == (5, 1, {})  # the others went on
    deferred = Recipient.objects.get(email="person2@example.com")
    assert deferred.status == RecipientStatus.PENDING and deferred.deferrals == 1 and "451" in deferred.error
    assert deferred.send_after == start + timedelta(minutes=1)
    assert sending.send_due(start + timedelta(seconds=30)).sent == 0  # not before its time
    sink.refuse_rcpt.clear()
    later = sending.send_due(start + timedelta(minutes=1))
    assert later.sent == 1 and later.finished == [campaign.pk]
    assert_each_received_once(sink, 6)


def test_a_recipient_refused_for_now_five_times_is_given_up(sink, campaign_to):
    start = timezone.now()
    campaign = campaign_to(sink, people=4, starts_at=start)
    sink.refuse_rcpt["person1@example.com"] = "452 4.2.2 Mailbox full"
    at = start
    for minutes in (*sending.DEFER_MINUTES, 0):
        sending.send_due(at)
        at += timedelta(minutes=minutes)
    given_up = Recipient.objects.get(email="person1@example.com")
    assert given_up.status == RecipientStatus.FAILED and given_up.deferrals == 5
    assert given_up.error.startswith("Refused 5 times for now, so given up") and "Mailbox full" in given_up.error
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED
    assert_each_received_once(sink, 3)


@pytest.mark.parametrize("where", ["rcpt", "data"])
@pytest.mark.parametrize("reply", ["451 4.7.1 Greylisted, try later", "550 5.7.1 Relaying denied"])
def test_a_server_refusing_everyone_pauses_the_campaign_and_fails_no_one(sink, campaign_to, where, reply):
    campaign = campaign_to(sink, people=8)
    refusals = sink.refuse_rcpt if where == "rcpt" else sink.refuse_data
    refusals[EVERYONE] = reply
    result = sending.send_due()
    assert result.sent == result.failed == result.deferred == 0
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert campaign.last_error.startswith("The mail server refused 3 messages in a row") and reply[:3] in \
        campaign.last_error
    # Those refused were put back as they were: nobody failed, deferred or marked attempted.
    assert set(Recipient.objects.values_list("status", "deferrals", "attempted_at", "claim")) == {
        (RecipientStatus.PENDING, 0, None, "")}
    refusals.clear()
    resumed = sending.send_due()
    assert resumed.sent == 8 and resumed.finished == [campaign.pk]
    assert_each_received_once(sink, 8)


def test_a_server_that_hangs_up_after_taking_a_message_leaves_it_unknown_never_resent(sink, campaign_to):
    campaign = campaign_to(sink, people=6)
    sink.drop_after_data.add("person3@example.com")  # the server has it; its "250" never arrives
    first = sending.send_due()
    assert first.sent == 3 and first.unknown == 1 and campaign.pk in first.errors
    unknown = Recipient.objects.get(email="person3@example.com")
    assert unknown.status == RecipientStatus.UNKNOWN and "may have been delivered" in unknown.error
    second = sending.send_due()
    assert second.sent == 2 and second.finished == [campaign.pk]
    by_to = sink.by_to()
    assert len(by_to) == 6 and set(by_to.values()) == {1}  # it arrived once, and was not sent again
    results = sending.check_recipients(campaign)
    assert results is None
    assert Recipient.objects.filter(status=RecipientStatus.UNKNOWN).count() == 1


def test_an_unreachable_server_pauses_with_the_reason_and_never_shows_the_password(sink, campaign_to):
    from conftest import free_port

    campaign = campaign_to(sink, people=3)
    profile = campaign.sending_profile
    profile.smtp_url = f"smtp://user:s3cret-pass@127.0.0.1:{free_port()}"
    profile.save()
    result = sending.send_due()
    campaign.refresh_from_db()
    assert result.sent == 0 and "connection refused" in campaign.last_error and "s3cret" not in campaign.last_error
    assert not Recipient.objects.filter(claimed_at__isnull=False).exists()
    profile.smtp_url = sink.url
    profile.save()
    assert sending.send_due().sent == 3
    assert_each_received_once(sink, 3)
