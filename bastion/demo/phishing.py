"""The demo's phishing simulation: the organisation's domain, a sending profile, two lures, a
teaching landing page, two finished campaigns to Sales (one before the training programme
started, one after, with honest and automated hits) and one scheduled with remedial training."""

import random
from datetime import datetime, time, timedelta

from django.db.models import F
from django.utils import timezone

from bastion.awareness.models import Course, Programme
from bastion.people.models import Group
from bastion.phishing.actions import do_create_campaign, do_declare_domain
from bastion.phishing.models import (
    AutomatedRule,
    Campaign,
    CampaignStatus,
    EventKind,
    LandingPage,
    PhishingTemplate,
    Recipient,
    RecipientStatus,
    SendingProfile,
    TrackingEvent,
)

from .people import DOMAIN

LANDING = """This message was a **phishing simulation** sent by the security team. No harm done, and
nothing you typed was kept.

## What to do next time

- Look at the sender's address, not just the name shown.
- Hover over a link before you click it: does it go where it says?
- Be wary of urgency ("today", "at once") and of requests for your password.

## How to report

Use the **Report** button in your mail client, or forward the message to the security team.
"""

# (share opened, clicked, submitted, reported, scanner clicks) per campaign: before and after training.
BEHAVIOUR = {"before": (0.62, 0.27, 0.12, 0.07, 0.06), "after": (0.58, 0.11, 0.04, 0.31, 0.06)}


def _templates() -> list[PhishingTemplate]:
    password = PhishingTemplate.objects.create(
        name="Password expires today", from_name="IT Service Desk", difficulty=2, cues=["urgency", "technical"],
        subject="{{first_name}}, your password expires today",
        body_text="Hello {{first_name}},\n\nYour password expires today. Keep your current password here:\n"
                  "{{link}}\n\nIT Service Desk\n\nSuspicious? Report it: {{report_link}}\n",
        body_html="<p>Hello {{first_name}},</p><p>Your password expires <b>today</b>. "
                  "<a href=\"{{link}}\">Keep your current password</a>.</p><p>IT Service Desk</p>"
                  "<p><small><a href=\"{{report_link}}\">Report this message</a></small></p>{{pixel}}",
        red_flags=[{"flag": "Expires today", "explanation": "Urgency pushes you to act before you think."},
                   {"flag": "Keep your current password", "explanation": "IT never asks you to confirm a "
                                                                          "password through a link."}])
    shared = PhishingTemplate.objects.create(
        name="Document shared by your manager", from_name="Docs sharing", difficulty=4,
        cues=["authority", "premise", "visual"],
        subject="{{manager}} shared \u201cQ3 targets - {{department}}\u201d with you",
        body_text="{{manager}} shared a document with you: Q3 targets - {{department}}\n\nOpen: {{link}}\n\n"
                  "Suspicious? Report it: {{report_link}}\n",
        body_html="<p>{{manager}} shared a document with you:</p><p><a href=\"{{link}}\">Q3 targets - "
                  "{{department}}</a></p><p><small><a href=\"{{report_link}}\">Report this message</a>"
                  "</small></p>{{pixel}}",
        red_flags=[{"flag": "Docs sharing", "explanation": "A share notice from an address outside your company."},
                   {"flag": "Q3 targets", "explanation": "A plausible premise for your team: the hardest cue "
                                                         "to spot."}])
    return [password, shared]


def _finished(campaign: Campaign, behaviour: tuple, rng: random.Random) -> None:
    opened, clicked, submitted, reported, scanner = behaviour
    Recipient.objects.filter(campaign=campaign).update(
        status=RecipientStatus.SENT, attempted_at=F("send_after"), sent_at=F("send_after"))
    events: list[TrackingEvent] = []

    def hit(pk: int, sent_at: datetime, kind: str, after_minutes: float, automated_rule: str = "") -> None:
        events.append(TrackingEvent(recipient_id=pk, kind=kind, at=sent_at + timedelta(minutes=after_minutes),
                                    automated=bool(automated_rule), rule=automated_rule,
                                    user_agent="Barracuda Sentinel" if automated_rule else "Mozilla/5.0",
                                    network="198.51.100.0/24"))

    for pk, sent_at in campaign.recipients.values_list("pk", "send_after"):  # sent at its time
        if rng.random() < scanner:
            hit(pk, sent_at, EventKind.CLICKED, 0.05, AutomatedRule.TOO_SOON)
        if rng.random() < opened:
            hit(pk, sent_at, EventKind.OPENED, rng.uniform(2, 600))
            if rng.random() < clicked / opened:
                hit(pk, sent_at, EventKind.CLICKED, rng.uniform(5, 700))
                if rng.random() < submitted / clicked:
                    hit(pk, sent_at, EventKind.SUBMITTED, rng.uniform(6, 710))
            elif rng.random() < reported / (1 - clicked / opened):
                hit(pk, sent_at, EventKind.REPORTED, rng.uniform(3, 240))
    TrackingEvent.objects.bulk_create(events, batch_size=5000)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.FINISHED,
        finished_at=campaign.starts_at + timedelta(minutes=campaign.window_minutes + 5))


def load_phishing(*, seed: int = 2026) -> None:
    rng = random.Random(seed)
    do_declare_domain(DOMAIN, None)
    # A real install points this at its own relay; the demo's finished campaigns were "sent" already.
    profile = SendingProfile.objects.create(name="Company relay", smtp_url="smtp://127.0.0.1:1025",
                                            from_address=f"it-servicedesk@{DOMAIN}", rate_per_second=200)
    templates = _templates()
    page = LandingPage.objects.create(title="That was a phishing simulation", body_markdown=LANDING,
                                      shows_form=True)
    sales = Group.objects.get(name="Sales")
    today = timezone.localdate()
    for name, days_ago, key in (("Password expiry (baseline)", 420, "before"),
                                ("Shared document (after training)", 60, "after")):
        starts_at = datetime.combine(today - timedelta(days=days_ago), time(9), tzinfo=timezone.get_current_timezone())
        campaign = do_create_campaign(name=name, templates=templates, landing_page=page, sending_profile=profile,
                                      audience=sales, starts_at=starts_at, window_minutes=240)
        _finished(campaign, BEHAVIOUR[key], rng)
    course = Course.objects.filter(title__icontains="phishing").order_by("pk").first()
    assert course is not None, "the starter curriculum has a phishing course"
    remedial = Programme.objects.create(name="Phishing refresher (remedial)", course=course, remedial=True,
                                        on_hire=False, recurring_months=None, due_days=14)
    starts_at = datetime.combine(today + timedelta(days=14), time(9), tzinfo=timezone.get_current_timezone())
    do_create_campaign(name="Quarterly simulation", templates=templates, landing_page=page, sending_profile=profile,
                       audience=sales, starts_at=starts_at, window_minutes=480, remedial_programme=remedial)
