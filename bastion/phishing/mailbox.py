"""The reporting mailbox: every minute, read what employees forwarded and decide what each
message is (mailparse.py reads it):

- **a forwarded simulation** (one of our tokens in its links, or the Message-ID we sent): the
  recipient's simulation is recorded as reported, through the same ``tracking.save_event`` as
  the report link and the mail add-in, with ``via="mailbox"``, once: a recipient already
  reported is not recorded again. When the message was forwarded by someone other than the
  recipient it is still recorded for the recipient (the token proves whose simulation it was;
  people forward from aliases and shared addresses), and the mailbox's log says who forwarded it.
- **a bounce or automatic reply**: not a report; logged with the simulation recipient it names
  if any (recipients have no "bounced" status yet, so that is all).
- **anything else is a reported email** to triage (reports.py), malformed or not: what could be
  read is kept, with the message itself (up to ``MAX_RAW`` bytes) and its SHA-256.

Exactly once: each message is logged as a ``MailboxMessage`` under a unique (mailbox,
UIDVALIDITY, UID) in the transaction that records what it means, and only then moved to the
processed folder (or flagged ``\\Seen $BastionProcessed``). A worker killed in between leaves a
message that the next poll recognises and only moves. A message whose Message-ID was already
processed from the same mailbox (copied back, or the folder rebuilt with a new UIDVALIDITY) is
logged as a duplicate and nothing else. A message that cannot be recorded (tried ``ATTEMPTS``
times in the poll) is logged as failed and moved or flagged like the others, so it never holds
up the mail behind it; a person reads it in the mailbox. New messages are read before those
logged earlier but not yet moved. A mailbox that cannot be reached shows why on its page.
"""

import hashlib
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from bastion.audit.chain import record
from bastion.people.models import Person

from . import mailparse, tracking
from .models import (
    EventKind,
    MailboxMessage,
    MailboxMessageKind,
    MailboxSecurity,
    Recipient,
    ReportedEmail,
    ReportingMailbox,
    TrackingEvent,
    is_loopback,
)

logger = logging.getLogger(__name__)

MAX_RAW = 10 * 1024 * 1024  # bytes of a message kept; its full size is recorded too
BATCH = 200  # messages read per mailbox per poll; the rest wait for the next minute
ATTEMPTS = 2  # tries to record one message in a poll before it is logged as failed and set aside
TIMEOUT = 20
PROCESSED_KEYWORD = "$BastionProcessed"


class MailboxError(Exception):
    """A problem with the mailbox fit to show (never holds the password)."""


def check_transport(mailbox: ReportingMailbox) -> None:
    if (mailbox.security == MailboxSecurity.NONE and not mailbox.allow_plaintext
            and not is_loopback(mailbox.host)):
        raise MailboxError("Plaintext IMAP is refused to a host that is not loopback; use TLS or STARTTLS.")


# Response codes (RFC 5530 and RFC 3501) shown in our own words: a message to show is built
# from these and from exception types, never from what the server wrote (which may be anything:
# another service's banner, or text made to look like ours).
KNOWN_CODES = {
    "AUTHENTICATIONFAILED": "Authentication failed: wrong user name or password",
    "AUTHORIZATIONFAILED": "The user may not open this mailbox",
    "EXPIRED": "The password has expired",
    "PRIVACYREQUIRED": "The server requires an encrypted connection",
    "CONTACTADMIN": "The server asks for its administrator to be contacted",
    "UNAVAILABLE": "The server is temporarily unavailable",
    "NOPERM": "Permission denied",
    "NONEXISTENT": "It does not exist",
    "TRYCREATE": "It does not exist",
    "INUSE": "It is in use",
    "OVERQUOTA": "The mailbox is over its quota",
    "LIMIT": "A server limit was reached",
    "CANNOT": "The server cannot do it",
    "SERVERBUG": "The server reported an internal error",
}
_CODE = re.compile(r"\s*\[([A-Z-]{2,30})[\] ]")


