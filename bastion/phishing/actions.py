"""Writes that touch several records: domains, campaigns (creation with its recipients,
cancellation) and the remedial training a click or submission calls for."""

import logging
import smtplib
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from bastion.audit.chain import record
from bastion.people.models import Person, PersonStatus

from .models import (
    Campaign,
    CampaignStatus,
    EventKind,
    LandingPage,
    PhishingTemplate,
    Recipient,
    RecipientStatus,
    RemedialRule,
    SendingProfile,
    TrackingRules,
    VerifiedDomain,
    Webhook,
    new_token,
    outside_domains,
)

logger = logging.getLogger(__name__)


def do_declare_domain(domain: str, acting_user) -> VerifiedDomain:
    """Declare `domain` as the organisation's own, so simulations may be sent to it."""
    domain = domain.strip().lower().rstrip(".")
    if not domain or "." not in domain or "@" in domain or len(domain) > 253:
        raise ValueError(f"“{domain}” is not a mail domain (e.g. example.com).")
    with transaction.atomic():
        found, _ = VerifiedDomain.objects.get_or_create(domain=domain, defaults={"declared_by": acting_user})
        if found.verified_at is None:
            found.verified_at = timezone.now()
            found.declared_by = acting_user
            found.save()
            record("phishing.domain_declared", actor=acting_user, obj=found, after={"domain": domain})
    return found


def verified_domains() -> set[str]:
    return set(VerifiedDomain.objects.verified().values_list("domain", flat=True))


def refusal(emails: list[str], domains: set[str]) -> str | None:
    """A message fit to show if any address is outside the verified domains, else None."""
    if not domains:
        return ("No verified domain is declared: Bastion sends simulations only to the organisation's own "
                "domains. Declare them first.")
    outside = outside_domains(emails, domains)
    if not outside:
        return None
    shown = ", ".join(outside[:5]) + (f" and {len(outside) - 5} more" if len(outside) > 5 else "")
    return (f"{len(outside)} recipient(s) are outside the verified domains ({', '.join(sorted(domains))}): "
            f"{shown}. Bastion sends simulations only to the organisation's own domains.")


def spread(starts_at: datetime, window_minutes: int, count: int) -> list[datetime]:
    """`count` send times spread evenly over the window, the first at its start."""
    if count <= 0:
        return []
    step = timedelta(minutes=window_minutes) / count
    return [starts_at + step * i for i in range(count)]


def do_create_campaign(*, name: str, templates: list[PhishingTemplate], landing_page: LandingPage,
                       sending_profile: SendingProfile, audience, starts_at: datetime, window_minutes: int,
                       remedial_programme=None, remedial_rule: str = RemedialRule.CLICK,
                       acting_user=None) -> Campaign:
    """Create a campaign and its recipients (the audience's active people now), each with a
    template (spread in turn), a token and a send time in the window. ValueError, fit to show,
    if anyone is outside the verified domains, the audience is empty, or the input is wrong."""
    if not templates:
        raise ValueError("Choose at least one template.")
    if timezone.is_naive(starts_at):
        raise ValueError("Give the start time with its time zone (e.g. 2026-03-01T09:00:00+01:00).")
    for template in templates:
        try:
            template.clean()
        except ValidationError as exc:
            raise ValueError(f"Template “{template.name}” cannot be sent: " + " ".join(exc.messages)) from None
    if window_minutes < 0:
        raise ValueError("The send window cannot end before it starts.")
    if window_minutes > 60 * 24 * 30:
        raise ValueError("The send window is at most 30 days long.")
    if remedial_programme is not None and not remedial_programme.remedial:
        raise ValueError(f"“{remedial_programme.name}” is not a remedial programme.")
    people = audience.people() if audience is not None else Person.objects.all()
    # The department and manager are kept on each recipient as they are now (results by group).
    rows = list(people.filter(status=PersonStatus.ACTIVE).order_by("pk")
                .values_list("pk", "email", "department", "manager"))
    if not rows:
        raise ValueError("The audience has nobody active in the directory.")
    problem = refusal([row[1] for row in rows], verified_domains())
    if problem:
        raise ValueError(problem)
    templates = sorted(templates, key=lambda t: t.pk)
    times = spread(starts_at, window_minutes, len(rows))
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name, landing_page=landing_page, sending_profile=sending_profile, audience=audience,
            starts_at=starts_at, window_minutes=window_minutes, remedial_programme=remedial_programme,
            remedial_rule=remedial_rule, created_by=acting_user)
        campaign.templates.set(templates)
        Recipient.objects.bulk_create([
            Recipient(campaign=campaign, person_id=pk, email=email, template=templates[i % len(templates)],
                      token=new_token(), send_after=times[i], department=department, manager_id=manager)
            for i, (pk, email, department, manager) in enumerate(rows)], batch_size=2000)
        record("phishing.campaign_created", actor=acting_user, obj=campaign,
               after={"name": name, "recipients": len(rows), "templates": [t.name for t in templates],
                      "starts_at": starts_at.isoformat(), "window_minutes": window_minutes})
    return campaign


