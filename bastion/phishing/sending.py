"""Sending campaigns: exactly one message per recipient, even across killed workers.

Each recipient moves pending → (claimed) → attempted → sent:

1. **Claim.** A batch takes due recipients with one conditional UPDATE (pending, unclaimed,
   due, campaign sending) that writes a fresh claim id; it then reads back the rows holding its
   id. Two workers never hold the same recipient.
2. **Attempt.** Just before a message is handed to SMTP, its ``attempted_at`` (and Message-ID)
   is committed.
3. **Sent.** When the server has accepted it, status sent and ``sent_at`` (the time of
   acceptance) are written — in the same transaction as the next message's attempt, so each
   message costs one commit, not two. Before the pacer sleeps, when the batch ends or stops
   with an exception, a pending "sent" is written at once; only a worker killed outright in the
   instant between an acceptance and the next commit leaves that one message ``unknown``.

A batch that stops with an exception releases the claims it had not attempted. A worker killed
outright leaves its claims behind; a claim older than ``STALE_CLAIM`` is released when it was
never attempted (provably not sent), so a restarted worker sends the rest. A recipient attempted
but never marked sent may or may not have been accepted by the server (the worker died between
the two): it is marked ``unknown`` and **not resent** — at most once for that one message per
crash, never twice, visible on the campaign for a person to decide.
"""

import binascii
import logging
import smtplib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.utils import formataddr, formatdate, make_msgid
from functools import lru_cache
from urllib.parse import parse_qs, unquote, urlparse

from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address
from django.db import transaction
from django.utils import timezone

from bastion.audit.chain import record

from . import webhooks
from .actions import refusal, verified_domains
from .models import (
    Campaign,
    CampaignStatus,
    EventKind,
    PhishingTemplate,
    Recipient,
    RecipientStatus,
    SendingProfile,
    address_domain,
    link_for,
)

logger = logging.getLogger(__name__)

BATCH = 200
STALE_CLAIM = timedelta(minutes=10)
UNKNOWN_ERROR = "The worker stopped while handing this message to the mail server; not resent automatically."


@dataclass
class SendResult:
    sent: int = 0
    refused: int = 0
    failed: int = 0
    released: int = 0
    unknown: int = 0
    started: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)


def smtp_connection(profile: SendingProfile) -> SmtpBackend:
    """An SMTP connection built from the profile's URL, as lib.emails builds Bastion's own."""
    url = urlparse(profile.smtp_url)
    query = {k: v[-1] for k, v in parse_qs(url.query).items()}
    return SmtpBackend(
        alias="phishing", host=url.hostname or "localhost",
        port=url.port or (465 if url.scheme == "smtps" else 25),
        username=unquote(url.username or ""), password=profile.password,
        use_ssl=url.scheme == "smtps", use_tls=query.get("tls") in ("1", "true", "yes"),
        timeout=int(query["timeout"]) if query.get("timeout", "").isdigit() else 20,
        fail_silently=False,
    )


def describe(exc: Exception, profile: SendingProfile) -> str:
    """A readable error with the profile's password never in it."""
    if isinstance(exc, smtplib.SMTPResponseException):
        err = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        text = f"The mail server answered {exc.smtp_code} {err}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = "The mail server refused the recipient"
    elif isinstance(exc, ConnectionRefusedError):
        text = "Could not connect to the mail server (connection refused)"
    elif isinstance(exc, TimeoutError):
        text = "The mail server did not answer in time"
    else:
        text = f"{type(exc).__name__}: {exc}"
    if profile.password:
        text = text.replace(profile.password, "********")
    return text[:2000]


def start_due_campaigns(now: datetime) -> list[int]:
    started = []
    for campaign in Campaign.objects.filter(status=CampaignStatus.SCHEDULED, starts_at__lte=now):
        with transaction.atomic():
            n = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SCHEDULED).update(
                status=CampaignStatus.SENDING)
            if n:
                record("phishing.campaign_sending", actor_label="bastion", obj=campaign,
                       before={"status": CampaignStatus.SCHEDULED}, after={"status": CampaignStatus.SENDING})
                started.append(campaign.pk)
    return started


def recover_stale_claims(now: datetime) -> tuple[int, int]:
    """Release claims of killed workers that were never attempted; mark attempted ones unknown."""
    stale = Recipient.objects.filter(status=RecipientStatus.PENDING, claimed_at__lt=now - STALE_CLAIM)
    released = stale.filter(attempted_at__isnull=True).update(claim="", claimed_at=None)
    unknown = stale.filter(attempted_at__isnull=False).update(status=RecipientStatus.UNKNOWN, error=UNKNOWN_ERROR)
    return released, unknown


