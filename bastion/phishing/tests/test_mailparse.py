"""Reading forwarded mail (mailparse.py): the dense parts, as plain data in and out."""

from email.message import EmailMessage
from urllib.parse import quote

import pytest

from bastion.phishing.mailparse import html_to_text, parse

TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"


def test_a_token_is_found_behind_a_rewritten_safe_link():
    link = "https://bastion.example.com/p/c/" + TOKEN + "/"
    safe = "https://eur01.safelinks.protection.outlook.com/?url=" + quote(link, safe="") + "&data=05"
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "Fwd: x"
    msg.set_content("see below")
    msg.add_alternative(f'<a href="{safe}">keep it</a>', subtype="html")
    assert parse(msg.as_bytes()).tokens == [TOKEN]


def test_a_token_split_by_quoted_printable_soft_breaks_is_found():
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg.set_content("x" * 60 + " https://bastion.example.com/p/r/" + TOKEN + "/ end", cte="quoted-printable")
    raw = msg.as_bytes()
    assert b"=\n" in raw  # the line was broken
    assert parse(raw).tokens == [TOKEN]


def test_html_only_mail_becomes_text_without_scripts_and_keeps_its_links():
    text, links = html_to_text('<p>Hello <b>you</b></p><script>steal()</script><a href="https://x.example/a">a</a>')
    assert "steal" not in text and "Hello you" in text and links == ["https://x.example/a"]


@pytest.mark.parametrize("raw", [
    b"",
    b"\x00\x01\x02",
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n--b--",
    b"Subject: =?x-unknown?Q?abc?=\r\nContent-Type: text/plain; charset=x-nonsense\r\n\r\n\xff\xfe body",
    b"From: <<<@@@>>>\r\nDate: 99 Foo 99999 99:99\r\n\r\n",
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 800,
])
def test_anything_parses_without_raising(raw):
    parsed = parse(raw)
    assert isinstance(parsed.problems, list) and isinstance(parsed.text, str)


def test_a_dsn_is_a_bounce_and_names_the_original_message_id():
    raw = (b"From: MAILER-DAEMON@mx.example.com\r\nContent-Type: multipart/report; report-type=delivery-status; "
           b"boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\n"
           b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\nAction: failed\r\n--b\r\n"
           b"Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: <abc.123@example.com>\r\nSubject: x\r\n--b--\r\n")
    parsed = parse(raw)
    assert parsed.automated == "bounce" and parsed.message_ids == ["<abc.123@example.com>"]


def test_an_inline_forward_is_the_reported_email_itself_without_its_fwd_prefix():
    msg = EmailMessage()
    msg["From"] = "Ann <ANN@Example.com>"
    msg["Subject"] = "Fwd: FW: Invoice 42"
    msg.set_content("Forwarded: pay at http://pay.example.net/now.")
    parsed = parse(msg.as_bytes())
    assert parsed.subject == "Invoice 42" and parsed.sender == "ann@example.com"
    assert parsed.urls == ["http://pay.example.net/now"] and parsed.automated == ""


@pytest.mark.parametrize("raw, problem", [
    # 8-bit bytes in Content-Disposition: compat32 hands back a Header object, not a str.
    (b"From: a@b.example\r\nSubject: x\r\nContent-Disposition: inl\xe9ne\r\n\r\nhello\r\n", None),
    (b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/plain\r\n"
     b"Content-Disposition: attachment; filename=\"\xe9t\xe9.txt\"\r\n\r\nhello\r\n--X--\r\n", None),
    # A year too large for a datetime, and one whose UTC value is past 9999.
    (b"From: a@b.example\r\nDate: Mon, 01 Jan 99999999999999999999 00:00:00 +0000\r\n\r\nhi\r\n",
     "The Date header is not a date."),
    (b"From: a@b.example\r\nDate: Mon, 31 Dec 9999 23:59:59 -2359\r\n\r\nhi\r\n", "The Date header is not a date."),
    (b"From: a@b.example\r\nDate: Fri, 31 Dec 9998 23:59:59 +0000\r\n\r\nhi\r\n", None),
])
def test_headers_that_once_raised_are_read_or_noted(raw, problem):
    parsed = parse(raw)
    assert parsed.sender == "a@b.example"
    if problem:
        assert problem in parsed.problems and parsed.original_date is None
    assert parsed.original_date is None or 1 <= parsed.original_date.year <= 9998


def test_html_is_read_in_linear_time_and_a_huge_part_is_cut_with_a_note():
    # html.parser of Python 3.13.0 takes minutes on this (CVE-2025-6069); nh3 a fraction of a second.
    raw = b"From: x@evil.example\r\nSubject: hi\r\nContent-Type: text/html\r\n\r\n" + b"<!--" * 200_000
    parsed = parse(raw)
    assert parsed.text == ""
    assert any("was cut at" in p for p in parsed.problems)
    body = '<p>Pay <a href="https://pay.example/inv?a=1&amp;b=2">here</a></p>' + "<!--x-->" * 100_000
    parsed = parse(b"From: x@evil.example\r\nContent-Type: text/html\r\n\r\n" + body.encode())
    assert parsed.text == "Pay here" and parsed.urls == ["https://pay.example/inv?a=1&b=2"]
    assert any("was cut at" in p for p in parsed.problems)


def test_html_text_keeps_lines_entities_and_every_kind_of_link():
    text, links = html_to_text('<div>One &amp; two</div><style>p{}</style><p>three<br>four</p>'
                               '<img src="https://img.example/p.png"><form action="https://f.example/post">'
                               '<table background="https://bg.example/"><tr><td>cell</td></tr></table>')
    assert text == "One & two\n\nthree\nfour\n\ncell"
    assert links == ["https://img.example/p.png", "https://f.example/post", "https://bg.example/"]
