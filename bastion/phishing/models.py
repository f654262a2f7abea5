"""Phishing simulation: sending profiles, verified domains, templates, landing pages, campaigns,
their recipients and what each recipient's token saw (tracking events)."""

import html
import re
import secrets
from urllib.parse import quote, urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

# --- sending --------------------------------------------------------------------------------


def validate_smtp_url(value: str) -> None:
    try:
        url = urlparse(value)
        url.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValidationError("The SMTP URL is not a valid address.") from None
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise ValidationError("The SMTP URL must look like smtp://host:587 or smtps://user:password@host:465.")


def mask_smtp_url(value: str) -> str:
    """The URL with its password replaced by asterisks: what may be shown or logged."""
    url = urlparse(value)
    if not url.password:
        return value
    netloc = url.netloc.replace(f":{url.password}@", ":********@", 1)
    return url._replace(netloc=netloc).geturl()


class SendingProfile(models.Model):
    """How simulations leave: an SMTP server (its URL holds the password, never shown back or
    logged), the sender address and how many messages a second it may take."""

    name = models.CharField(max_length=200, unique=True)
    smtp_url = models.CharField(max_length=500, validators=[validate_smtp_url],
                                help_text="smtp://user:password@host:587?tls=1 or smtps://…")
    from_address = models.EmailField()
    rate_per_second = models.PositiveIntegerField(default=50, validators=[MinValueValidator(1),
                                                                          MaxValueValidator(10_000)])
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # never the URL: it holds the password
        return f"<SendingProfile {self.pk} {self.name}>"

    @property
    def masked_url(self) -> str:
        return mask_smtp_url(self.smtp_url)

    @property
    def password(self) -> str:
        from urllib.parse import unquote

        return unquote(urlparse(self.smtp_url).password or "")


class VerifiedDomainQuerySet(models.QuerySet["VerifiedDomain"]):
    def verified(self) -> "VerifiedDomainQuerySet":
        return self.filter(verified_at__isnull=False)


class VerifiedDomain(models.Model):
    """A mail domain the organisation declared as its own: simulations go to these alone."""

    domain = models.CharField(max_length=253, unique=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    objects = VerifiedDomainQuerySet.as_manager()

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


def address_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower().rstrip(".")


def outside_domains(emails: list[str], domains: set[str]) -> list[str]:
    """The addresses whose domain is not one of `domains` (subdomains of one count as inside)."""
    def inside(domain: str) -> bool:
        return any(domain == d or domain.endswith("." + d) for d in domains)

    return [e for e in emails if not inside(address_domain(e))]


# --- templates and landing pages ------------------------------------------------------------

PLACEHOLDERS = ("first_name", "last_name", "manager", "department", "link", "report_link", "pixel")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Cue(models.TextChoices):
    """The kinds of cue a lure uses, after the NIST Phish Scale's categories."""

    ERRORS = "errors", "Errors (spelling, grammar, inconsistencies)"
    TECHNICAL = "technical", "Technical indicators (sender address, link targets, attachments)"
    VISUAL = "visual", "Visual presentation (logos, branding, formatting)"
    LANGUAGE = "language", "Language and content (generic greeting, request for credentials)"
    URGENCY = "urgency", "Urgency or threat"
    AUTHORITY = "authority", "Authority or impersonation"
    PREMISE = "premise", "Premise alignment (fits the recipient's work)"


def placeholders_in(text: str) -> set[str]:
    return {m.group(1) for m in _PLACEHOLDER.finditer(text or "")}


def fill(text: str, values: dict[str, str], *, escape: bool) -> str:
    """Put `values` in for each {{placeholder}}; one pass, so a value holding "{{link}}" stays
    text. Values are HTML-escaped when `escape` (except those already markup, see render)."""
    def sub(match: re.Match) -> str:
        value = values.get(match.group(1), match.group(0))
        return html.escape(value) if escape else value

    return _PLACEHOLDER.sub(sub, text or "")


class PhishingTemplate(models.Model):
    name = models.CharField(max_length=200, unique=True)
    from_name = models.CharField(max_length=200)
    subject = models.CharField(max_length=300)
    body_html = models.TextField(blank=True)
    body_text = models.TextField()
    difficulty = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1), MaxValueValidator(5)],
                                                  help_text="1 (easy to spot) to 5 (very hard)")
    cues = models.JSONField(default=list, blank=True, help_text="Cue kinds the lure uses")
    red_flags = models.JSONField(default=list, blank=True, help_text="[{flag, explanation}, …]")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        for field in ("subject", "body_html", "body_text"):
            unknown = placeholders_in(getattr(self, field)) - set(PLACEHOLDERS)
            if unknown:
                errors.setdefault(field, []).append(
                    "Unknown placeholder(s): " + ", ".join("{{" + n + "}}" for n in sorted(unknown))
                    + ". Use " + ", ".join("{{" + n + "}}" for n in PLACEHOLDERS) + ".")
        if "link" not in placeholders_in(self.body_text) | placeholders_in(self.body_html):
            errors.setdefault("body_text", []).append("The message needs a {{link}} to the landing page.")
        if not isinstance(self.cues, list) or any(c not in Cue.values for c in self.cues):
            errors.setdefault("cues", []).append("Cues must be a list of: " + ", ".join(Cue.values) + ".")
        if not isinstance(self.red_flags, list) or any(
                not isinstance(f, dict) or set(f) != {"flag", "explanation"}
                or not all(isinstance(v, str) and v.strip() for v in f.values()) for f in self.red_flags):
            errors.setdefault("red_flags", []).append("Each red flag needs a flag and an explanation.")
        if errors:
            raise ValidationError(errors)

    def render(self, values: dict[str, str]) -> tuple[str, str, str]:
        """Subject, text and HTML for one recipient. `values` holds the person's fields and the
        three addresses (link, report_link, pixel = the open pixel's address)."""
        text_values = {**values, "pixel": ""}
        subject = " ".join(fill(self.subject, text_values, escape=False).split())
        text = fill(self.body_text, text_values, escape=False)
        body_html = ""
        if self.body_html:
            pixel = values.get("pixel", "")
            marker = "\x00pixel\x00"
            body_html = fill(self.body_html, {**values, "pixel": marker}, escape=True)
            img = f'<img src="{html.escape(pixel)}" width="1" height="1" alt="">' if pixel else ""
            body_html = body_html.replace(html.escape(marker), img)
        return subject, text, body_html