def claim_batch(campaign_id: int, now: datetime, size: int | None = None) -> tuple[str, list[Recipient]]:
    """Take up to `size` (default BATCH) due recipients of the campaign; (claim id, recipients)."""
    size = size or BATCH
    claim = uuid.uuid4().hex
    due = (Recipient.objects.filter(campaign_id=campaign_id, campaign__status=CampaignStatus.SENDING,
                                    status=RecipientStatus.PENDING, claimed_at__isnull=True, send_after__lte=now)
           .order_by("send_after", "pk").values_list("pk", flat=True)[:size])
    Recipient.objects.filter(pk__in=list(due), claimed_at__isnull=True, status=RecipientStatus.PENDING).update(
        claim=claim, claimed_at=now)
    batch = list(Recipient.objects.filter(claim=claim, status=RecipientStatus.PENDING, attempted_at__isnull=True)
                 .select_related("person", "person__manager").order_by("send_after", "pk"))
    # The batch's few templates read once and shared, rather than a copy joined onto every row.
    templates = PhishingTemplate.objects.in_bulk({r.template_id for r in batch})
    for recipient in batch:
        recipient.template = templates[recipient.template_id]
    return claim, batch


@dataclass(frozen=True)
class Skeleton:
    """A template's message built once: every byte that is the same for all its recipients,
    with the gaps a recipient fills (To, Subject, Date, Message-ID and the two bodies)."""

    pieces: tuple[bytes, ...]  # fixed text before each gap, and after the last


def _boundary() -> str:
    # "=_" never occurs in quoted-printable output ("=" is always "=3D" or a soft line break),
    # so the boundary cannot appear inside either body.
    return f"=_bastion_{uuid.uuid4().hex}"


@lru_cache(maxsize=256)
def skeleton(from_name: str, from_address: str, has_html: bool) -> Skeleton:
    sender = formataddr((" ".join(from_name.split()), from_address), charset="utf-8")
    start = f"From: {sender}\r\nTo: "
    gaps = ["\r\nSubject: ", "\r\nDate: ", "\r\nMessage-ID: "]
    part = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    if has_html:
        boundary = _boundary()
        tail = [f'\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
                f"--{boundary}\r\n" + part.format("plain"),
                f"\r\n--{boundary}\r\n" + part.format("html"),
                f"\r\n--{boundary}--\r\n"]
    else:
        tail = ["\r\nMIME-Version: 1.0\r\n" + part.format("plain"), "\r\n"]
    return Skeleton(tuple(p.encode("ascii") for p in [start, *gaps, *tail]))


def _subject_header(subject: str) -> str:
    # Plain when it is short ASCII that no reader would take for an encoded word; else RFC 2047.
    if subject.isascii() and subject.isprintable() and len(subject) < 900 and "=?" not in subject:
        return subject
    return Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")


def _to_header(email: str) -> str:
    if email.isascii() and not any(c.isspace() or c in '<>,;"\\' for c in email):
        return email
    return sanitize_address(email, "utf-8")  # IDNA domain, or ValueError for what is not an address


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends (hard and soft): no line past 76 characters."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(lines.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


@dataclass
class OutgoingMessage:
    """One recipient's message as the bytes handed to SMTP, over the campaign's connection."""

    from_address: str
    to: str
    data: bytes
    connection: SmtpBackend

    def send(self) -> None:
        smtp = self.connection.connection
        if smtp is None:  # opened by send_batch; a closed one is a dropped connection
            raise smtplib.SMTPServerDisconnected("The connection to the mail server is closed")
        smtp.sendmail(self.from_address, [self.to], self.data)


def compose(template: PhishingTemplate, profile: SendingProfile, to_address: str, values: dict[str, str],
            message_id: str, connection) -> OutgoingMessage:
    """A message from the template's skeleton (built once per template and sender) with the
    values put in. Values are plain text, never run through a template engine, and HTML-escaped
    in the HTML part (PhishingTemplate.render)."""
    subject, text, body_html = template.render(values)
    bones = skeleton(template.from_name, profile.from_address, bool(template.body_html))
    to = _to_header(to_address)
    gaps = [to.encode("ascii"), _subject_header(subject).encode("ascii"),
            formatdate(usegmt=True).encode("ascii"), message_id.encode("ascii"), _qp(text)]
    if template.body_html:
        gaps.append(_qp(body_html))
    parts = [bones.pieces[0]]
    for gap, piece in zip(gaps, bones.pieces[1:], strict=True):
        parts += [gap, piece]
    return OutgoingMessage(from_address=profile.from_address, to=to, data=b"".join(parts), connection=connection)


