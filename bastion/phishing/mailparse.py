"""Reading a message that arrived in the reporting mailbox: plain Python in, plain data out.

Whatever the bytes, ``parse`` returns what could be read and never raises: a header that does
not decode, a part that lies about its encoding or a broken MIME tree each add a line to
``problems`` and parsing goes on. Text is extracted, never rendered: HTML is reduced to its
text and its link targets by nh3 (html5ever, linear time), never by ``html.parser``, whose time
grows with the square of some inputs on this Python (CVE-2025-6069); only the first
``MAX_HTML`` characters of an HTML part are read, and a cut says so in ``problems``.

- **Bounces and automatic replies**: a ``multipart/report`` (delivery status or read receipt),
  an ``Auto-Submitted`` header other than ``no``, or the usual auto-responder headers.
- **The reported email**: the first message attached as ``message/rfc822`` (a forward as
  attachment); else the message itself (a forward inline, or the original redirected).
- **Simulation tokens**: any ``/p/<letter>/<token>`` address (click, report, open, …) in the
  decoded text, HTML, or raw bytes (quoted-printable soft breaks removed, percent-decoded so a
  rewritten "safe link" still shows it), and the Message-IDs of any attached or quoted original.
"""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import Header, decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html import unescape
from urllib.parse import unquote

import nh3

MAX_TEXT = 100_000
MAX_URLS = 200
MAX_URL_LENGTH = 2000
MAX_ATTACHMENTS = 100
MAX_HEADERS = 100
MAX_HEADER_VALUE = 2000
MAX_TOKENS = 20
MAX_PARTS = 500
MAX_HTML = 512 * 1024  # characters of one HTML part read for its text and links

TOKEN_IN_URL = re.compile(r"/p/[a-z]/([A-Za-z0-9_-]{20,64})")
URL = re.compile(r"""\b(?:https?|ftp)://[^\s<>"'`{}|\\^\[\]]+""", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<[^<>\s@]{1,250}@[^<>\s]{1,250}>")
AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress-Reply")


@dataclass
class Attachment:
    name: str
    content_type: str
    size: int
    sha256: str


@dataclass
class Parsed:
    """What one message says, as far as it could be read."""

    message_id: str = ""
    sender: str = ""  # the From address of the message itself (who forwarded it), lower-cased
    automated: str = ""  # "bounce", "auto-reply" or ""
    subject: str = ""  # of the reported email
    original_from: str = ""
    original_to: str = ""
    original_date: datetime | None = None
    headers: list[list[str]] = field(default_factory=list)
    text: str = ""
    urls: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)  # of originals quoted or attached
    problems: list[str] = field(default_factory=list)
    authentication_results: list[str] = field(default_factory=list)  # of the message itself


def _header(msg: Message, name: str, problems: list[str]) -> str:
    try:
        value = msg.get(name)
    except Exception as exc:  # a header the policy cannot parse: keep its raw text
        problems.append(f"The {name} header could not be read ({type(exc).__name__}).")
        raw = [v for k, v in msg.raw_items() if k.lower() == name.lower()] if hasattr(msg, "raw_items") else []
        value = str(raw[0]) if raw else ""
    return _value_text(value)


def _value_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Header):  # raw 8-bit bytes in the header: read them as UTF-8 if they are
        value = "".join(_part_text(part, charset) for part, charset in _decoded_header(value))
    return " ".join(str(value).split())[:MAX_HEADER_VALUE]


def _part_text(part: bytes | str, charset: str | None) -> str:
    if isinstance(part, str):
        return part
    try:
        return part.decode(charset if charset and charset != "unknown-8bit" else "utf-8", "replace")
    except LookupError:
        return part.decode("utf-8", "replace")


def _decoded_header(value: Header) -> list[tuple[bytes | str, str | None]]:
    try:
        return decode_header(value)
    except (LookupError, ValueError):
        return [(str(value), None)]


def _addresses(value: str) -> str:
    pairs = getaddresses([value])
    return ", ".join(f"{n} <{a}>" if n else a for n, a in pairs if a or n)[:MAX_HEADER_VALUE]


# Tags whose link targets are collected (the old parser took them from any tag).
_LINK_TAGS = {"a", "area", "img", "form", "iframe", "frame", "embed", "source", "input", "button", "link",
              "base", "video", "audio", "track", "object", "table", "td", "th", "body", "div", "span", "p"}
