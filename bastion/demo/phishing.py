"""The demo's phishing simulation: the organisation's domain, a sending profile, two lures, a
teaching landing page, two finished campaigns to Sales (one before the training programme
started, one after, with honest and automated hits) and one scheduled with remedial training;
the reporting mailbox with two reported emails, one to triage and one triaged."""

import random
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.db.models import F
from django.utils import timezone

from bastion.awareness.models import Course, Programme
from bastion.people.models import Group, Person
from bastion.phishing import tracking
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
    tracking.refresh_summaries(campaign.recipients.all())  # written in bulk: the summaries after
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
    load_reported_email()


def _forward(reporter: str, original: EmailMessage, note: str, at: datetime) -> bytes:
    outer = EmailMessage()
    outer["From"], outer["To"] = reporter, f"report-phishing@{DOMAIN}"
    outer["Subject"] = f"Fwd: {original['Subject']}"
    outer["Date"], outer["Message-ID"] = format_datetime(at), make_msgid(domain=DOMAIN)
    outer.set_content(note)
    outer.add_attachment(original)
    return outer.as_bytes()


def load_reported_email() -> None:
    """The reporting mailbox (disabled: the demo has no IMAP server) and two emails employees
    forwarded to it, read through the same code as the poller: one new, one already triaged."""
    from bastion.accounts.models import Role, User
    from bastion.phishing import mailbox, reports

    box = reports.do_save_mailbox(None, acting_user=None, name="report-phishing@" + DOMAIN, host="imap." + DOMAIN,
                                  port=993, security="tls", username="report-phishing",
                                  password="demo-password-not-used", folder="INBOX",  # noqa: S106 - disabled
                                  processed_folder="Processed by Bastion", enabled=False)
    staff = list(Person.objects.filter(status="active", department="Sales").order_by("pk")[:2])
    now = timezone.now()
    invoice = EmailMessage()
    invoice["From"] = "Accounts Payable <ap@invoices-docusign.example.net>"
    invoice["To"], invoice["Subject"] = staff[0].email, "Overdue invoice INV-20931: payment blocked"
    invoice["Date"], invoice["Message-ID"] = format_datetime(now - timedelta(hours=3)), make_msgid(domain="example.net")
    invoice.set_content("Your supplier payment is blocked. Review the invoice at "
                        "https://invoices-docusign.example.net/review?inv=20931 before 17:00 today.")
    invoice.add_alternative('<p>Your supplier payment is <b>blocked</b>.</p><p><a href="https://invoices-docusign'
                            '.example.net/review?inv=20931">Review invoice</a></p>', subtype="html")
    invoice.add_attachment(b"PK\x03\x04 demo", maintype="application", subtype="zip", filename="INV-20931.zip")
    newsletter = EmailMessage()
    newsletter["From"] = "Webinars <events@cloud-vendor.example.org>"
    newsletter["To"], newsletter["Subject"] = staff[1].email, "Last seats: cloud cost webinar"
    newsletter["Date"], newsletter["Message-ID"] = format_datetime(now - timedelta(days=2)), make_msgid(domain="example.org")
    newsletter.set_content("Register at https://cloud-vendor.example.org/webinar?utm=mail. Unsubscribe any time.")
    for uid, (person, original, note, at) in enumerate([
            (staff[1], newsletter, "Is this safe? I never signed up.", now - timedelta(days=2)),
            (staff[0], invoice, "This came in this morning, looks fake.", now - timedelta(hours=2))], start=1):
        raw = _forward(person.email, original, note, at)
        mailbox.process(box, 1, uid, raw, len(raw))
    lead = User.objects.filter(role=Role.SECURITY_LEAD, is_active=True).order_by("pk").first()
    webinar = box.reports.get(subject=newsletter["Subject"])
    reports.do_triage(webinar, acting_user=lead, status="resolved", verdict="spam",
                      note="Marketing mail, not malicious. Thanked the reporter.", assign=True, assigned_to=lead)