def build_message(recipient: Recipient, profile: SendingProfile, connection) -> OutgoingMessage:
    """The recipient's message: their name, department and manager, and their tracking links."""
    person = recipient.person
    values = {
        "first_name": person.first_name, "last_name": person.last_name, "department": person.department,
        "manager": (f"{person.manager.first_name} {person.manager.last_name}" if person.manager else ""),
        "link": link_for("c", recipient.token) + "/", "report_link": link_for("r", recipient.token) + "/",
        "pixel": link_for("o", recipient.token) + ".gif",
    }
    return compose(recipient.template, profile, recipient.email, values, recipient.message_id, connection)


TEST_VALUES = {"first_name": "Alex", "last_name": "Example", "manager": "Sam Sample", "department": "Finance"}


def send_test(campaign: Campaign, to: str) -> list[str]:
    """One message of each of the campaign's templates to `to`, for a sample person, with links
    that record nothing (no recipient has their token). The templates' names, in order sent;
    SMTP errors propagate."""
    profile = campaign.sending_profile
    domain = address_domain(profile.from_address) or "localhost"
    values = {**TEST_VALUES, "link": link_for("c", "test-send") + "/",
              "report_link": link_for("r", "test-send") + "/", "pixel": ""}
    templates = list(campaign.templates.order_by("pk"))
    connection = smtp_connection(profile)
    try:
        connection.open()
        for template in templates:
            compose(template, profile, to, values, make_msgid(domain=domain), connection).send()
    finally:
        connection.close()
    return [t.name for t in templates]