def _reason(data) -> str:
    """': <what a known response code means>' or nothing: the server's own words are never shown."""
    items = data if isinstance(data, (list, tuple)) else [data]
    for item in items:
        text = item.decode("ascii", "replace") if isinstance(item, bytes) else str(item)
        match = _CODE.match(text)
        if match and match.group(1) in KNOWN_CODES:
            return f": {KNOWN_CODES[match.group(1)]}"
    return ""


def connect(mailbox: ReportingMailbox) -> imaplib.IMAP4:
    """A logged-in connection; certificates are verified for TLS and STARTTLS."""
    check_transport(mailbox)
    context = ssl.create_default_context()
    conn: imaplib.IMAP4
    try:
        if mailbox.security == MailboxSecurity.TLS:
            conn = imaplib.IMAP4_SSL(mailbox.host, mailbox.port, ssl_context=context, timeout=TIMEOUT)
        else:
            conn = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=TIMEOUT)
    except imaplib.IMAP4.error:  # its greeting was not an IMAP one: never quoted (a port scan's banner)
        raise MailboxError(f"{mailbox.host}:{mailbox.port} did not answer as an IMAP server.") from None
    try:
        if mailbox.security == MailboxSecurity.STARTTLS:
            if "STARTTLS" not in conn.capabilities:
                raise MailboxError("The server does not offer STARTTLS: TLS not supported there, and plaintext "
                                   "is never used instead.")
            conn.starttls(ssl_context=context)
        try:
            conn.login(mailbox.username, mailbox.password)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"The IMAP server refused the login{_reason(exc.args)}.") from None
        # Servers announce more (MOVE, UIDPLUS) once logged in; imaplib keeps the first list.
        typ, data = conn.capability()
        if typ == "OK" and data and isinstance(data[-1], bytes):
            conn.capabilities = tuple(data[-1].decode(errors="replace").upper().split())
    except BaseException:
        _close(conn)
        raise
    return conn


