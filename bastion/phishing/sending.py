"""Sending campaigns: each recipient sent at most once, and exactly once unless a worker dies
in the instant between the server's acceptance and the "sent" being recorded.

Each recipient moves pending → (claimed) → attempted → sent:

1. **Claim.** A batch takes due recipients with one conditional UPDATE (pending, unclaimed,
   due, campaign sending) that writes a fresh claim id; it then reads back the rows holding its
   id. Two workers never hold the same recipient.
2. **Attempt.** Before a message is handed to SMTP, its ``attempted_at`` (and Message-ID) is
   committed.
3. **Sent.** When the server has accepted it, status sent and ``sent_at`` (the time of
   acceptance) are written — by the same single UPDATE statement as the next message's attempt,
   so each message costs one statement and one commit. Before the pacer sleeps, when the batch
   ends or stops with an exception, a pending "sent" is written at once.

The SMTP exchange is done step by step (MAIL, RCPT, DATA, then the message), so a failure is
known to have happened before the server could accept (released: sent later, safely) or after
the message's bytes were handed over without an answer (uncertain: marked ``unknown`` at once,
never resent). A worker killed outright leaves its claims behind; a claim older than
``STALE_CLAIM`` is released when it was never attempted (provably not sent), and marked
``unknown`` when it was attempted but never marked sent (the server may or may not have it).
An unknown recipient is **never resent automatically** — at most one message per SMTP connection
in flight (``CONNECTIONS``) is uncertain after a crash, none is ever sent twice — and is shown on
the campaign for the team to decide.

A campaign with enough due uses up to ``CONNECTIONS`` SMTP connections at once, each in its own
thread with its own database connection, claiming its own batches (as separate workers would)
and sharing the pacer: the round trips' waits overlap instead of adding up.

The server's answers: a permanent refusal (5xx) of a recipient fails that recipient; a
temporary one (4xx) defers it with back-off (1, 2, 4, 8 minutes; failed at the fifth); a server
that cannot be reached, drops the connection, refuses the sender or closes the service (421)
pauses the campaign with the reason in ``Campaign.last_error`` and the next run resumes. A
server refusing ``REFUSED_IN_A_ROW`` messages in a row is refusing everything: those messages
are put back as they were and the campaign pauses.
"""

import binascii
import logging
import re
import smtplib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.utils import formataddr, formatdate, make_msgid
from functools import lru_cache
from typing import NoReturn
from urllib.parse import parse_qs, unquote, urlparse

from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address
from django.db import connection as db
from django.db import connections, transaction
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
CONNECTIONS = 4  # SMTP connections (each in its own thread) per campaign…
LANE_SIZE = 200  # … one per this many recipients due
STALE_CLAIM = timedelta(minutes=10)
UNKNOWN_ERROR = "The worker stopped while handing this message to the mail server; not resent automatically."
UNCERTAIN_ERROR = ("The connection to the mail server failed after the message was handed over, before its "
                   "answer: it may have been delivered; not resent automatically. ")
DEFER_MINUTES = (1, 2, 4, 8)  # after each temporary refusal; the next one fails the recipient
REFUSED_IN_A_ROW = 3


class MessageUncertain(smtplib.SMTPException):
    """The message's bytes were handed to the server and no answer came: it may have been accepted."""


class RefusingEverything(smtplib.SMTPException):
    """Several messages in a row were refused: the server's problem, not the recipients'."""


