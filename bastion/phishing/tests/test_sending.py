"""Sending through a real SMTP server on loopback: exactly one message per recipient."""

import re
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from bastion.audit.models import AuditEntry
from bastion.phishing import sending
from bastion.phishing.actions import do_cancel_campaign, do_create_campaign
from bastion.phishing.models import (
    CampaignStatus,
    PhishingTemplate,
    Recipient,
    RecipientStatus,
    SendingProfile,
    VerifiedDomain,
)

from .conftest import make_people

pytestmark = pytest.mark.django_db


def received(smtp_server) -> Counter:
    return Counter(m["To"] for m in smtp_server.messages)


def test_every_recipient_receives_exactly_one_personal_message(smtp_server, make_campaign):
    make_people(50)
    campaign = make_campaign()
    result = sending.send_due()
    assert result.sent == 50 and result.started == [campaign.pk] and result.finished == [campaign.pk]
    counts = received(smtp_server)
    assert len(counts) == 50 and set(counts.values()) == {1}
    assert smtp_server.sessions == 1  # one reused connection for the whole campaign
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED
    message = next(m for m in smtp_server.messages if m["To"] == "person7@example.com")
    assert message["Subject"] == "First7, your password expires today"
    assert message["From"] == "IT Support <it-support@example.com>"
    recipient = Recipient.objects.get(email="person7@example.com")
    assert message["Message-ID"] == recipient.message_id and recipient.status == RecipientStatus.SENT
    text = message.get_body(("plain",)).get_content()
    assert f"/p/c/{recipient.token}/" in text and f"/p/r/{recipient.token}/" in text
    html = message.get_body(("html",)).get_content()
    assert "Hello First7 of Sales (Mona Manager)" in html and f"/p/o/{recipient.token}.gif" in html
    # A second run sends nothing more.
    assert sending.send_due().sent == 0 and len(smtp_server.messages) == 50
    actions = list(AuditEntry.objects.filter(object_id=str(campaign.pk), action__startswith="phishing.campaign")
                   .values_list("action", flat=True).order_by("seq"))
    assert actions == ["phishing.campaign_created", "phishing.campaign_sending", "phishing.campaign_finished"]


def test_tokens_are_unique_and_long(make_campaign):
    make_people(20)
    make_campaign()
    tokens = list(Recipient.objects.values_list("token", flat=True))
    assert len(set(tokens)) == 20 and all(len(t) >= 32 and re.fullmatch(r"[\w-]+", t) for t in tokens)


def test_a_worker_stopping_mid_batch_then_rerun_sends_the_rest_and_nothing_twice(smtp_server, make_campaign):
    make_people(30)
    make_campaign()
    sent = []

    def die_after_12(recipient):
        sent.append(recipient.pk)
        if len(sent) == 12:
            raise KeyboardInterrupt("worker killed")

    with pytest.raises(KeyboardInterrupt):
        sending.send_due(after_send=die_after_12)
    assert len(smtp_server.messages) == 12
    # The rest of the batch was released at once, not left claimed.
    assert Recipient.objects.filter(status=RecipientStatus.PENDING, claimed_at__isnull=False).count() == 0
    result = sending.send_due()
    assert result.sent == 18 and result.finished
    counts = received(smtp_server)
    assert len(counts) == 30 and set(counts.values()) == {1}


def test_a_hard_killed_worker_leaves_claims_that_a_later_run_takes_back_after_they_go_stale(smtp_server,
                                                                                            make_campaign):
    make_people(10)
    campaign = make_campaign()
    now = timezone.now()
    sending.start_due_campaigns(now)
    claim, batch = sending.claim_batch(campaign.pk, now)  # claimed, then the process vanished
    assert len(batch) == 10
    # One was handed to SMTP but never marked sent: whether it arrived is unknown.
    Recipient.objects.filter(pk=batch[0].pk).update(attempted_at=now)
    assert sending.send_due(now).sent == 0  # fresh claims belong to someone else
    later = now + sending.STALE_CLAIM + timedelta(seconds=1)
    result = sending.send_due(later)
    assert result.sent == 9 and result.unknown == 1
    assert len(smtp_server.messages) == 9
    unknown = Recipient.objects.get(pk=batch[0].pk)
    assert unknown.status == RecipientStatus.UNKNOWN and "not resent" in unknown.error
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED


def test_two_claims_never_take_the_same_recipient(make_campaign):
    make_people(10)
    campaign = make_campaign()
    now = timezone.now()
    sending.start_due_campaigns(now)
    _, first = sending.claim_batch(campaign.pk, now, size=6)
    _, second = sending.claim_batch(campaign.pk, now, size=6)
    assert len(first) == 6 and len(second) == 4
    assert not {r.pk for r in first} & {r.pk for r in second}


def test_the_window_spreads_delivery_and_only_due_messages_go(smtp_server, make_campaign):
    make_people(10)
    start = timezone.now()
    campaign = make_campaign(window_minutes=100, starts_at=start)
    times = list(campaign.recipients.order_by("send_after").values_list("send_after", flat=True))
    assert [t - start for t in times] == [timedelta(minutes=10 * i) for i in range(10)]
    assert sending.send_due(start + timedelta(minutes=35)).sent == 4
    assert sending.send_due(start + timedelta(minutes=35)).sent == 0
    result = sending.send_due(start + timedelta(minutes=95))
    assert result.sent == 6 and result.finished == [campaign.pk]
    assert len(smtp_server.messages) == 10