def _close(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except Exception:  # noqa: S110 - closing a connection that already failed
        pass


def _quote(folder: str) -> str:
    return f'"{folder}"'  # validate_folder admits no quote or backslash


def describe(exc: BaseException, mailbox: ReportingMailbox) -> str:
    """A readable error made of our own words (the exception's type, a known response code,
    the operating system's or TLS library's reason), never of bytes the server sent, so it
    neither echoes another service's banner nor can it hold the password."""
    where = f"{mailbox.host}:{mailbox.port}"
    if isinstance(exc, MailboxError):
        text = str(exc)
    elif isinstance(exc, imaplib.IMAP4.abort):
        text = f"The connection to {where} broke off, or the server did not answer as an IMAP server."
    elif isinstance(exc, imaplib.IMAP4.error):
        text = f"The IMAP server refused a command{_reason(exc.args)}."
    elif isinstance(exc, ssl.SSLCertVerificationError):
        text = f"The server's TLS certificate was not accepted: {exc.verify_message}"
    elif isinstance(exc, ssl.SSLError):
        text = f"TLS failed: {exc.reason or type(exc).__name__}"
    elif isinstance(exc, ConnectionRefusedError):
        text = f"Could not connect to {where} (connection refused)"
    elif isinstance(exc, TimeoutError):
        text = f"{where} did not answer in time"
    elif isinstance(exc, OSError):
        text = f"Could not connect to {where} ({exc.strerror or type(exc).__name__})"
    else:
        text = f"Unexpected error ({type(exc).__name__})"
    return text[:2000]


def _check(typ: str, data, what: str) -> None:
    if typ != "OK":
        raise MailboxError(f"{what}: the server answered {typ if typ in ('NO', 'BAD') else 'otherwise'}"
                           f"{_reason(data)}.")


def test_connection(mailbox: ReportingMailbox) -> str:
    """Log in and open the folder without changing anything; what was found, fit to show.
    ValueError with the reason when it fails."""
    try:
        conn = connect(mailbox)
        try:
            typ, data = conn.select(_quote(mailbox.folder), readonly=True)
            _check(typ, data, f"The folder “{mailbox.folder}” could not be opened")
        finally:
            _close(conn)
    except Exception as exc:
        raise ValueError(describe(exc, mailbox)) from None
    count = data[0].decode() if data and isinstance(data[0], bytes) and data[0].isdigit() else "?"
    return f"Connected to {mailbox.host}:{mailbox.port} as {mailbox.username}: {count} message(s) in {mailbox.folder}."


@dataclass
class PollResult:
    mailboxes: int = 0
    simulations: int = 0
    reports: int = 0
    bounces: int = 0
    auto_replies: int = 0
    duplicates: int = 0
    already: int = 0  # logged on an earlier poll, only moved or flagged now
    failed: int = 0  # could not be recorded: logged as failed, moved or flagged for a person to read
    errors: dict[int, str] = field(default_factory=dict)

    def count(self, kind: str) -> None:
        name = {MailboxMessageKind.SIMULATION: "simulations", MailboxMessageKind.REPORT: "reports",
                MailboxMessageKind.BOUNCE: "bounces", MailboxMessageKind.AUTO_REPLY: "auto_replies",
                MailboxMessageKind.DUPLICATE: "duplicates"}[MailboxMessageKind(kind)]
        setattr(self, name, getattr(self, name) + 1)


def poll_all() -> PollResult:
    """Poll every enabled reporting mailbox."""
    result = PollResult()
    for mailbox in ReportingMailbox.objects.filter(enabled=True).order_by("pk"):
        result.mailboxes += 1
        poll(mailbox, result)
    return result


def poll(mailbox: ReportingMailbox, result: PollResult | None = None) -> PollResult:
    """Read up to BATCH unprocessed messages of one mailbox; its last poll and error are saved."""
    result = result or PollResult()
    now = timezone.now()
    try:
        conn = connect(mailbox)
        try:
            _poll(conn, mailbox, result)
        finally:
            _close(conn)
    except Exception as exc:  # whatever it is, shown on the mailbox; the other mailboxes go on
        error = describe(exc, mailbox)
        ReportingMailbox.objects.filter(pk=mailbox.pk).update(last_poll_at=now, last_error=error)
        result.errors[mailbox.pk] = error
        logger.warning("Reporting mailbox %s not polled: %s", mailbox.pk, error)
        return result
    ReportingMailbox.objects.filter(pk=mailbox.pk).update(last_poll_at=now, last_success_at=now, last_error="")
    return result


def _poll(conn: imaplib.IMAP4, mailbox: ReportingMailbox, result: PollResult) -> None:
    typ, data = conn.select(_quote(mailbox.folder))
    _check(typ, data, f"The folder “{mailbox.folder}” could not be opened")
    _, validity = conn.response("UIDVALIDITY")
    if not validity or not validity[0]:
        raise MailboxError("The server gave no UIDVALIDITY for the folder.")
    uidvalidity = int(validity[0])
    if mailbox.processed_folder:
        conn.create(_quote(mailbox.processed_folder))  # NO when it exists already: fine
        typ, data = conn.uid("SEARCH", "ALL")
    else:
        typ, data = conn.uid("SEARCH", "UNKEYWORD", PROCESSED_KEYWORD)
    _check(typ, data, "Searching the folder failed")
    found = [int(u) for u in (data[0] or b"").split() if u.isdigit()]
    known = set(MailboxMessage.objects.filter(mailbox=mailbox, uidvalidity=uidvalidity,
                                              uid__gte=min(found, default=0), uid__lte=max(found, default=0))
                .values_list("uid", flat=True)) if found else set()
    # New messages first, then those logged but not yet moved or flagged: a message that stays
    # in the folder never takes the place of one not read yet.
    uids = ([u for u in found if u not in known] + [u for u in found if u in known])[:BATCH]
    moved = False
    for uid in uids:
        if uid in known:
            result.already += 1
        else:
            fetched = _fetch(conn, uid)
            if fetched is None:  # gone since the search
                continue
            raw, size = fetched
            kind = _process_or_log_failure(mailbox, uidvalidity, uid, raw, size)
            if kind is None:
                result.already += 1
            elif kind == MailboxMessageKind.FAILED:
                result.failed += 1
            else:
                result.count(kind)
        try:
            moved |= _mark_processed(conn, mailbox, uid)
        except MailboxError as exc:  # logged already: the next poll tries again, after new mail
            logger.warning("Reporting mailbox %s: message UID %s not moved or flagged: %s", mailbox.pk, uid, exc)
    if moved:
        conn.expunge()


def _process_or_log_failure(mailbox: ReportingMailbox, uidvalidity: int, uid: int, raw: bytes,
                            size: int) -> str | None:
    """The message's kind once recorded; None when another poll logged it first. A message that
    cannot be recorded is tried ATTEMPTS times (a passing database conflict), then logged as
    failed, with the reason's type only, and moved or flagged like any other: it stays in the
    mailbox (or the processed folder) for a person to read, and never holds up the queue."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return process(mailbox, uidvalidity, uid, raw, size)
        except Exception as exc:
            if isinstance(exc, IntegrityError) and MailboxMessage.objects.filter(
                    mailbox=mailbox, uidvalidity=uidvalidity, uid=uid).exists():
                return None  # another poll logged it first
            error = exc
        logger.error("Reporting mailbox %s: message UID %s not recorded (attempt %s of %s)", mailbox.pk, uid,
                     attempt, ATTEMPTS, exc_info=error)
    digest = hashlib.sha256(raw).hexdigest()
    try:
        MailboxMessage.objects.create(
            mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, kind=MailboxMessageKind.FAILED,
            received_at=timezone.now(),
            note=(f"Could not be recorded ({type(error).__name__}); left in the mailbox"
                  f"{' in “' + mailbox.processed_folder + '”' if mailbox.processed_folder else ', flagged'} "
                  f"for a person to read. {size} bytes, SHA-256 {digest}."))
    except IntegrityError:
        return None
    return MailboxMessageKind.FAILED


_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def _fetch(conn: imaplib.IMAP4, uid: int) -> tuple[bytes, int] | None:
    typ, data = conn.uid("FETCH", str(uid), f"(RFC822.SIZE BODY.PEEK[]<0.{MAX_RAW}>)")
    _check(typ, data, f"Reading message UID {uid} failed")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            head, body = item
            size = _SIZE.search(head)
            return body, int(size.group(1)) if size else len(body)
    return None


def _mark_processed(conn: imaplib.IMAP4, mailbox: ReportingMailbox, uid: int) -> bool:
    """Move the message to the processed folder (True: an expunge is due) or flag it."""
    if not mailbox.processed_folder:
        typ, data = conn.uid("STORE", str(uid), "+FLAGS", f"(\\Seen {PROCESSED_KEYWORD})")
        _check(typ, data, f"Flagging message UID {uid} failed")
        return False
    if "MOVE" in conn.capabilities:
        typ, data = conn.uid("MOVE", str(uid), _quote(mailbox.processed_folder))
        _check(typ, data, f"Moving message UID {uid} to “{mailbox.processed_folder}” failed")
        return False
    typ, data = conn.uid("COPY", str(uid), _quote(mailbox.processed_folder))
    _check(typ, data, f"Copying message UID {uid} to “{mailbox.processed_folder}” failed")
    typ, data = conn.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
    _check(typ, data, f"Removing message UID {uid} after copying it failed")
    return True


def _recipients(parsed: mailparse.Parsed) -> list[Recipient]:
    """The sent simulations the message names: by token, else by the Message-ID we sent."""
    found: list[Recipient] = []
    if parsed.tokens:
        found = list(Recipient.objects.filter(token__in=parsed.tokens, sent_at__isnull=False)
                     .select_related("person").order_by("pk"))
    if not found and parsed.message_ids:
        found = list(Recipient.objects.filter(message_id__in=parsed.message_ids, sent_at__isnull=False)
                     .exclude(message_id="").select_related("person").order_by("pk"))
    return found


def process(mailbox: ReportingMailbox, uidvalidity: int, uid: int, raw: bytes, size: int) -> str:
    """Record what one message means, with its log row, in one transaction; its kind.
    IntegrityError when the message was logged already."""
    parsed = mailparse.parse(raw)
    now = timezone.now()
    logged = MailboxMessage(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, message_id=parsed.message_id,
                            sender=parsed.sender, received_at=now)
    with transaction.atomic():
        earlier = (MailboxMessage.objects.filter(mailbox=mailbox, message_id=parsed.message_id)
                   .exclude(kind=MailboxMessageKind.DUPLICATE).first() if parsed.message_id else None)
        recipients = [] if earlier else _recipients(parsed)
        if earlier is not None:
            logged.kind = MailboxMessageKind.DUPLICATE
            logged.note = (f"Same Message-ID as UID {earlier.uid} (UIDVALIDITY {earlier.uidvalidity}), "
                           f"processed {earlier.received_at:%Y-%m-%d %H:%M} UTC: nothing recorded again.")
        elif parsed.automated:
            logged.kind = (MailboxMessageKind.BOUNCE if parsed.automated == "bounce"
                           else MailboxMessageKind.AUTO_REPLY)
            logged.recipient = recipients[0] if recipients else None
            logged.note = (f"About the simulation sent to {recipients[0].email}." if recipients
                           else "Not about a simulation.") + " Not a report."
        elif recipients:
            logged.kind = MailboxMessageKind.SIMULATION
            logged.recipient = recipients[0]
            logged.note = " ".join(_record_reported(r, parsed.sender, now) for r in recipients)
        else:
            logged.kind = MailboxMessageKind.REPORT
            report = _store_report(mailbox, parsed, raw, size, now)
            logged.note = f"Reported email {report.pk}."
        logged.save()
    return logged.kind


def _record_reported(recipient: Recipient, sender: str, now) -> str:
    """The recipient's simulation as reported (the first report only); what was done, in words."""
    already = (TrackingEvent.objects.filter(recipient=recipient, kind=EventKind.REPORTED, automated=False)
               .order_by("at").values_list("at", flat=True).first())
    if already is not None:
        return f"{recipient.email} had already reported it ({already:%Y-%m-%d %H:%M} UTC); not recorded again."
    tracking.save_event(TrackingEvent(recipient=recipient, kind=EventKind.REPORTED, at=now, method="MAIL",
                                      via="mailbox"))
    addresses = {recipient.email.lower(), (recipient.person.email or "").lower()}
    if sender and sender not in addresses:
        return (f"Recorded as reported by {recipient.email}, whose simulation it is; forwarded by {sender}, "
                f"not by the recipient.")
    return f"Recorded as reported by {recipient.email}."


def _store_report(mailbox: ReportingMailbox, parsed: mailparse.Parsed, raw: bytes, size: int,
                  now) -> ReportedEmail:
    reporter = None
    if parsed.sender:
        reporter = (Person.objects.filter(email=parsed.sender).first()
                    or Person.objects.filter(email__iexact=parsed.sender).first())
    verified = mailparse.sender_verified(parsed.authentication_results, parsed.sender, mailbox.trusted_authserv_id)
    report = ReportedEmail.objects.create(
        mailbox=mailbox, reporter_email=parsed.sender, reporter=reporter, reporter_verified=verified, received_at=now,
        message_id=parsed.message_id, subject=parsed.subject, original_from=parsed.original_from,
        original_to=parsed.original_to, original_date=parsed.original_date, headers=parsed.headers,
        body_text=parsed.text, urls=parsed.urls,
        attachments=[{"name": a.name, "content_type": a.content_type, "size": a.size, "sha256": a.sha256}
                     for a in parsed.attachments],
        problems=parsed.problems, raw=raw, raw_size=max(size, len(raw)), sha256=hashlib.sha256(raw).hexdigest())
    record("phishing.email_reported", actor_label="bastion", obj=report,
           after={"mailbox": mailbox.name, "reporter": parsed.sender, "reporter_verified": verified,
                  "subject": parsed.subject[:200],
                  "sha256": report.sha256, "size": report.raw_size})
    return report