@dataclass
class SendResult:
    sent: int = 0
    refused: int = 0
    failed: int = 0
    released: int = 0
    unknown: int = 0
    deferred: int = 0
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
    """A readable error with the profile's password never in it. A mail server's reply is quoted
    (the team needs "550 relaying denied" to fix things); the first words of something that is
    not a mail server (an SSH banner on the port, say) are not, so the test send cannot be used
    to read other services' banners."""
    if isinstance(exc, (MessageUncertain, RefusingEverything)):
        text = str(exc)
    elif isinstance(exc, smtplib.SMTPResponseException) and not 400 <= exc.smtp_code <= 599:
        where = urlparse(profile.smtp_url)
        text = f"{where.hostname}:{where.port or 'the default port'} did not answer as a mail server"
    elif isinstance(exc, smtplib.SMTPResponseException):
        err = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        text = f"The mail server answered {exc.smtp_code} {_printable(err)}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, answer = next(iter(exc.recipients.values()), (None, b""))
        said = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
        text = (f"The mail server refused the recipient: {code} {_printable(said)}" if code
                else "The mail server refused the recipient")
    elif isinstance(exc, ConnectionRefusedError):
        text = "Could not connect to the mail server (connection refused)"
    elif isinstance(exc, TimeoutError):
        text = "The mail server did not answer in time"
    elif isinstance(exc, smtplib.SMTPServerDisconnected):
        text = "The mail server closed the connection"
    else:
        text = f"{type(exc).__name__}: {exc}"
    if profile.password and profile.password in text:
        # Masking the password inside the text would show where its letters stand.
        return f"The mail server's answer is not shown because it contained the password ({type(exc).__name__})"
    return text[:2000]


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)[:300]


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
        """MAIL, RCPT, DATA, then the message. An exception before the message's bytes go out
        means the server did not take it; MessageUncertain means they went out and no answer
        came back, so the server may have it."""
        smtp = self.connection.connection
        if smtp is None:  # opened by send_batch; a closed one is a dropped connection
            raise smtplib.SMTPServerDisconnected("The connection to the mail server is closed")
        smtp.ehlo_or_helo_if_needed()
        if smtp.has_extn("pipelining"):  # RFC 2920: the three commands in one round trip
            smtp.send(f"MAIL FROM:{smtplib.quoteaddr(self.from_address)}\r\n"
                      f"RCPT TO:{smtplib.quoteaddr(self.to)}\r\nDATA\r\n")
            replies = [smtp.getreply() for _ in range(3)]
        else:
            replies = [smtp.mail(self.from_address)]
            if replies[0][0] == 250:
                replies.append(smtp.rcpt(self.to))
                if replies[1][0] in (250, 251):
                    smtp.putcmd("data")
                    replies.append(smtp.getreply())
        (code, answer), *rest = replies
        if code != 250:
            _refuse(smtp, replies, smtplib.SMTPSenderRefused(code, answer, self.from_address))
        (code, answer), *rest = rest
        if code not in (250, 251):
            _refuse(smtp, replies, smtplib.SMTPRecipientsRefused({self.to: (code, answer)}))
        code, answer = rest[0]
        if code != 354:
            _refuse(smtp, replies, smtplib.SMTPDataError(code, answer))
        try:
            smtp.send(_dot_stuffed(self.data))
            code, answer = smtp.getreply()
        except OSError as exc:  # smtplib's disconnects are OSErrors too
            smtp.close()
            raise MessageUncertain(UNCERTAIN_ERROR + f"({type(exc).__name__}: {exc})") from exc
        if code != 250:
            _reset(smtp, code)
            raise smtplib.SMTPDataError(code, answer)


def _refuse(smtp: smtplib.SMTP, replies: list[tuple[int, bytes]], refusal: smtplib.SMTPException) -> NoReturn:
    """A command was refused before the message went out: ready the connection for the next
    message (or close it) and raise the refusal."""
    if len(replies) == 3 and replies[2][0] == 354:  # a pipelined DATA the server took anyway
        smtp.close()  # ending it would send an empty message: hang up instead
    else:
        _reset(smtp, next(code for code, _ in replies if code not in (250, 251, 354)))
    raise refusal