def test_a_campaign_waits_for_its_start(smtp_server, make_campaign):
    make_people(3)
    campaign = make_campaign(starts_at=timezone.now() + timedelta(hours=1))
    assert sending.send_due().sent == 0
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED and not smtp_server.messages


def test_the_rate_limit_spreads_sends(smtp_server, make_campaign, profile):
    make_people(10)
    profile.rate_per_second = 4
    profile.save()
    make_campaign()
    clock = {"t": 0.0}
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock["t"] += seconds

    sending.send_due(sleep=sleep, clock=lambda: clock["t"])
    assert len(smtp_server.messages) == 10
    # Message i may leave no sooner than i / rate seconds after the first.
    assert clock["t"] == pytest.approx(9 / 4)
    assert len(waits) == 9


def test_the_rate_limit_holds_in_real_time(smtp_server, make_campaign, profile):
    import time

    make_people(6)
    profile.rate_per_second = 20
    profile.save()
    make_campaign()
    began = time.monotonic()
    sending.send_due()
    assert time.monotonic() - began >= 5 / 20 * 0.95
    assert len(smtp_server.messages) == 6


def test_cancel_stops_further_sends(smtp_server, make_campaign, lead):
    make_people(20)
    start = timezone.now()
    campaign = make_campaign(window_minutes=20, starts_at=start)
    sending.send_due(start + timedelta(minutes=4, seconds=30))
    assert len(smtp_server.messages) == 5
    do_cancel_campaign(campaign, lead)
    assert sending.send_due(start + timedelta(hours=1)).sent == 0
    assert len(smtp_server.messages) == 5
    assert Recipient.objects.filter(status=RecipientStatus.CANCELLED).count() == 15
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    with pytest.raises(ValueError, match="cancelled campaign cannot become cancelled"):
        do_cancel_campaign(campaign, lead)


def test_cancel_during_a_batch_stops_the_rest_of_it(smtp_server, make_campaign, lead):
    make_people(10)
    campaign = make_campaign()

    def cancel_after_3(recipient):
        if Recipient.objects.filter(status=RecipientStatus.SENT).count() == 3:
            do_cancel_campaign(campaign, lead)

    sending.send_due(after_send=cancel_after_3)
    assert len(smtp_server.messages) == 3


def test_recipients_outside_the_verified_domains_are_refused_at_creation(domain, profile, template, page):
    make_people(3)
    from bastion.people.models import Person

    Person.objects.create(employee_id="X1", email="someone@elsewhere.test", first_name="Out", last_name="Side")
    with pytest.raises(ValueError, match=r"1 recipient\(s\) are outside the verified domains \(example.com\): "
                                         r"someone@elsewhere.test"):
        do_create_campaign(name="x", templates=[template], landing_page=page, sending_profile=profile,
                           audience=None, starts_at=timezone.now(), window_minutes=0)


def test_without_any_verified_domain_nothing_can_be_created(profile, template, page):
    make_people(2)
    with pytest.raises(ValueError, match="No verified domain is declared"):
        do_create_campaign(name="x", templates=[template], landing_page=page, sending_profile=profile,
                           audience=None, starts_at=timezone.now(), window_minutes=0)


def test_a_domain_withdrawn_after_creation_is_refused_at_send_time(smtp_server, make_campaign):
    make_people(4)
    campaign = make_campaign()
    VerifiedDomain.objects.all().update(verified_at=None)
    result = sending.send_due()
    assert result.sent == 0 and result.refused == 4 and not smtp_server.messages
    assert set(Recipient.objects.values_list("status", flat=True)) == {RecipientStatus.REFUSED}
    assert all("No verified domain is declared" in e for e in Recipient.objects.values_list("error", flat=True))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED


def test_templates_are_spread_over_recipients(smtp_server, make_campaign, template):
    other = PhishingTemplate.objects.create(name="Parcel", from_name="Courier", subject="Your parcel",
                                            body_text="Track it: {{link}}")
    make_people(10)
    make_campaign(templates=[template, other])
    counts = Counter(Recipient.objects.values_list("template__name", flat=True))
    assert counts == {"Password expiry": 5, "Parcel": 5}
    sending.send_due()
    assert Counter(m["Subject"] == "Your parcel" for m in smtp_server.messages) == {True: 5, False: 5}