class LandingPage(models.Model):
    """Where a click lands: a page that teaches (Markdown), optionally behind a fake form."""

    title = models.CharField(max_length=200)
    body_markdown = models.TextField(help_text="What the red flags were, what to do next time, how to report")
    shows_form = models.BooleanField(default=False, help_text="Show a fake sign-in form first; nothing typed "
                                                              "is ever sent or stored")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


# --- campaigns ------------------------------------------------------------------------------


class CampaignStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"


CAMPAIGN_TRANSITIONS: dict[str, set[str]] = {
    CampaignStatus.SCHEDULED: {CampaignStatus.SENDING, CampaignStatus.CANCELLED},
    CampaignStatus.SENDING: {CampaignStatus.FINISHED, CampaignStatus.CANCELLED},
    CampaignStatus.FINISHED: set(),
    CampaignStatus.CANCELLED: set(),
}


class RemedialRule(models.TextChoices):
    CLICK = "click", "On a click or a submitted form"
    SUBMIT = "submit", "On a submitted form only"


class Campaign(models.Model):
    name = models.CharField(max_length=200)
    templates = models.ManyToManyField(PhishingTemplate, related_name="campaigns")
    landing_page = models.ForeignKey(LandingPage, on_delete=models.PROTECT, related_name="campaigns")
    sending_profile = models.ForeignKey(SendingProfile, on_delete=models.PROTECT, related_name="campaigns")
    audience = models.ForeignKey("people.Group", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="campaigns", help_text="Blank for everyone in the directory")
    starts_at = models.DateTimeField()
    window_minutes = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(60 * 24 * 30)],
                                                 help_text="Delivery is spread evenly over this many minutes")
    status = models.CharField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.SCHEDULED,
                              db_index=True)
    remedial_programme = models.ForeignKey("awareness.Programme", null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="+")
    remedial_rule = models.CharField(max_length=16, choices=RemedialRule.choices, default=RemedialRule.CLICK)
    last_error = models.TextField(blank=True, help_text="Why sending paused, if it did")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]

    def __str__(self) -> str:
        return self.name

    def can_move_to(self, status: str) -> bool:
        return status in CAMPAIGN_TRANSITIONS[self.status]

    def move_to(self, status: str) -> None:
        """Change status in memory if the map allows it; ValueError otherwise. The caller saves."""
        if not self.can_move_to(status):
            raise ValueError(f"A {self.get_status_display().lower()} campaign cannot become "
                             f"{CampaignStatus(status).label.lower()}.")
        self.status = status


class RecipientStatus(models.TextChoices):
    PENDING = "pending", "Waiting to send"
    SENT = "sent", "Sent"
    REFUSED = "refused", "Refused (outside the verified domains)"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown (the worker stopped mid-send; not resent)"
    CANCELLED = "cancelled", "Not sent (campaign cancelled)"


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 bits