def _reset(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal: RSET for the next message, or close on 421 (the server is going away)."""
    if code == 421:
        smtp.close()
        return
    try:
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _dot_stuffed(data: bytes) -> bytes:
    """The message as sent after DATA (RFC 5321 4.5.2): leading dots doubled, ended by CRLF.CRLF."""
    data = _LEADING_DOT.sub(b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


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
        self.lock = threading.Lock()  # shared by a campaign's connections

    def delay(self) -> float:
        """How long the next wait() will sleep."""
        return max(0.0, self.next_at - self.clock()) if self.next_at is not None else 0.0

    def wait(self) -> None:
        with self.lock:
            now = self.clock()
            slot = max(now, self.next_at) if self.next_at is not None else now
            self.next_at = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


def _mark_sent(recipient: Recipient) -> None:
    """Record the server's acceptance, with the "delivered" webhook deliveries if any are subscribed."""
    _step(recipient, None, "")


def _step(accepted: Recipient | None, attempt: Recipient | None, claim: str) -> bool:
    """One statement (and so one commit): the last accepted message's "sent" and the next
    message's attempt, conditional on it being still pending and held by `claim` (a cancel since
    the claim turned it to cancelled, and then nothing is sent). Whether the attempt was written;
    with "delivered" webhooks subscribed, their deliveries go in the same transaction."""
    subscribed = webhooks.wants(EventKind.DELIVERED) if accepted is not None else []
    if not subscribed:
        return _step_statement(accepted, attempt, claim)
    assert accepted is not None and accepted.sent_at is not None
    with transaction.atomic():
        attempted = _step_statement(accepted, attempt, claim)
        webhooks.queue(EventKind.DELIVERED, [(accepted, accepted.sent_at, None)], subscribed)
    return attempted


def _step_statement(accepted: Recipient | None, attempt: Recipient | None, claim: str) -> bool:
    table = db.ops.quote_name(Recipient._meta.db_table)
    sent_id = accepted.pk if accepted is not None else 0  # 0: no row has it
    attempt_id = attempt.pk if attempt is not None else 0
    at = db.ops.adapt_datetimefield_value(accepted.sent_at if accepted is not None else timezone.now())
    attempted_at = db.ops.adapt_datetimefield_value(timezone.now())
    message_id = attempt.message_id if attempt is not None else ""
    with db.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET "  # noqa: S608 - the table name comes from the model
            "status = CASE WHEN id = %s THEN %s ELSE status END, "
            "sent_at = CASE WHEN id = %s THEN %s ELSE sent_at END, "
            "error = CASE WHEN id = %s THEN '' ELSE error END, "
            "attempted_at = CASE WHEN id = %s THEN %s ELSE attempted_at END, "
            "message_id = CASE WHEN id = %s THEN %s ELSE message_id END "
            "WHERE id = %s OR (id = %s AND claim = %s AND status = %s) RETURNING id",
            [sent_id, RecipientStatus.SENT.value, sent_id, at, sent_id, attempt_id, attempted_at,
             attempt_id, message_id, sent_id, attempt_id, claim, RecipientStatus.PENDING.value])
        return any(row[0] == attempt_id for row in cursor.fetchall()) if attempt is not None else False


def _release(recipient: Recipient, error: str) -> None:
    """Not accepted by the server: back to waiting, to be sent by a later run."""
    Recipient.objects.filter(pk=recipient.pk).update(attempted_at=None, claim="", claimed_at=None, error=error)


def _refused(recipient: Recipient, code: int, error: str, now: datetime, result: SendResult) -> str:
    """A refusal of this one message: failed for good (5xx, or a fifth "try later"), or deferred
    with back-off (4xx). Returns which."""
    mark = Recipient.objects.filter(pk=recipient.pk)
    if code >= 500:
        mark.update(status=RecipientStatus.FAILED, error=error)
        result.failed += 1
        return "failed"
    deferrals = recipient.deferrals + 1
    if deferrals > len(DEFER_MINUTES):
        mark.update(status=RecipientStatus.FAILED, deferrals=deferrals,
                    error=f"Refused {deferrals} times for now, so given up: {error}"[:2000])
        result.failed += 1
        return "failed"
    mark.update(attempted_at=None, claim="", claimed_at=None, deferrals=deferrals, error=error,
                send_after=max(now, recipient.send_after) + timedelta(minutes=DEFER_MINUTES[deferrals - 1]))
    result.deferred += 1
    return "deferred"