def test_an_unreachable_server_pauses_the_campaign_with_the_reason_and_it_resumes(smtp_server, make_campaign,
                                                                                  profile):
    from conftest import free_port

    make_people(5)
    campaign = make_campaign(sending_profile=SendingProfile.objects.create(
        name="Down", smtp_url=f"smtp://user:s3cret-pass@127.0.0.1:{free_port()}", from_address="it@example.com",
        rate_per_second=1000))
    result = sending.send_due()
    assert result.sent == 0 and "connection refused" in result.errors[campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING and "connection refused" in campaign.last_error
    assert "s3cret-pass" not in campaign.last_error
    assert Recipient.objects.filter(status=RecipientStatus.PENDING, claimed_at__isnull=True).count() == 5
    campaign.sending_profile.smtp_url = smtp_server.url
    campaign.sending_profile.save()
    assert sending.send_due().sent == 5
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED and campaign.last_error == ""
    assert set(received(smtp_server).values()) == {1}


def test_the_periodic_job_is_registered():
    from bastion.jobs.periodic import discover_jobs

    assert "bastion.phishing.tasks.send_campaigns" in discover_jobs()


def test_the_worker_runs_the_job(smtp_server, make_campaign, run_tasks):
    from bastion.phishing.tasks import send_campaigns

    make_people(5)
    campaign = make_campaign()
    send_campaigns.enqueue()
    run_tasks()
    assert len(smtp_server.messages) == 5
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED


def test_no_connection_is_opened_while_nothing_is_due(smtp_server, make_campaign):
    make_people(2)
    start = timezone.now()
    make_campaign(window_minutes=60, starts_at=start + timedelta(seconds=1))
    sending.send_due(start + timedelta(seconds=2))
    assert smtp_server.sessions == 1  # the first message
    sending.send_due(start + timedelta(seconds=3))  # the second is due in half an hour
    assert smtp_server.sessions == 1 and len(smtp_server.messages) == 1


def test_the_rate_holds_across_batches(smtp_server, make_campaign, profile, monkeypatch):
    monkeypatch.setattr(sending, "BATCH", 3)
    make_people(7)
    profile.rate_per_second = 2
    profile.save()
    make_campaign()
    clock = {"t": 0.0}

    def sleep(seconds):
        clock["t"] += seconds

    sending.send_due(sleep=sleep, clock=lambda: clock["t"])
    assert len(smtp_server.messages) == 7 and clock["t"] == pytest.approx(6 / 2)


def test_a_template_that_cannot_be_sent_and_a_naive_start_are_refused(make_campaign, template):
    make_people(2)
    broken = PhishingTemplate.objects.create(name="Broken", from_name="x", subject="{{nope}}", body_text="no link")
    with pytest.raises(ValueError, match="Template “Broken” cannot be sent: .*Unknown placeholder"):
        make_campaign(templates=[template, broken])
    with pytest.raises(ValueError, match="with its time zone"):
        make_campaign(starts_at=timezone.now().replace(tzinfo=None))


def test_non_ascii_long_lines_and_markup_in_values_arrive_intact(smtp_server, make_campaign, template):
    from bastion.people.models import Person

    make_people(2)
    Person.objects.filter(email="person1@example.com").update(first_name="Zoë <b>&amp;</b>")
    long_line = "Politique de sécurité. " * 150  # one 3,450-character line: the server takes ≤ 1,000
    template.from_name = "Service informatique Zoë"
    template.subject = "Votre mot de passe expire, {{first_name}}"
    template.body_text = "Bonjour {{first_name}},\n" + long_line + "\n.\n{{link}}\n"
    template.body_html = "<p>Bonjour {{first_name}}</p><p>" + long_line + "</p><a href=\"{{link}}\">ici</a>{{pixel}}"
    template.save()
    make_campaign()
    assert sending.send_due().sent == 2
    message = next(m for m in smtp_server.messages if m["To"] == "person1@example.com")
    assert message["Subject"] == "Votre mot de passe expire, Zoë <b>&amp;</b>"
    assert message["From"].addresses[0].display_name == "Service informatique Zoë"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Bonjour Zoë <b>&amp;</b>,\n" + long_line + "\n.\n")
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    # The value is text in the HTML part: escaped, never markup; the template's own markup stays.
    assert "<p>Bonjour Zoë &lt;b&gt;&amp;amp;&lt;/b&gt;</p><p>" + long_line + "</p>" in html
    recipient = Recipient.objects.get(email="person1@example.com")
    assert message["Message-ID"] == recipient.message_id and message["Date"]


def test_a_text_only_template_sends_a_single_plain_part(smtp_server, make_campaign, template):
    template.body_html = ""
    template.save()
    make_people(1)
    make_campaign()
    sending.send_due()
    (message,) = smtp_server.messages
    assert message.get_content_type() == "text/plain" and "/p/c/" in message.get_content()


def test_sending_costs_no_query_per_message_beyond_its_two_writes(smtp_server, make_campaign):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_people(40)
    make_campaign()
    with CaptureQueriesContext(connection) as ctx:
        assert sending.send_due().sent == 40
    statements = [q["sql"] for q in ctx.captured_queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))]
    # Per message: its attempt and (merged into the next message's transaction) its "sent";
    # everything else (claims, templates, audit entries for start and finish) is per run or batch.
    per_message = [s for s in statements if s.startswith('UPDATE "phishing_recipient"')]
    assert len(per_message) <= 2 * 40 + 4
    assert len(statements) - len(per_message) <= 30
    assert not [s for s in statements if s.startswith("SELECT") and "phishing_phishingtemplate" in s][1:]