_LINK_ATTRIBUTES = {"*": {"href", "src", "action", "formaction", "background"}}
_BREAKS = {"br", "p", "div", "tr", "li", "h1", "h2", "h3"}
_TAG = re.compile(r"<[^>]*>")


def html_to_text(markup: str) -> tuple[str, list[str]]:
    """The text of an HTML part (scripts and styles dropped, a line break for each block) and
    its link targets. nh3 parses in linear time; its output is well-formed, so a plain regex
    can then turn its few remaining tags into line breaks."""
    links: list[str] = []

    def collect(tag: str, attribute: str, value: str) -> str | None:
        if value and len(links) < MAX_URLS * 5:
            links.append(value.strip())
        return None  # nothing is kept: only the values are wanted

    try:
        nh3.clean(markup, tags=_LINK_TAGS, attributes=_LINK_ATTRIBUTES, attribute_filter=collect, link_rel=None)
        blocks = nh3.clean(markup, tags=_BREAKS, attributes={}, clean_content_tags={"script", "style"},
                           link_rel=None)
    except Exception:  # nh3 reads any string; kept so a surprise costs the text, not the message
        return "", links
    text = unescape(_TAG.sub("\n", blocks))
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n\n", text).strip()
    return text, links


def _decoded(part: Message, problems: list[str]) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception as exc:
        problems.append(f"A {part.get_content_type()} part could not be decoded ({type(exc).__name__}).")
        return b""
    return payload if isinstance(payload, bytes) else b""


def _text_of(part: Message, problems: list[str]) -> str:
    data = _decoded(part, problems)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        problems.append(f"Unknown character set “{charset[:40]}”; read as UTF-8.")
        return data.decode("utf-8", errors="replace")


def _walk(msg: Message, problems: list[str]):
    """Every part, depth first, including those inside attached messages; bounded."""
    count = 0
    stack = [msg]
    while stack:
        part = stack.pop(0)
        count += 1
        if count > MAX_PARTS:
            problems.append(f"More than {MAX_PARTS} MIME parts: the rest were not read.")
            return
        yield part
        try:
            payload = part.get_payload()
        except Exception:
            payload = None
        if isinstance(payload, list):
            stack[0:0] = [p for p in payload if isinstance(p, Message)]


def _attached_message(msg: Message, problems: list[str]) -> Message | None:
    for part in _walk(msg, problems):
        if part is not msg and part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
    return None


def _is_automated(msg: Message, problems: list[str]) -> str:
    content_type = msg.get_content_type()
    if content_type == "multipart/report":
        report_type = (msg.get_param("report-type") or "")
        report_type = report_type.lower() if isinstance(report_type, str) else ""
        return "bounce" if report_type == "delivery-status" else "auto-reply"
    auto = _header(msg, "Auto-Submitted", problems).lower()
    if auto and auto != "no":
        return "auto-reply"
    if any(_header(msg, h, problems) for h in AUTO_HEADERS):
        return "auto-reply"
    if _header(msg, "Precedence", problems).lower() == "auto_reply":  # not bulk: a redirected phish may say so
        return "auto-reply"
    sender = parseaddr(_header(msg, "From", problems))[1].lower()
    if sender.startswith(("mailer-daemon@", "postmaster@")):
        return "bounce"
    return ""


def _urls_in(text: str) -> list[str]:
    return [m.group(0).rstrip(".,;:!?)") for m in URL.finditer(text)]


def _unique(values, limit: int) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value and value not in seen:
            seen[value] = None
            if len(seen) >= limit:
                break
    return list(seen)