def _put_back(refused: list[tuple[Recipient, str]], result: SendResult) -> None:
    """Messages refused in a row by a server refusing everything: back as they were before."""
    for recipient, outcome in refused:
        Recipient.objects.filter(pk=recipient.pk).update(
            status=RecipientStatus.PENDING, attempted_at=None, claim="", claimed_at=None,
            send_after=recipient.send_after, deferrals=recipient.deferrals, error="")
        if outcome == "failed":
            result.failed -= 1
        else:
            result.deferred -= 1


def send_batch(campaign: Campaign, now: datetime, connection, domains: set[str], result: SendResult,
               pacer: Pacer, after_send: Callable[[Recipient], None] | None = None,
               stop: threading.Event | None = None) -> int:
    """Claim one batch of the campaign's due recipients and send it over `connection`, paced by
    `pacer` (the profile's rate, across batches). Returns how many were claimed (0: nothing due).
    Raises (SMTPException or OSError) when the server, not a recipient, is the problem: the
    campaign pauses. `after_send` (for tests) is called with each recipient once its "sent" is
    written."""
    profile = campaign.sending_profile
    claim, batch = claim_batch(campaign.pk, now)
    if not batch:
        return 0
    domain = address_domain(profile.from_address) or "localhost"
    accepted: Recipient | None = None  # accepted by the server, "sent" not yet written
    refused: list[tuple[Recipient, str]] = []  # refused in a row, with what was done
    try:
        connection.open()  # once per campaign run: a no-op while it is open
        for recipient in batch:
            if stop is not None and stop.is_set():  # another connection of the campaign met trouble
                break
            problem = refusal([recipient.email], domains)  # re-checked: the domains may have changed
            if problem:
                Recipient.objects.filter(pk=recipient.pk).update(status=RecipientStatus.REFUSED, error=problem)
                result.refused += 1
                continue
            if accepted is not None and pacer.delay() > 0:  # never hold a "sent" through a sleep
                _mark_sent(accepted)
                accepted = None
            pacer.wait()
            recipient.message_id = make_msgid(domain=domain)
            attempted = _step(accepted, recipient, claim)
            accepted = None
            if not attempted:
                continue
            try:
                build_message(recipient, profile, connection).send()
            except ValueError as exc:  # an address that cannot be written in a header: never sent
                Recipient.objects.filter(pk=recipient.pk).update(status=RecipientStatus.FAILED,
                                                                 error=f"Not a valid address: {exc}"[:2000])
                result.failed += 1
                continue
            except MessageUncertain as exc:
                Recipient.objects.filter(pk=recipient.pk).update(status=RecipientStatus.UNKNOWN,
                                                                 error=str(exc)[:2000])
                result.unknown += 1
                raise
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                code = _code(exc)
                if code is None or code == 421 or not 400 <= code < 600:  # the service, not this message
                    _release(recipient, describe(exc, profile))
                    raise
                refused.append((recipient, _refused(recipient, code, describe(exc, profile), now, result)))
                if len(refused) >= REFUSED_IN_A_ROW:
                    _put_back(refused, result)
                    raise RefusingEverything(f"The mail server refused {len(refused)} messages in a row, so "
                                             f"sending paused; its last answer: {describe(exc, profile)}") from exc
                continue
            except (smtplib.SMTPException, OSError) as exc:  # before the message went out: not accepted
                _release(recipient, describe(exc, profile))
                raise
            refused.clear()
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