class Pacer:
    """Keeps sends to `rate` a second: each waits for its slot, one interval after the last."""

    def __init__(self, rate: int, sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        self.interval = 1.0 / rate
        self.sleep, self.clock = sleep, clock
        self.next_at: float | None = None

    def delay(self) -> float:
        """How long the next wait() will sleep."""
        return max(0.0, self.next_at - self.clock()) if self.next_at is not None else 0.0

    def wait(self) -> None:
        now = self.clock()
        if self.next_at is not None and self.next_at > now:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


def _mark_sent(recipient: Recipient) -> None:
    """Record the server's acceptance, with the "delivered" webhook deliveries if any are subscribed."""
    subscribed = webhooks.wants(EventKind.DELIVERED)
    mark = Recipient.objects.filter(pk=recipient.pk)
    if not subscribed:
        mark.update(status=RecipientStatus.SENT, sent_at=recipient.sent_at, error="")
        return
    assert recipient.sent_at is not None
    with transaction.atomic():
        mark.update(status=RecipientStatus.SENT, sent_at=recipient.sent_at, error="")
        webhooks.queue(EventKind.DELIVERED, [(recipient, recipient.sent_at, None)], subscribed)


def send_batch(campaign: Campaign, now: datetime, connection, domains: set[str], result: SendResult,
               pacer: Pacer, after_send: Callable[[Recipient], None] | None = None) -> int:
    """Claim one batch of the campaign's due recipients and send it over `connection`, paced by
    `pacer` (the profile's rate, across batches). Returns how many were claimed (0: nothing due).
    `after_send` (for tests) is called with each recipient once its "sent" is written."""
    profile = campaign.sending_profile
    claim, batch = claim_batch(campaign.pk, now)
    if not batch:
        return 0
    domain = address_domain(profile.from_address) or "localhost"
    accepted: Recipient | None = None  # accepted by the server, "sent" not yet written
    try:
        connection.open()  # once per campaign run: a no-op while it is open
        for recipient in batch:
            if refusal([recipient.email], domains):  # re-checked: the domains may have changed
                Recipient.objects.filter(pk=recipient.pk).update(
                    status=RecipientStatus.REFUSED, error=refusal([recipient.email], domains))
                result.refused += 1
                continue
            if accepted is not None and pacer.delay() > 0:  # never hold a "sent" through a sleep
                _mark_sent(accepted)
                accepted = None
            pacer.wait()
            recipient.message_id = make_msgid(domain=domain)
            with transaction.atomic():  # one commit: the last message's "sent", this one's attempt
                if accepted is not None:
                    _mark_sent(accepted)
                # Conditional: a cancel since the claim turned it to cancelled, and then nothing is sent.
                attempted = Recipient.objects.filter(pk=recipient.pk, claim=claim,
                                                     status=RecipientStatus.PENDING).update(
                    attempted_at=timezone.now(), message_id=recipient.message_id)
            accepted = None
            if not attempted:
                continue
            try:
                build_message(recipient, profile, connection).send()
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
                code = getattr(exc, "smtp_code", None) or _recipient_code(exc)
                error = describe(exc, profile)
                if code and 500 <= code < 600:  # refused for good: not accepted, never resent
                    Recipient.objects.filter(pk=recipient.pk).update(status=RecipientStatus.FAILED, error=error)
                    result.failed += 1
                    continue
                # A temporary refusal: not accepted, so safe to try again on a later run.
                Recipient.objects.filter(pk=recipient.pk).update(attempted_at=None, claim="", claimed_at=None,
                                                                 error=error)
                raise
            except ValueError as exc:  # an address that cannot be written in a header: never sent
                Recipient.objects.filter(pk=recipient.pk).update(status=RecipientStatus.FAILED,
                                                                 error=f"Not a valid address: {exc}"[:2000])
                result.failed += 1
                continue
            recipient.status, recipient.sent_at, recipient.error = RecipientStatus.SENT, timezone.now(), ""
            accepted = recipient
            result.sent += 1
            if after_send is not None:
                _mark_sent(accepted)
                accepted = None
                after_send(recipient)
    finally:
        # Whatever stopped the batch: what the server accepted is recorded as sent, and what
        # was not attempted goes back for the next run.
        if accepted is not None:
            _mark_sent(accepted)
        result.released += Recipient.objects.filter(claim=claim, status=RecipientStatus.PENDING,
                                                     attempted_at__isnull=True).update(claim="", claimed_at=None)
    return len(batch)


def _recipient_code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        return next(iter(exc.recipients.values()))[0]
    return None


def finish_if_done(campaign: Campaign) -> bool:
    with transaction.atomic():
        if Recipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING).exists():
            return False
        n = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SENDING).update(
            status=CampaignStatus.FINISHED, finished_at=timezone.now(), last_error="")
        if n:
            record("phishing.campaign_finished", actor_label="bastion", obj=campaign,
                   before={"status": CampaignStatus.SENDING}, after={"status": CampaignStatus.FINISHED})
        return bool(n)


def send_due(now: datetime | None = None, *, budget_seconds: float = 25.0,
             sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
             after_send: Callable[[Recipient], None] | None = None) -> SendResult:
    """Start campaigns whose time has come, send what is due in each (batch after batch over one
    connection per campaign until nothing is due or the budget is spent), finish those done."""
    now = now or timezone.now()
    result = SendResult()
    released, result.unknown = recover_stale_claims(now)
    result.started = start_due_campaigns(now)
    domains = verified_domains()
    deadline = clock() + budget_seconds
    for campaign in Campaign.objects.filter(status=CampaignStatus.SENDING).select_related("sending_profile"):
        connection = smtp_connection(campaign.sending_profile)  # opened when something is due
        pacer = Pacer(campaign.sending_profile.rate_per_second, sleep, clock)
        try:
            while clock() < deadline and send_batch(campaign, now, connection, domains, result, pacer,
                                                    after_send=after_send):
                pass
        except (smtplib.SMTPException, OSError) as exc:
            # Unreachable or refusing server: the campaign pauses with the reason; the next run resumes.
            error = describe(exc, campaign.sending_profile)
            Campaign.objects.filter(pk=campaign.pk).update(last_error=error)
            result.errors[campaign.pk] = error
            logger.warning("Phishing campaign %s paused: %s", campaign.pk, error)
            continue
        finally:
            connection.close()
        if campaign.last_error:
            Campaign.objects.filter(pk=campaign.pk).update(last_error="")
        if finish_if_done(campaign):
            result.finished.append(campaign.pk)
    return result


def check_recipients(campaign: Campaign) -> str | None:
    """The refusal message if any of the campaign's recipients is outside the verified domains."""
    return refusal(list(campaign.recipients.values_list("email", flat=True)), verified_domains())