class Recipient(models.Model):
    """One person in one campaign: their lure, their token (the only credential of the tracking
    links), and the state of their one message: claimed → attempted → sent."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="phishing_recipients")
    email = models.EmailField(help_text="The address at creation")
    template = models.ForeignKey(PhishingTemplate, on_delete=models.PROTECT, related_name="+")
    token = models.CharField(max_length=64, unique=True, default=new_token)
    send_after = models.DateTimeField()
    status = models.CharField(max_length=16, choices=RecipientStatus.choices, default=RecipientStatus.PENDING)
    claim = models.CharField(max_length=32, blank=True, help_text="The batch that holds it")
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True, help_text="Handed to SMTP at")
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    remedial_at = models.DateTimeField(null=True, blank=True)
    remedial_problem = models.TextField(blank=True)

    class Meta:
        ordering = ["send_after", "id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "person"], name="phishing_recipient_once")]
        indexes = [
            models.Index(fields=["campaign", "status", "send_after"]),  # due recipients of a campaign
            models.Index(fields=["claim"]),  # a batch reads back what it claimed
            models.Index(fields=["claimed_at"], condition=models.Q(claimed_at__isnull=False),
                         name="phishing_recipient_claimed"),
        ]

    def __str__(self) -> str:
        return f"{self.email} in {self.campaign_id}"


class EventKind(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    SUBMITTED = "submitted", "Submitted the form"
    REPORTED = "reported", "Reported"


class AutomatedRule(models.TextChoices):
    HEAD = "head-request", "A HEAD request (browsers follow links with GET)"
    TOO_SOON = "too-soon", "Within seconds of delivery"
    SCANNER_AGENT = "scanner-agent", "A known scanner's user agent"
    SCANNER_NETWORK = "scanner-network", "From a network the admin listed as scanners"


class TrackingEvent(models.Model):
    """One hit on a recipient's link. The source address is kept only as its network (IPv4 /24,
    IPv6 /48), never the full address; the user agent is cut to 300 characters."""

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    automated = models.BooleanField(default=False)
    rule = models.CharField(max_length=32, choices=AutomatedRule.choices, blank=True)
    method = models.CharField(max_length=8, default="GET")
    user_agent = models.CharField(max_length=300, blank=True)
    network = models.CharField(max_length=64, blank=True)
    via = models.CharField(max_length=16, blank=True, help_text="link, add-in, …")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["recipient", "kind"])]


DEFAULT_SCANNER_AGENTS = [
    "bot", "crawler", "spider", "python-requests", "curl/", "wget", "go-http-client", "headlesschrome",
    "barracuda", "mimecast", "proofpoint", "safelinks", "google-safety", "microsoft office",
]


def default_scanner_agents() -> list[str]:
    return list(DEFAULT_SCANNER_AGENTS)


class TrackingRules(models.Model):
    """The automated-hit rules' settings (one row, edited by the security team)."""

    too_soon_seconds = models.PositiveIntegerField(default=10, validators=[MaxValueValidator(3600)])
    scanner_agents = models.JSONField(default=default_scanner_agents,
                                      help_text="Case-insensitive fragments of scanners' user agents")
    scanner_networks = models.JSONField(default=list, blank=True, help_text="CIDR blocks, e.g. 192.0.2.0/24")

    def __str__(self) -> str:
        return "Automated-hit rules"

    @classmethod
    def current(cls) -> "TrackingRules":
        rules = cls.objects.order_by("pk").first()
        return rules or cls.objects.create()


def link_for(path: str, token: str) -> str:
    return f"{settings.BASE_URL}/p/{path}/{quote(token)}"


# --- webhooks -------------------------------------------------------------------------------


def validate_webhook_url(value: str) -> None:
    try:
        url = urlparse(value)
        url.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValidationError("The webhook URL is not a valid address.") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValidationError("The webhook URL must start with https:// (or http://) and name a host.")


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class Webhook(models.Model):
    """Where tracking events are POSTed, signed with the secret (shown once, at creation)."""

    url = models.CharField(max_length=500, validators=[validate_webhook_url])
    secret = models.CharField(max_length=100, default=new_webhook_secret, editable=False)
    events = models.JSONField(default=list, help_text="Event kinds sent: delivered, opened, clicked, …")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:  # never the secret
        return f"<Webhook {self.pk} {self.url}>"

    def clean(self) -> None:
        if (not isinstance(self.events, list) or not self.events
                or any(e not in EventKind.values for e in self.events)):
            raise ValidationError({"events": "Choose one or more of: " + ", ".join(EventKind.values) + "."})


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be delivered"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up after the last attempt)"


class WebhookDelivery(models.Model):
    """One event for one webhook: written with the event, POSTed by the periodic job."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=16, choices=EventKind.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
