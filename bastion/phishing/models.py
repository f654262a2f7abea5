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


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Elements whose end tag HTML lets one leave out (a closing parent or sibling ends them).
_OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "colgroup",
                 "html", "head", "body"}


def html_problem(markup: str) -> str | None:
    """Why `markup` is broken HTML (an unterminated tag, an end tag that closes nothing, an
    element left open), or None. Email HTML is forgiving; this catches the slips that make a
    mail client show a different message than the preview."""
    from html.parser import HTMLParser

    open_tags: list[tuple[str, int]] = []
    problems: list[str] = []

    class Checker(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag not in _VOID:
                open_tags.append((tag, self.getpos()[0]))

        def handle_endtag(self, tag):
            if tag in _VOID:
                return
            names = [t for t, _ in open_tags]
            if tag not in names:
                problems.append(f"the end tag </{tag}> on line {self.getpos()[0]} closes nothing")
                return
            while open_tags:
                name, line = open_tags.pop()
                if name == tag:
                    break
                if name not in _OPTIONAL_END:
                    problems.append(f"<{name}> opened on line {line} is never closed")

    checker = Checker(convert_charrefs=True)
    checker.feed(markup)
    if re.match(r"</?[A-Za-z]", checker.rawdata):  # what is left unparsed: a tag with no ">"
        problems.append("it ends inside a tag (a “<” without its “>”)")
    checker.close()
    problems += [f"<{name}> opened on line {line} is never closed" for name, line in open_tags
                 if name not in _OPTIONAL_END]
    if not problems:
        return None
    return "The HTML body is broken: " + "; ".join(problems[:3]) + "."


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
        broken = html_problem(self.body_html) if self.body_html else None
        if broken:
            errors.setdefault("body_html", []).append(broken)
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
    results_changed_at = models.DateTimeField(null=True, blank=True, help_text="When hits already recorded were "
                                                                               "flagged later (results' cache key)")
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
    deferrals = models.PositiveSmallIntegerField(default=0, help_text="Times the mail server said “try later”")
    remedial_at = models.DateTimeField(null=True, blank=True)
    remedial_problem = models.TextField(blank=True)
    # What the recipient did, kept with each event recorded (tracking.py), so that a campaign's
    # figures read its recipients without its events: for each kind, the first event (raw) and
    # the first no rule flagged (filtered; cleared again when a rule flags it later).
    first_opened_at = models.DateTimeField(null=True, blank=True)
    first_clicked_at = models.DateTimeField(null=True, blank=True)
    first_submitted_at = models.DateTimeField(null=True, blank=True)
    first_reported_at = models.DateTimeField(null=True, blank=True)
    human_opened_at = models.DateTimeField(null=True, blank=True)
    human_clicked_at = models.DateTimeField(null=True, blank=True)
    human_submitted_at = models.DateTimeField(null=True, blank=True)
    human_reported_at = models.DateTimeField(null=True, blank=True)
    # The person's department and manager when the campaign was created, so the results by
    # department and by manager read one table and stay as they were: someone who moves later
    # keeps their result under the department they were in when they received the simulation.
    department = models.CharField(max_length=100, blank=True, help_text="At creation")
    manager = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                help_text="At creation")

    class Meta:
        ordering = ["send_after", "id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "person"], name="phishing_recipient_once")]
        indexes = [
            models.Index(fields=["campaign", "status", "send_after"]),  # due recipients of a campaign
            models.Index(fields=["claim"]),  # a batch reads back what it claimed
            models.Index(fields=["campaign", "department"], name="phishing_recipient_department"),
            models.Index(fields=["campaign", "manager"], name="phishing_recipient_manager"),
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
    NO_HUMAN_SIGNAL = "no-human-signal", "A click no person followed up on the landing page"


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
    human_at = models.DateTimeField(null=True, blank=True, help_text="A click: when a person interacted with "
                                                                     "the landing page after it")

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["recipient", "kind"]),
            # The clicks the "no human signal" rule has still to decide on.
            models.Index(fields=["at"], name="phishing_click_unconfirmed",
                         condition=models.Q(kind="clicked", automated=False, human_at__isnull=True)),
            # The campaign page's flagged hits, newest first: a page is read from the index's end.
            models.Index(fields=["-at", "-id", "recipient"], name="phishing_event_flagged",
                         condition=models.Q(automated=True)),
        ]


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
    no_human_signal = models.BooleanField(default=False, help_text="Flag clicks no person followed up on the "
                                                                    "landing page")
    no_human_signal_seconds = models.PositiveIntegerField(default=120, validators=[MinValueValidator(10),
                                                                                   MaxValueValidator(86400)])
    no_human_signal_since = models.DateTimeField(null=True, blank=True, help_text="When the rule was switched "
                                                                                  "on: it judges clicks from then")

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