def _date(value: str, problems: list[str]) -> datetime | None:
    """The Date header as an aware datetime every database stores: its UTC value within the
    years 1 to 9998 (9999 with an offset overflows some databases' conversions)."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:
            return None
        utc = parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        problems.append("The Date header is not a date.")
        return None
    if not 1 <= utc.year <= 9998:
        problems.append("The Date header is not a date.")
        return None
    return utc


def parse(raw: bytes) -> Parsed:
    """Everything Bastion needs from one message; never raises."""
    out = Parsed()
    try:
        return _parse(raw, out)
    except Exception as exc:  # a case the steps below did not foresee: keep what was read
        out.problems.append(f"The message could not be read to the end ({type(exc).__name__}).")
        try:
            return _storable(out)
        except Exception:
            return Parsed(problems=[f"The message could not be read ({type(exc).__name__})."])


def _parse(raw: bytes, out: Parsed) -> Parsed:
    problems = out.problems
    try:
        msg = message_from_bytes(raw, policy=policy.compat32)
    except Exception as exc:  # pragma: no cover - the parser recovers from nearly anything
        problems.append(f"The message could not be parsed ({type(exc).__name__}).")
        msg = Message()
    for defect in (msg.defects or [])[:10]:
        problems.append(f"MIME: {type(defect).__name__}")

    out.message_id = _header(msg, "Message-ID", problems)[:500]
    out.sender = parseaddr(_header(msg, "From", problems))[1].lower()[:320]
    try:
        out.authentication_results = [_value_text(v) for v in (msg.get_all("Authentication-Results") or [])[:20]]
    except Exception:
        problems.append("The Authentication-Results headers could not be read.")
    out.automated = _is_automated(msg, problems)

    original = _attached_message(msg, problems)
    reported = original if original is not None else msg
    out.subject = _decode_words(_header(reported, "Subject", problems))[:1000]
    if original is None:
        out.subject = re.sub(r"^\s*((fwd?|fw|tr|wg|rv)\s*:\s*)+", "", out.subject, flags=re.IGNORECASE)
    out.original_from = _addresses(_decode_words(_header(reported, "From", problems)))[:1000]
    out.original_to = _addresses(_decode_words(_header(reported, "To", problems)))
    out.original_date = _date(_header(reported, "Date", problems), problems)
    try:
        out.headers = [[str(k)[:200], _decode_words(_value_text(v))[:MAX_HEADER_VALUE]]
                       for k, v in list(reported.items())[:MAX_HEADERS]]
    except Exception as exc:
        problems.append(f"The headers could not be listed ({type(exc).__name__}).")

    texts, html_links, attachments = _read_parts(reported, problems)
    out.text = "\n\n".join(t for t in texts if t.strip())[:MAX_TEXT]
    out.urls = [u[:MAX_URL_LENGTH] for u in _unique([*html_links, *_urls_in(out.text)], MAX_URLS)
                if u.lower().startswith(("http://", "https://", "ftp://", "mailto:"))]
    out.attachments = attachments

    # Tokens and Message-IDs are looked for in the whole message (the forward's own text too).
    outer_texts, outer_links, _ = _read_parts(msg, []) if original is not None else ([], [], [])
    haystack = "\n".join([*texts, *html_links, *outer_texts, *outer_links])
    raw_text = raw.decode("latin-1").replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
    candidates = [haystack, raw_text]
    candidates += [unquote(c) for c in candidates]
    candidates += [unquote(c) for c in candidates[2:]]  # encoded twice by some gateways
    out.tokens = _unique((m.group(1) for c in candidates for m in TOKEN_IN_URL.finditer(c)), MAX_TOKENS)
    ids = []
    if original is not None:
        ids.append(_header(original, "Message-ID", problems))
    for part in _walk(msg, []):
        if part.get_content_type() in ("text/rfc822-headers", "message/rfc822-headers"):
            quoted = re.findall(r"^message-id:\s*(\S+)", _text_of(part, problems), re.IGNORECASE | re.MULTILINE)
            ids += [m.group(0) for q in quoted for m in MESSAGE_ID.finditer(q)]
    for name in ("In-Reply-To", "References"):
        ids += [m.group(0) for m in MESSAGE_ID.finditer(_header(msg, name, problems))]
    out.message_ids = _unique((i.strip() for i in ids if i and i.strip() != out.message_id), MAX_TOKENS)
    out.problems = _unique(problems, 50)
    return _storable(out)


def _text(value: str) -> str:
    """Text a database stores: bytes smuggled in as surrogates read as UTF-8, no NUL."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")


def _storable(out: Parsed) -> Parsed:
    for name in ("message_id", "sender", "subject", "original_from", "original_to", "text"):
        setattr(out, name, _text(getattr(out, name)))
    out.headers = [[_text(k), _text(v)] for k, v in out.headers]
    out.urls, out.problems = [_text(u) for u in out.urls], [_text(p) for p in out.problems]
    out.tokens, out.message_ids = [_text(t) for t in out.tokens], [_text(i) for i in out.message_ids]
    out.authentication_results = [_text(a) for a in out.authentication_results]
    for attachment in out.attachments:
        attachment.name, attachment.content_type = _text(attachment.name), _text(attachment.content_type)
    return out