def _code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        return next(iter(exc.recipients.values()))[0]
    return getattr(exc, "smtp_code", None)


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
    """Start campaigns whose time has come, send what is due in each (batch after batch over the
    campaign's connections until nothing is due or the budget is spent), finish those done."""
    now = now or timezone.now()
    result = SendResult()
    released, result.unknown = recover_stale_claims(now)
    result.started = start_due_campaigns(now)
    domains = verified_domains()
    deadline = clock() + budget_seconds
    for campaign in Campaign.objects.filter(status=CampaignStatus.SENDING).select_related("sending_profile"):
        pacer = Pacer(campaign.sending_profile.rate_per_second, sleep, clock)
        lanes = _lanes(campaign, now)
        try:
            if lanes == 1:
                _send_over_one_connection(campaign, now, domains, result, pacer, deadline, clock, None, after_send)
            else:
                _send_over_connections(lanes, campaign, now, domains, result, pacer, deadline, clock)
        except (smtplib.SMTPException, OSError) as exc:
            # Unreachable or refusing server: the campaign pauses with the reason; the next run resumes.
            error = describe(exc, campaign.sending_profile)
            Campaign.objects.filter(pk=campaign.pk).update(last_error=error)
            result.errors[campaign.pk] = error
            logger.warning("Phishing campaign %s paused: %s", campaign.pk, error)
            continue
        if campaign.last_error:
            Campaign.objects.filter(pk=campaign.pk).update(last_error="")
        if finish_if_done(campaign):
            result.finished.append(campaign.pk)
    return result


def _lanes(campaign: Campaign, now: datetime) -> int:
    """How many connections the campaign's run uses: one per LANE_SIZE recipients due, from one
    up to CONNECTIONS. Several hide each round trip's wait (to the database, to the mail server)
    behind the others'."""
    due = Recipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING, claimed_at__isnull=True,
                                   send_after__lte=now).order_by()
    return max(1, min(CONNECTIONS, due.values("pk")[:LANE_SIZE * CONNECTIONS].count() // LANE_SIZE))


def _send_over_one_connection(campaign: Campaign, now: datetime, domains: set[str], result: SendResult,
                              pacer: Pacer, deadline: float, clock: Callable[[], float],
                              stop: threading.Event | None,
                              after_send: Callable[[Recipient], None] | None = None) -> None:
    connection = smtp_connection(campaign.sending_profile)  # opened when something is due
    try:
        while (clock() < deadline and not (stop is not None and stop.is_set())
               and send_batch(campaign, now, connection, domains, result, pacer, after_send=after_send, stop=stop)):
            pass
    finally:
        connection.close()


def _send_over_connections(lanes: int, campaign: Campaign, now: datetime, domains: set[str], result: SendResult,
                           pacer: Pacer, deadline: float, clock: Callable[[], float]) -> None:
    """`lanes` threads, each with its own SMTP and database connection, claiming batches of the
    campaign as separate workers would (claims never overlap), paced together. The first to
    meet trouble stops the others (each releases what it has not attempted); its error is raised."""
    stop = threading.Event()
    results = [SendResult() for _ in range(lanes)]
    errors: list[BaseException] = []

    def lane(mine: SendResult) -> None:
        try:
            _send_over_one_connection(campaign, now, domains, mine, pacer, deadline, clock, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            errors.append(exc)
            stop.set()
        finally:
            connections.close_all()  # this thread's own

    threads = [threading.Thread(target=lane, args=(mine,), name=f"phishing-{campaign.pk}-{n}")
               for n, mine in enumerate(results)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for mine in results:
        for name in ("sent", "refused", "failed", "released", "unknown", "deferred"):
            setattr(result, name, getattr(result, name) + getattr(mine, name))
    if errors:
        raise errors[0]


def check_recipients(campaign: Campaign) -> str | None:
    """The refusal message if any of the campaign's recipients is outside the verified domains."""
    return refusal(list(campaign.recipients.values_list("email", flat=True)), verified_domains())