def do_cancel_campaign(campaign: Campaign, acting_user) -> Campaign:
    """Stop the campaign: no message not yet handed to the mail server is sent."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        before = campaign.status
        campaign.move_to(CampaignStatus.CANCELLED)
        campaign.finished_at = timezone.now()
        campaign.save(update_fields=["status", "finished_at"])
        # Only unclaimed ones: a batch in flight checks the status before each message.
        unsent = Recipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING,
                                          attempted_at__isnull=True).update(status=RecipientStatus.CANCELLED)
        record("phishing.campaign_cancelled", actor=acting_user, obj=campaign,
               before={"status": before}, after={"status": campaign.status, "not_sent": unsent})
    return campaign


def apply_remedial(recipient: Recipient, kind: str) -> bool:
    """By the campaign's rule, assign its remedial course once per recipient for a human click
    or submission. True when training is (or already was) assigned for this recipient."""
    campaign = recipient.campaign
    if campaign.remedial_programme_id is None or kind not in (EventKind.CLICKED, EventKind.SUBMITTED):
        return False
    if kind == EventKind.CLICKED and campaign.remedial_rule == RemedialRule.SUBMIT:
        return False
    if recipient.remedial_at is not None:
        return not recipient.remedial_problem
    from bastion.awareness import programme_actions

    # Claimed in the transaction that assigns: of two concurrent hits one assigns, and an
    # unexpected failure leaves the recipient unclaimed for the next hit.
    now = timezone.now()
    programme = campaign.remedial_programme
    assert programme is not None
    with transaction.atomic():
        if not Recipient.objects.filter(pk=recipient.pk, remedial_at__isnull=True).update(remedial_at=now):
            return True
        recipient.remedial_at = now
        try:
            programme_actions.assign_remedial(recipient.person, programme,
                                              f"phishing:campaign-{campaign.pk}:recipient-{recipient.pk}")
        except ValueError as exc:
            Recipient.objects.filter(pk=recipient.pk).update(remedial_problem=str(exc)[:1000])
            recipient.remedial_problem = str(exc)
            logger.warning("Remedial training not assigned for phishing recipient %s: %s", recipient.pk, exc)
            return False
    return True


def do_update_tracking_rules(*, too_soon_seconds: int, scanner_agents: list[str], scanner_networks: list[str],
                             acting_user, no_human_signal: bool | None = None,
                             no_human_signal_seconds: int | None = None) -> TrackingRules:
    """Change the automated-hit rules (validated: seconds 0–3600, agents non-empty fragments,
    networks in CIDR form, the no-human-signal wait 10–86400 seconds); ValueError with a message
    fit to show. The no-human-signal settings left as None stay as they are; switching that rule
    on makes it judge clicks from now on, never earlier ones."""
    from . import tracking

    if not 0 <= too_soon_seconds <= 3600:
        raise ValueError("The too-soon window is 0 to 3600 seconds.")
    if no_human_signal_seconds is not None and not 10 <= no_human_signal_seconds <= 86400:
        raise ValueError("The wait for a human signal is 10 to 86400 seconds.")
    agents = sorted({a.strip().lower() for a in scanner_agents if a.strip()})
    if any(len(a) > 200 for a in agents) or len(agents) > 500:
        raise ValueError("Up to 500 user-agent fragments of at most 200 characters each.")
    if len(scanner_networks) > 500:
        raise ValueError("Up to 500 networks.")
    networks = tracking.validate_networks(scanner_networks)
    with transaction.atomic():
        rules = TrackingRules.current()
        before = {"too_soon_seconds": rules.too_soon_seconds, "scanner_agents": rules.scanner_agents,
                  "scanner_networks": rules.scanner_networks, "no_human_signal": rules.no_human_signal,
                  "no_human_signal_seconds": rules.no_human_signal_seconds}
        rules.too_soon_seconds, rules.scanner_agents, rules.scanner_networks = too_soon_seconds, agents, networks
        if no_human_signal is not None and no_human_signal != rules.no_human_signal:
            rules.no_human_signal = no_human_signal
            rules.no_human_signal_since = timezone.now() if no_human_signal else None
        if no_human_signal_seconds is not None:
            rules.no_human_signal_seconds = no_human_signal_seconds
        rules.save()
        record("phishing.tracking_rules_changed", actor=acting_user, obj=rules, before=before,
               after={"too_soon_seconds": too_soon_seconds, "scanner_agents": agents, "scanner_networks": networks,
                      "no_human_signal": rules.no_human_signal,
                      "no_human_signal_seconds": rules.no_human_signal_seconds})
        transaction.on_commit(tracking.forget_rules)
    return rules


def do_create_sending_profile(*, name: str, smtp_url: str, from_address: str, rate_per_second: int,
                              acting_user) -> SendingProfile:
    """Validate and save a sending profile; the audit entry holds the URL without its password."""
    profile = SendingProfile(name=name.strip(), smtp_url=smtp_url.strip(), from_address=from_address.strip(),
                             rate_per_second=rate_per_second)
    profile.full_clean()
    with transaction.atomic():
        profile.save()
        record("phishing.profile_created", actor=acting_user, obj=profile,
               after={"name": profile.name, "smtp_url": profile.masked_url, "from_address": profile.from_address,
                      "rate_per_second": rate_per_second})
    return profile


def do_create_template(*, acting_user, **fields) -> PhishingTemplate:
    """Validate (placeholders, difficulty, cues, red flags) and save a template."""
    template = PhishingTemplate(**fields)
    template.full_clean()
    with transaction.atomic():
        template.save()
        record("phishing.template_created", actor=acting_user, obj=template,
               after={"name": template.name, "subject": template.subject, "difficulty": template.difficulty})
    return template


def do_create_landing_page(*, title: str, body_markdown: str, shows_form: bool, acting_user) -> LandingPage:
    page = LandingPage(title=title.strip(), body_markdown=body_markdown, shows_form=shows_form)
    page.full_clean()
    with transaction.atomic():
        page.save()
        record("phishing.landing_page_created", actor=acting_user, obj=page,
               after={"title": page.title, "shows_form": shows_form})
    return page


def do_create_webhook(*, url: str, events: list[str], acting_user) -> Webhook:
    """Validate (an http(s) URL, known events) and save a webhook with a fresh secret; the
    caller shows the secret once. The audit entry never holds it."""
    from . import webhooks

    webhook = Webhook(url=url.strip(), events=sorted(set(events)), created_by=acting_user)
    webhook.full_clean()
    with transaction.atomic():
        webhook.save()
        record("phishing.webhook_created", actor=acting_user, obj=webhook,
               after={"url": webhook.url, "events": webhook.events})
        transaction.on_commit(webhooks.forget_subscribers)
    webhooks.forget_subscribers()  # and now: this process sees it at once, even inside a transaction
    return webhook


def do_deactivate_webhook(webhook: Webhook, acting_user) -> Webhook:
    """Stop sending to the webhook; its undelivered events are marked failed when next due."""
    from . import webhooks

    with transaction.atomic():
        Webhook.objects.filter(pk=webhook.pk).update(active=False)
        webhook.active = False
        record("phishing.webhook_deactivated", actor=acting_user, obj=webhook, before={"active": True},
               after={"active": False})
        transaction.on_commit(webhooks.forget_subscribers)
    webhooks.forget_subscribers()  # and now: this process sees it at once, even inside a transaction
    return webhook


def do_test_send(campaign: Campaign, to: str, acting_user) -> list[str]:
    """Send one message of each of the campaign's templates to `to` (which must be in a
    verified domain) and record it. ValueError, fit to show, for an address outside them or
    a mail server that refused; the audit entry is written only for a send that went out."""
    from . import sending

    to = to.strip()
    problem = refusal([to], verified_domains())
    if problem:
        raise ValueError(problem)
    try:
        names = sending.send_test(campaign, to)
    except (OSError, smtplib.SMTPException) as exc:
        raise ValueError("The test message was not sent: " + sending.describe(exc, campaign.sending_profile)) from None
    record("phishing.test_sent", actor=acting_user, obj=campaign, after={"to": to, "templates": names})
    return names


# --- edits from the management pages -------------------------------------------------------

TEMPLATE_FIELDS = ("name", "from_name", "subject", "body_html", "body_text", "difficulty", "cues", "red_flags")


def do_update_template(template: PhishingTemplate, *, acting_user, **fields) -> PhishingTemplate:
    """Validate (placeholders, difficulty, cues, red flags) and save changes to a template.
    ValidationError per field, nothing saved, if any is wrong. Messages already sent keep
    the text they were sent with."""
    before = {f: getattr(template, f) for f in TEMPLATE_FIELDS}
    for name, value in fields.items():
        if name not in TEMPLATE_FIELDS:
            raise TypeError(f"Unknown template field {name}")
        setattr(template, name, value)
    template.full_clean()
    with transaction.atomic():
        template.save()
        changed = [f for f in TEMPLATE_FIELDS if before[f] != getattr(template, f)]
        record("phishing.template_changed", actor=acting_user, obj=template,
               before={"name": before["name"], "subject": before["subject"], "difficulty": before["difficulty"]},
               after={"name": template.name, "subject": template.subject, "difficulty": template.difficulty,
                      "changed": changed})
    return template


def do_update_landing_page(page: LandingPage, *, title: str, body_markdown: str, shows_form: bool,
                           acting_user) -> LandingPage:
    """Validate and save changes to a landing page (ValidationError per field)."""
    before = {"title": page.title, "shows_form": page.shows_form}
    page.title, page.body_markdown, page.shows_form = title.strip(), body_markdown, shows_form
    page.full_clean()
    with transaction.atomic():
        page.save()
        record("phishing.landing_page_changed", actor=acting_user, obj=page, before=before,
               after={"title": page.title, "shows_form": shows_form})
    return page


def do_update_sending_profile(profile: SendingProfile, *, name: str, smtp_url: str, from_address: str,
                              rate_per_second: int, acting_user) -> SendingProfile:
    """Validate and save changes to a sending profile. A `smtp_url` without a password keeps
    the stored one when nothing else of the connection changed (scheme, user, host, port, TLS
    options), so a form never needs to show it; otherwise ValidationError asks for it again.
    The audit entry holds the URL without its password."""
    from urllib.parse import quote, urlparse

    smtp_url = smtp_url.strip()
    before = {"name": profile.name, "smtp_url": profile.masked_url, "from_address": profile.from_address,
              "rate_per_second": profile.rate_per_second}
    try:
        new, old = urlparse(smtp_url), urlparse(profile.smtp_url)
        # Everything that says where and how the password is sent: scheme, user, host, port and the
        # TLS options of the query. Any change needs the password again, or a team member could
        # send the stored one to their own server.
        same_connection = ((new.scheme.lower(), new.username, new.hostname, new.port, new.path, new.query)
                           == (old.scheme.lower(), old.username, old.hostname, old.port, old.path, old.query))
        keep = bool(not new.password and old.password and new.username and same_connection)
        retype = bool(not new.password and old.password and new.username and not same_connection)
    except ValueError:
        keep = retype = False
    if retype:
        raise ValidationError({"smtp_url": "Type the password in the URL again: the scheme, server, port, user "
                                           "or TLS options changed, and the stored password is only ever sent "
                                           "where it was given for."})
    if keep:
        netloc = new.netloc.replace(f"{new.username}@", f"{new.username}:{quote(profile.password, safe='')}@", 1)
        smtp_url = new._replace(netloc=netloc).geturl()
    profile.name, profile.smtp_url = name.strip(), smtp_url
    profile.from_address, profile.rate_per_second = from_address.strip(), rate_per_second
    profile.full_clean()
    with transaction.atomic():
        profile.save()
        record("phishing.profile_changed", actor=acting_user, obj=profile, before=before,
               after={"name": profile.name, "smtp_url": profile.masked_url, "from_address": profile.from_address,
                      "rate_per_second": rate_per_second})
    return profile


def do_remove_domain(domain: VerifiedDomain, acting_user) -> None:
    """Stop sending to a domain: campaigns created later refuse its addresses, and sending
    refuses any not yet sent."""
    with transaction.atomic():
        record("phishing.domain_removed", actor=acting_user, obj=domain, before={"domain": domain.domain})
        domain.delete()


def do_test_profile(profile: SendingProfile, to: str, acting_user) -> None:
    """Send one plain message through the profile to `to` (in a verified domain), to check the
    server and credentials. ValueError, fit to show, for an address outside the domains or a
    mail server that refused; the audit entry is written only for a send that went out."""
    from django.core.mail import EmailMessage

    from . import sending

    to = to.strip()
    problem = refusal([to], verified_domains())
    if problem:
        raise ValueError(problem)
    connection = sending.smtp_connection(profile)
    message = EmailMessage(subject=f"Bastion test of the sending profile “{profile.name}”",
                           body="This message checks that Bastion can send phishing simulations through this "
                                "mail server. Nothing else to do.",
                           from_email=profile.from_address, to=[to])
    try:
        connection.send_messages([message])
    except (OSError, smtplib.SMTPException) as exc:
        raise ValueError("The test message was not sent: " + sending.describe(exc, profile)) from None
    record("phishing.profile_tested", actor=acting_user, obj=profile, after={"to": to})