def _read_parts(msg: Message, problems: list[str]) -> tuple[list[str], list[str], list[Attachment]]:
    """The text parts (HTML reduced to text), the HTML's link targets and the attachments of
    `msg`, not descending into messages attached to it (their parts are theirs)."""
    texts: list[str] = []
    links: list[str] = []
    attachments: list[Attachment] = []
    stack = [msg]
    seen = 0
    while stack:
        part = stack.pop(0)
        seen += 1
        if seen > MAX_PARTS:
            problems.append(f"More than {MAX_PARTS} MIME parts: the rest were not read.")
            break
        content_type = part.get_content_type()
        if part.is_multipart():
            payload = part.get_payload()
            if content_type == "message/rfc822" and part is not msg:
                _attach(part, content_type, payload, attachments, problems)
                continue
            if isinstance(payload, list):
                stack[0:0] = [p for p in payload if isinstance(p, Message)]
            continue
        filename = _filename(part, problems)
        # 8-bit bytes make compat32 return a Header object, not a str: read it as text.
        disposition = _value_text(part.get("Content-Disposition")).split(";")[0].strip().lower()
        if filename or disposition == "attachment" or not content_type.startswith("text/"):
            if part is not msg or filename:
                _attach(part, content_type, None, attachments, problems)
                continue
        if content_type == "text/html":
            markup = _text_of(part, problems)
            if len(markup) > MAX_HTML:
                problems.append(f"An HTML part of {len(markup):,} characters was cut at {MAX_HTML:,}: the text "
                                f"and links after that were not read (the message itself is kept).")
                markup = markup[:MAX_HTML]
            text, found = html_to_text(markup)
            texts.append(text)
            links += found
        elif content_type.startswith("text/"):
            texts.append(_text_of(part, problems))
    return texts, [unescape(link) for link in links], attachments


def _filename(part: Message, problems: list[str]) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        problems.append("An attachment's name could not be read.")
        return ""
    return _decode_words(str(name))[:300]


def _attach(part: Message, content_type: str, payload, attachments: list[Attachment], problems: list[str]) -> None:
    if len(attachments) >= MAX_ATTACHMENTS:
        return
    if payload is not None:  # an attached message: its bytes as sent
        try:
            data = part.as_bytes()
        except Exception:
            data = b""
        name = _filename(part, problems) or "attached message.eml"
    else:
        data = _decoded(part, problems)
        name = _filename(part, problems) or "(no name)"
    attachments.append(Attachment(name=name, content_type=content_type[:200], size=len(data),
                                  sha256=hashlib.sha256(data).hexdigest()))


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words (=?utf-8?…?=) as text; the value itself if they do not decode."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


_COMMENT = re.compile(r"\([^()]*\)")


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other."""
    domain, from_domain = domain.strip().strip(".").lower(), from_domain.lower()
    return bool(domain) and (domain == from_domain or from_domain.endswith("." + domain)
                             or domain.endswith("." + from_domain))


def sender_verified(results: list[str], sender: str, authserv_id: str) -> bool:
    """Whether the mail server named `authserv_id` (the organisation's own, which removes any
    header claiming its name from incoming mail, RFC 8601 section 5) vouched for the From
    address `sender`: dmarc=pass, or dkim=pass or spf=pass for a domain aligned with it.
    Headers from any other server are ignored; no `authserv_id`, nothing is verified."""
    authserv_id = authserv_id.strip().lower()
    from_domain = sender.rpartition("@")[2].lower()
    if not authserv_id or not from_domain or "@" not in sender:
        return False
    for header in results:
        text = header
        while _COMMENT.search(text):  # comments nest; each pass removes the innermost
            text = _COMMENT.sub(" ", text)
        server, *found = text.split(";")
        if not server.split() or server.split()[0].lower() != authserv_id:
            continue
        for result in found:
            words = result.split()
            if not words or "=" not in words[0]:
                continue
            method, _, outcome = words[0].lower().partition("=")
            properties = {}
            for word in words[1:]:
                name, _, value = word.partition("=")
                properties[name.lower()] = value.strip('"').rpartition("@")[2]
            if outcome != "pass":
                continue
            if method == "dmarc" and _aligned(properties.get("header.from", from_domain), from_domain):
                return True
            if method == "dkim" and _aligned(properties.get("header.d", properties.get("header.i", "")), from_domain):
                return True
            if method == "spf" and _aligned(properties.get("smtp.mailfrom", ""), from_domain):
                return True
    return False