# --- reporting mailbox and reported email ---------------------------------------------------


class MailboxSecurity(models.TextChoices):
    TLS = "tls", "Implicit TLS (IMAPS, usually port 993)"
    STARTTLS = "starttls", "STARTTLS (usually port 143)"
    NONE = "none", "None: plaintext (loopback only, unless explicitly allowed)"


_FOLDER = re.compile(r"[A-Za-z0-9 ._/&+\-]{1,200}")


def validate_folder(value: str) -> None:
    if not _FOLDER.fullmatch(value or "") or value.strip() != value:
        raise ValidationError("A folder name is 1 to 200 letters, digits, spaces and . _ / & + - "
                              "(for example INBOX or Processed).")


def is_loopback(host: str) -> bool:
    import ipaddress

    host = (host or "").strip().lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ReportingMailbox(models.Model):
    """The IMAP mailbox employees forward suspicious email to. Its password is stored to log in
    and never shown back or logged; plaintext IMAP is refused to a host that is not loopback
    unless explicitly allowed."""

    name = models.CharField(max_length=200, unique=True)
    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField(default=993, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    security = models.CharField(max_length=16, choices=MailboxSecurity.choices, default=MailboxSecurity.TLS)
    allow_plaintext = models.BooleanField(default=False, help_text="Allow plaintext IMAP to a host that is not "
                                                                   "loopback (the password crosses the network "
                                                                   "unencrypted)")
    username = models.CharField(max_length=200)
    password = models.CharField(max_length=500, blank=True)
    folder = models.CharField(max_length=200, default="INBOX", validators=[validate_folder])
    processed_folder = models.CharField(max_length=200, blank=True, validators=[validate_folder],
                                        help_text="Processed mail is moved here; blank: it stays, flagged "
                                                  "\\Seen and $BastionProcessed")
    enabled = models.BooleanField(default=True)
    trusted_authserv_id = models.CharField(
        max_length=253, blank=True, verbose_name="Trusted authserv-id",
        help_text="The authserv-id your own mail server writes in Authentication-Results (often its host "
                  "name). Blank: no reporter's address is taken as verified, and nobody is thanked by email.")
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # never the password
        return f"<ReportingMailbox {self.pk} {self.name}>"

    def clean(self) -> None:
        if (self.security == MailboxSecurity.NONE and not self.allow_plaintext
                and self.host and not is_loopback(self.host)):
            raise ValidationError({"security": "Plaintext IMAP is allowed only to a loopback host (127.0.0.1, "
                                               "localhost) unless you explicitly allow it: the password would "
                                               "cross the network unencrypted."})
        if self.processed_folder and self.processed_folder == self.folder:
            raise ValidationError({"processed_folder": "Move processed mail to a folder other than the one polled."})

    @property
    def masked_password(self) -> str:
        return "********" if self.password else ""


class MailboxMessageKind(models.TextChoices):
    SIMULATION = "simulation", "A forwarded simulation (recorded as reported)"
    REPORT = "report", "A reported email (to triage)"
    BOUNCE = "bounce", "A bounce (delivery status notification)"
    AUTO_REPLY = "auto-reply", "An automatic reply"
    DUPLICATE = "duplicate", "Already processed (same Message-ID)"
    FAILED = "failed", "Could not be recorded (left in the mailbox for a person to read)"


class MailboxMessage(models.Model):
    """One message taken from a reporting mailbox, whatever it turned out to be. Written in the
    transaction that records what the message means, under a unique (mailbox, UIDVALIDITY, UID):
    a message read again (a worker killed before it was moved or flagged) is recognised and
    only moved or flagged."""

    mailbox = models.ForeignKey(ReportingMailbox, on_delete=models.CASCADE, related_name="messages")
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()
    message_id = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=16, choices=MailboxMessageKind.choices)
    sender = models.CharField(max_length=320, blank=True, help_text="The From address of the message")
    recipient = models.ForeignKey(Recipient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                  help_text="The simulation recipient it names (simulation or bounce)")
    note = models.TextField(blank=True, help_text="What was decided and why")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["mailbox", "uidvalidity", "uid"],
                                               name="phishing_mailbox_message_once")]
        indexes = [models.Index(fields=["mailbox", "message_id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.uidvalidity}/{self.uid}"


class ReportStatus(models.TextChoices):
    NEW = "new", "New"
    TRIAGING = "triaging", "Triaging"
    RESOLVED = "resolved", "Resolved"


REPORT_TRANSITIONS: dict[str, set[str]] = {
    ReportStatus.NEW: {ReportStatus.TRIAGING, ReportStatus.RESOLVED},
    ReportStatus.TRIAGING: {ReportStatus.NEW, ReportStatus.RESOLVED},
    ReportStatus.RESOLVED: {ReportStatus.TRIAGING},
}


class ReportVerdict(models.TextChoices):
    NONE = "", "Not decided"
    PHISHING = "phishing", "Phishing"
    SPAM = "spam", "Spam"
    HARMLESS = "harmless", "Harmless"
    SIMULATION = "simulation", "Our simulation"


class ReportedEmailQuerySet(models.QuerySet["ReportedEmail"]):
    def without_message(self) -> "ReportedEmailQuerySet":
        """Leave the stored message (up to 10 MB) in the database; `stored_size` says how big it is."""
        from django.db.models.functions import Length

        return self.defer("raw").annotate(stored_size=Length("raw"))


class ReportedEmail(models.Model):
    """An email someone forwarded to the reporting mailbox that is not one of our simulations:
    the security team triages it. What was parsed is kept as text (never rendered as markup);
    the message as received is kept (up to a size cap) with its SHA-256."""

    mailbox = models.ForeignKey(ReportingMailbox, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="reports")
    reporter_email = models.CharField(max_length=320, blank=True)
    reporter = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", help_text="Matched by the From address")
    reporter_verified = models.BooleanField(
        default=False, help_text="The From address was authenticated (DMARC, or aligned DKIM or SPF) by the "
                                 "organisation's own mail server; otherwise anyone could have written it")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    message_id = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=1000, blank=True, help_text="Of the reported email")
    original_from = models.CharField(max_length=1000, blank=True)
    original_to = models.TextField(blank=True)
    original_date = models.DateTimeField(null=True, blank=True)
    headers = models.JSONField(default=list, help_text="[[name, value], …] of the reported email")
    body_text = models.TextField(blank=True, help_text="Its text, extracted; never rendered as HTML")
    urls = models.JSONField(default=list)
    attachments = models.JSONField(default=list, help_text="[{name, content_type, size, sha256}, …]")
    problems = models.JSONField(default=list, help_text="What could not be parsed")
    raw = models.BinaryField(help_text="The message as received (cut at the size cap)")
    raw_size = models.PositiveBigIntegerField(help_text="Its full size in bytes")
    sha256 = models.CharField(max_length=64, help_text="Of the bytes kept")
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.NEW)
    verdict = models.CharField(max_length=16, choices=ReportVerdict.choices, default="", blank=True)
    note = models.TextField(blank=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    triaged_at = models.DateTimeField(null=True, blank=True)
    triaged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    thanked_at = models.DateTimeField(null=True, blank=True, help_text="When the reporter was thanked by email")

    objects = ReportedEmailQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["status", "received_at", "id"])]

    def __str__(self) -> str:
        return f"Reported email {self.pk}: {self.subject[:80]}"

    @property
    def kept_size(self) -> int:
        stored = getattr(self, "stored_size", None)
        return stored if stored is not None else len(self.raw or b"")

    @property
    def truncated(self) -> bool:
        return self.raw_size > self.kept_size

    def can_move_to(self, status: str) -> bool:
        return status == self.status or status in REPORT_TRANSITIONS[self.status]
