"""The reporting mailbox against a real IMAP server (dovecot): forwarded simulations recorded as
reported on their campaign, other mail stored for triage, bounces and automatic replies
skipped, malformed mail kept, each message once however often it is read."""

import hashlib
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.phishing import mailbox as mailbox_module
from bastion.phishing import sending
from bastion.phishing.models import (
    EventKind,
    MailboxMessage,
    Recipient,
    ReportedEmail,
    ReportingMailbox,
    TrackingEvent,
)
from bastion.phishing.reports import do_save_mailbox

from .conftest import make_people
from .imap_server import imap_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulation(make_campaign, smtp_server):
    """Four people (boss, person1..3) sent a simulation through the SMTP sink: the messages as
    their mail clients received them, by address."""
    make_people(4)
    campaign = make_campaign()
    sending.send_due()
    assert len(smtp_server.messages) == 4
    return campaign, {str(m["To"]): m for m in smtp_server.messages}


@pytest.fixture
def reporting_mailbox(db, imap_server):  # noqa: F811
    return do_save_mailbox(None, acting_user=None, name="Report phishing", host="127.0.0.1",
                           port=imap_server.port, security="none", username=imap_server.user,
                           password=imap_server.password, folder="INBOX", processed_folder="", enabled=True)


def forward_as_attachment(original, sender: str, note: str = "This looks odd.") -> bytes:
    outer = EmailMessage()
    outer["From"] = sender
    outer["To"] = "report-phishing@example.com"
    outer["Subject"] = f"Fwd: {original['Subject']}"
    outer["Message-ID"] = make_msgid(domain="example.com")
    outer["Date"] = format_datetime(timezone.now())
    outer.set_content(note)
    outer.add_attachment(original)  # message/rfc822
    return outer.as_bytes()


def forward_inline(original, sender: str) -> bytes:
    text = original.get_body(("plain",)).get_content()
    outer = EmailMessage()
    outer["From"] = sender
    outer["To"] = "report-phishing@example.com"
    outer["Subject"] = f"FW: {original['Subject']}"
    outer["Message-ID"] = make_msgid(domain="example.com")
    quoted = "\n".join("> " + line for line in text.splitlines())
    outer.set_content(f"Is this real?\n\n-------- Forwarded message --------\nFrom: {original['From']}\n"
                      f"Subject: {original['Subject']}\n\n{quoted}\n")
    return outer.as_bytes()


def real_phish() -> EmailMessage:
    phish = EmailMessage()
    phish["From"] = "Payroll Team <payroll@evil.example.net>"
    phish["To"] = "person1@example.com"
    phish["Subject"] = "Your salary slip is ready"
    phish["Message-ID"] = make_msgid(domain="evil.example.net")
    phish["Date"] = "Tue, 24 Nov 2026 08:15:00 +0000"
    phish["X-Mailer"] = "<img src=x onerror=alert(1)>"
    phish.set_content("Open your slip: https://evil.example.net/slip?id=42 today.")
    phish.add_alternative('<p>Open <a href="https://evil.example.net/login?u=1&amp;v=2">your slip</a></p>'
                          '<script>alert("pwned")</script><b onmouseover="x()">now</b>', subtype="html")
    phish.add_attachment(b"%PDF-1.4 not really", maintype="application", subtype="pdf", filename="slip.pdf")
    return phish


def dsn_about(original) -> bytes:
    bounce = EmailMessage()
    bounce["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.com>"
    bounce["To"] = "report-phishing@example.com"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce["Message-ID"] = make_msgid(domain="mx.example.com")
    bounce["Auto-Submitted"] = "auto-replied"
    bounce.set_content("This is the mail system. The message could not be delivered.")
    bounce.make_mixed()
    raw = bounce.as_bytes().decode()
    boundary = bounce.get_boundary()
    headers = f"From: {original['From']}\r\nTo: {original['To']}\r\nMessage-ID: {original['Message-ID']}\r\n"
    parts = (f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
             f"Final-Recipient: rfc822; {original['To']}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
             f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n--{boundary}--\r\n")
    raw = raw.replace(f"--{boundary}--", parts.rstrip("\r\n").removesuffix(f"--{boundary}--") + f"--{boundary}--")
    return raw.replace("multipart/mixed", "multipart/report; report-type=delivery-status", 1).encode()


def out_of_office() -> bytes:
    reply = EmailMessage()
    reply["From"] = "person3@example.com"
    reply["To"] = "report-phishing@example.com"
    reply["Subject"] = "Out of office"
    reply["Auto-Submitted"] = "auto-replied"
    reply["Message-ID"] = make_msgid(domain="example.com")
    reply.set_content("I am away until Monday.")
    return reply.as_bytes()


MALFORMED = (b"From: person2@example.com\r\nTo: report-phishing@example.com\r\n"
             b"Subject: =?utf-8?B?broken?= Fwd: strange \xff\xfe invoice\r\n"
             b"Message-ID: <malformed-1@example.com>\r\nDate: not a date\r\n"
             b"Content-Type: multipart/mixed\r\n\r\n"
             b"no boundary at all http://bad.example.org/x \xc3\x28\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n!!!notbase64***\r\n")


EIGHT_BIT = (b"From: person3@example.com\r\nTo: report-phishing@example.com\r\n"
             b"Subject: Gr\xfc\xdfe aus \xc3\xa9 Paris\r\nMessage-ID: <eight-bit@example.com>\r\n"
             b"Content-Type: text/plain; charset=utf-8\r\n\r\nNUL here:\x00 and http://nul.example.org/\x00x\r\n")


def no_token_forward() -> bytes:
    fwd = EmailMessage()
    fwd["From"] = "Person Two <PERSON2@example.com>"
    fwd["To"] = "report-phishing@example.com"
    fwd["Subject"] = "Fwd: Team lunch on Friday"
    fwd["Message-ID"] = make_msgid(domain="example.com")
    fwd.set_content("---------- Forwarded message ---------\nLunch at noon, see https://intranet.example.com/lunch")
    return fwd.as_bytes()


def test_each_kind_of_message_is_recorded_once_and_shown_to_the_security_team(
        simulation, reporting_mailbox, imap_server, api_for, client_for, lead, run_tasks):  # noqa: F811
    campaign, received = simulation
    phish = real_phish()
    messages = [
        forward_as_attachment(received["person1@example.com"], "person1@example.com"),
        forward_inline(received["person2@example.com"], "Person Two <person2@example.com>"),
        forward_as_attachment(received["person3@example.com"], "boss@example.com", "Mona forwarding for Three"),
        forward_as_attachment(phish, "First1 Last1 <person1@example.com>", "Got this, not sure"),
        no_token_forward(),
        dsn_about(received["boss@example.com"]),
        out_of_office(),
        MALFORMED,
        EIGHT_BIT,
    ]
    for raw in messages:
        imap_server.append(raw)
    lead_api = api_for(lead)
    assert lead_api.get(f"/api/v1/campaigns/{campaign.pk}/results").json()["filtered"]["reported"] == 0

    from bastion.phishing.tasks import poll_reporting_mailboxes

    poll_reporting_mailboxes.enqueue()
    run_tasks()

    # The simulations: reported, via the mailbox, once each; the boss's bounced one is not.
    reported = dict(TrackingEvent.objects.filter(kind=EventKind.REPORTED)
                    .values_list("recipient__email", "via"))
    assert reported == {"person1@example.com": "mailbox", "person2@example.com": "mailbox",
                        "person3@example.com": "mailbox"}
    assert not TrackingEvent.objects.filter(kind=EventKind.REPORTED, automated=True).exists()
    results = lead_api.get(f"/api/v1/campaigns/{campaign.pk}/results").json()
    assert results["filtered"]["reported"] == 3
    person1 = Recipient.objects.get(email="person1@example.com").person
    history = lead_api.get(f"/api/v1/phishing/people/{person1.pk}/history").json()
    assert history["simulations"][0]["reported_at"] is not None
    kinds = sorted(MailboxMessage.objects.values_list("kind", flat=True))
    assert kinds == ["auto-reply", "bounce", "report", "report", "report", "report", "simulation", "simulation",
                     "simulation"]
    bounce = MailboxMessage.objects.get(kind="bounce")
    assert bounce.recipient.email == "boss@example.com"
    by_boss = MailboxMessage.objects.get(kind="simulation", sender="boss@example.com")
    assert "forwarded by boss@example.com, not by the recipient" in by_boss.note

    # The security team sees the three real reports, newest first.
    listed = lead_api.get("/api/v1/phishing/reports").json()
    assert listed["count"] == 4
    subjects = {item["subject"] for item in listed["items"]}
    assert "Your salary slip is ready" in subjects and "Team lunch on Friday" in subjects
    page = client_for(lead).get("/phishing/reports/")
    assert page.status_code == 200 and "Your salary slip is ready" in page.content.decode()

    report = ReportedEmail.objects.get(subject="Your salary slip is ready")
    assert report.reporter == person1 and report.reporter_email == "person1@example.com"
    assert report.original_from == "Payroll Team <payroll@evil.example.net>"
    assert report.original_to == "person1@example.com" and report.original_date.year == 2026
    assert "https://evil.example.net/login?u=1&v=2" in report.urls
    assert "https://evil.example.net/slip?id=42" in report.urls
    assert report.attachments == [{"name": "slip.pdf", "content_type": "application/pdf", "size": 19,
                                   "sha256": hashlib.sha256(b"%PDF-1.4 not really").hexdigest()}]
    as_stored = messages[3].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # IMAP lines end in CRLF
    assert bytes(report.raw) == as_stored and report.sha256 == hashlib.sha256(as_stored).hexdigest()
    detail = client_for(lead).get(f"/phishing/reports/{report.pk}/").content.decode()
    assert "<script>" not in detail and "pwned" not in detail and "<b onmouseover" not in detail
    assert "&lt;img src=x onerror=alert(1)&gt;" in detail and "<img src=x" not in detail  # a header, as text
    assert "https://evil.example.net/login?u=1&amp;v=2" in detail  # as text, escaped
    assert "slip.pdf" in detail and report.sha256 in detail
    assert '<a href="https://evil' not in detail
    eml = client_for(lead).get(f"/phishing/reports/{report.pk}/message.eml")
    assert eml.status_code == 200 and eml["Content-Type"] == "application/octet-stream"
    assert eml["Content-Disposition"] == f'attachment; filename="reported-email-{report.pk}.eml"'
    assert hashlib.sha256(eml.content).hexdigest() == report.sha256
    assert b"Got this, not sure" in eml.content

    lunch = ReportedEmail.objects.get(subject="Team lunch on Friday")
    assert lunch.reporter.email == "person2@example.com"  # matched whatever the case
    malformed = ReportedEmail.objects.get(message_id="<malformed-1@example.com>")
    assert malformed.problems and malformed.reporter.email == "person2@example.com"
    eight_bit = ReportedEmail.objects.get(message_id="<eight-bit@example.com>")
    assert "\x00" not in eight_bit.body_text and "Paris" in eight_bit.subject and "é" in eight_bit.subject
    assert AuditEntry.objects.filter(action="phishing.email_reported").count() == 4

    # Every message is flagged as processed; the mailbox shows a successful poll.
    assert imap_server.uids(criteria="UNKEYWORD $BastionProcessed") == []
    reporting_mailbox.refresh_from_db()
    assert reporting_mailbox.last_success_at and reporting_mailbox.last_error == ""

    # Read again: nothing recorded twice.
    again = mailbox_module.poll_all()
    assert (again.simulations, again.reports, again.already) == (0, 0, 0)
    assert ReportedEmail.objects.count() == 4 and TrackingEvent.objects.filter(kind=EventKind.REPORTED).count() == 3


def unflag_all(imap_server) -> None:  # noqa: F811
    conn = imap_server.client()
    try:
        conn.select("INBOX")
        conn.uid("STORE", "1:*", "-FLAGS", "(\\Seen $BastionProcessed)")
    finally:
        conn.logout()


def test_a_worker_killed_before_flagging_records_nothing_twice(simulation, reporting_mailbox, imap_server):  # noqa: F811
    _, received = simulation
    imap_server.append(forward_as_attachment(received["person1@example.com"], "person1@example.com"))
    imap_server.append(forward_as_attachment(real_phish(), "person1@example.com"))
    first = mailbox_module.poll_all()
    assert (first.simulations, first.reports) == (1, 1)
    unflag_all(imap_server)  # as if the worker died after recording, before flagging
    second = mailbox_module.poll_all()
    assert (second.simulations, second.reports, second.already) == (0, 0, 2)
    assert ReportedEmail.objects.count() == 1 and TrackingEvent.objects.filter(kind=EventKind.REPORTED).count() == 1
    assert imap_server.uids(criteria="UNKEYWORD $BastionProcessed") == []


def test_the_same_message_again_is_a_duplicate_and_a_second_report_of_a_simulation_is_not_recorded(
        simulation, reporting_mailbox, imap_server):  # noqa: F811
    _, received = simulation
    raw = forward_as_attachment(real_phish(), "person1@example.com")
    imap_server.append(raw)
    imap_server.append(forward_as_attachment(received["person2@example.com"], "person2@example.com"))
    mailbox_module.poll_all()
    imap_server.append(raw)  # copied back into the folder: a new UID, the same Message-ID
    imap_server.append(forward_inline(received["person2@example.com"], "person2@example.com"))  # reported again
    result = mailbox_module.poll_all()
    assert (result.duplicates, result.simulations, result.reports) == (1, 1, 0)
    assert ReportedEmail.objects.count() == 1
    assert TrackingEvent.objects.filter(kind=EventKind.REPORTED).count() == 1
    again = MailboxMessage.objects.filter(kind="simulation").order_by("-pk").first()
    assert "had already reported it" in again.note


def test_processed_mail_is_moved_when_a_folder_is_given(simulation, reporting_mailbox, imap_server):  # noqa: F811
    _, received = simulation
    do_save_mailbox(reporting_mailbox, acting_user=None, processed_folder="Processed by Bastion")
    imap_server.append(forward_as_attachment(received["person1@example.com"], "person1@example.com"))
    imap_server.append(no_token_forward())
    result = mailbox_module.poll_all()
    assert (result.simulations, result.reports) == (1, 1)
    assert imap_server.uids("INBOX") == [] and len(imap_server.uids("Processed by Bastion")) == 2


def test_a_wrong_password_shows_on_the_mailbox_and_records_nothing(
        simulation, reporting_mailbox, imap_server, client_for, lead):  # noqa: F811
    _, received = simulation
    imap_server.append(forward_as_attachment(received["person1@example.com"], "person1@example.com"))
    do_save_mailbox(reporting_mailbox, acting_user=None, password="not-the-password")
    result = mailbox_module.poll_all()
    assert reporting_mailbox.pk in result.errors
    reporting_mailbox.refresh_from_db()
    assert "AUTHENTICATIONFAILED" in reporting_mailbox.last_error or "Authentication failed" in reporting_mailbox.last_error
    assert "not-the-password" not in reporting_mailbox.last_error
    assert not MailboxMessage.objects.exists() and not TrackingEvent.objects.exists()
    page = client_for(lead).get("/phishing/mailboxes/").content.decode()
    assert "Authentication failed" in page and "not-the-password" not in page
    assert imap_server.uids(criteria="UNKEYWORD $BastionProcessed") == imap_server.uids()


def test_the_connection_test_from_the_page(reporting_mailbox, imap_server, client_for, lead):  # noqa: F811
    imap_server.append(no_token_forward())
    client = client_for(lead)
    response = client.post(f"/phishing/mailboxes/{reporting_mailbox.pk}/test/", follow=True)
    assert "1 message(s) in INBOX" in response.content.decode()
    assert not MailboxMessage.objects.exists()  # a test reads nothing
    do_save_mailbox(reporting_mailbox, acting_user=None, password="wrong-one")
    response = client.post(f"/phishing/mailboxes/{reporting_mailbox.pk}/test/", follow=True)
    body = response.content.decode()
    assert "failed" in body and "Authentication failed" in body and "wrong-one" not in body


def test_an_unreachable_server_is_an_error_not_a_crash(db, lead):
    from conftest import free_port

    box = do_save_mailbox(None, acting_user=lead, name="Down", host="127.0.0.1", port=free_port(), security="none",
                          username="x", password="y", folder="INBOX", processed_folder="", enabled=True)
    result = mailbox_module.poll_all()
    box.refresh_from_db()
    assert "connection refused" in box.last_error and result.errors == {box.pk: box.last_error}
    assert box.last_poll_at is not None and box.last_success_at is None


def test_plaintext_to_a_remote_host_is_refused_unless_allowed(db, api_for, lead):
    api = api_for(lead)
    body = {"name": "Remote", "host": "imap.example.com", "port": 143, "security": "none", "username": "u",
            "password": "secret-pw", "folder": "INBOX"}
    refused = api.post("/api/v1/phishing/mailboxes", body, content_type="application/json")
    assert refused.status_code == 422 and "loopback" in refused.json()["detail"]
    allowed = api.post("/api/v1/phishing/mailboxes", {**body, "allow_plaintext": True},
                       content_type="application/json")
    assert allowed.status_code == 201 and allowed.json()["password"] == "********"
    assert "secret-pw" not in allowed.content.decode()
    entry = AuditEntry.objects.get(action="phishing.mailbox_created")
    assert "secret-pw" not in str(entry.after) and entry.after["host"] == "imap.example.com"
    # Changing something else without a password keeps the stored one.
    pk = allowed.json()["id"]
    changed = api.put(f"/api/v1/phishing/mailboxes/{pk}", {**body, "allow_plaintext": True, "password": "",
                                                           "folder": "Phish"}, content_type="application/json")
    assert changed.status_code == 200 and ReportingMailbox.objects.get(pk=pk).password == "secret-pw"
    bad_folder = api.put(f"/api/v1/phishing/mailboxes/{pk}", {**body, "allow_plaintext": True,
                                                              "folder": 'IN"BOX'}, content_type="application/json")
    assert bad_folder.status_code == 422 and "folder" in bad_folder.json()["detail"]


def test_the_mailbox_form_never_shows_the_password(db, client_for, lead):
    client = client_for(lead)
    response = client.post("/phishing/mailboxes/new/", {
        "name": "Reports", "host": "imap.example.com", "port": "993", "security": "tls", "username": "reports",
        "password": "Typed-Secret-99", "folder": "INBOX", "processed_folder": "", "enabled": "on"})
    assert response.status_code == 302
    box = ReportingMailbox.objects.get()
    assert box.password == "Typed-Secret-99"
    for url in ("/phishing/mailboxes/", f"/phishing/mailboxes/{box.pk}/edit/"):
        assert "Typed-Secret-99" not in client.get(url).content.decode()
    refused = client.post(f"/phishing/mailboxes/{box.pk}/edit/", {
        "name": "Reports", "host": "imap.example.com", "port": "143", "security": "none", "username": "reports",
        "password": "Another-Secret-1", "folder": "INBOX", "processed_folder": ""})
    assert refused.status_code == 422 and "loopback" in refused.content.decode()
    assert "Another-Secret-1" not in refused.content.decode()


# --- roles -----------------------------------------------------------------------------------

TRIAGE = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
MAILBOX_READERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR}


@pytest.fixture
def a_report(db):
    raw = b"Subject: Invoice overdue\r\n\r\nPay now\r\n"
    return ReportedEmail.objects.create(subject="Invoice overdue", original_from="x@evil.example.net", raw=raw,
                                        raw_size=len(raw), sha256=hashlib.sha256(raw).hexdigest())


@pytest.mark.parametrize("role", list(Role))
def test_reported_email_pages_and_api_by_role(make_user, client_for, api_for, a_report, role):
    user = make_user(role)
    page, api = client_for(user), api_for(user)
    box = ReportingMailbox.objects.create(name="Box", host="127.0.0.1", port=143, security="none", username="u",
                                          password="pw-never-shown")
    answers = [page.get("/phishing/reports/").status_code, page.get(f"/phishing/reports/{a_report.pk}/").status_code,
               page.get(f"/phishing/reports/{a_report.pk}/message.eml").status_code,
               api.get("/api/v1/phishing/reports").status_code,
               api.get(f"/api/v1/phishing/reports/{a_report.pk}").status_code,
               api.patch(f"/api/v1/phishing/reports/{a_report.pk}", {"status": "triaging"},
                         content_type="application/json").status_code]
    assert ('href="/phishing/reports/"' in page.get("/").content.decode()) == (role in TRIAGE)  # the nav
    if role in TRIAGE:
        assert answers == [200] * 6
        assert page.get("/phishing/reports/999999/").status_code == 404
        assert api.get("/api/v1/phishing/reports/999999").status_code == 404
    else:
        assert answers == [403] * 6
        assert ReportedEmail.objects.get().status == "new"
    mailbox_pages = [page.get("/phishing/mailboxes/").status_code, api.get("/api/v1/phishing/mailboxes").status_code]
    edits = [page.get(f"/phishing/mailboxes/{box.pk}/edit/").status_code,
             page.get("/phishing/mailboxes/new/").status_code,
             page.post(f"/phishing/mailboxes/{box.pk}/test/").status_code,
             api.post(f"/api/v1/phishing/mailboxes/{box.pk}/test").status_code]
    if role in TRIAGE:
        assert mailbox_pages == [200, 200] and edits[:2] == [200, 200] and edits[2] == 302
    elif role in MAILBOX_READERS:
        assert mailbox_pages == [200, 200] and edits == [403] * 4
        assert "pw-never-shown" not in page.get("/phishing/mailboxes/").content.decode()
        assert "pw-never-shown" not in api.get("/api/v1/phishing/mailboxes").content.decode()
    else:
        assert mailbox_pages == [403, 403] and edits == [403] * 4


def test_anonymous_visitors_are_sent_to_sign_in(client, a_report):
    for url in ("/phishing/reports/", f"/phishing/reports/{a_report.pk}/", f"/phishing/reports/{a_report.pk}/message.eml",
                "/phishing/mailboxes/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/api/v1/phishing/reports").status_code == 401


def test_triage_through_the_api_follows_the_map(api_for, lead, make_user, a_report):
    api = api_for(lead)
    analyst = make_user(Role.SECURITY_TEAM, email="tess@example.com")
    employee = make_user(Role.EMPLOYEE)
    url = f"/api/v1/phishing/reports/{a_report.pk}"

    def patch(body):
        return api.patch(url, body, content_type="application/json")

    no_verdict = patch({"status": "resolved"})
    assert no_verdict.status_code == 422 and "verdict" in no_verdict.json()["detail"]
    assert patch({"assigned_to": employee.pk}).status_code == 422
    assert patch({"status": "bogus"}).status_code == 422
    assert patch({"unknown": 1}).status_code == 422
    taken = patch({"status": "triaging", "assigned_to": analyst.pk, "note": "Looking at the sender domain"})
    assert taken.status_code == 200 and taken.json()["assigned_to"] == "tess@example.com"
    done = patch({"status": "resolved", "verdict": "phishing", "note": "Blocked evil.example.net at the gateway"})
    assert done.status_code == 200 and done.json()["status"] == "resolved" and done.json()["verdict"] == "phishing"
    assert patch({"status": "new"}).status_code == 422  # resolved reopens to triaging only
    assert patch({"status": "triaging"}).status_code == 200
    entries = list(AuditEntry.objects.filter(action="phishing.report_triaged").order_by("seq"))
    assert len(entries) == 3 and entries[1].after["verdict"] == "phishing"
    listed = api.get("/api/v1/phishing/reports?status=triaging").json()
    assert listed["count"] == 1 and api.get("/api/v1/phishing/reports?status=new").json()["count"] == 0
    assert api.get("/api/v1/phishing/reports?status=nope").status_code == 422


def test_triage_from_the_page(client_for, lead, a_report):
    client = client_for(lead)
    refused = client.post(f"/phishing/reports/{a_report.pk}/", {"status": "resolved", "verdict": "", "note": ""})
    assert refused.status_code == 422 and "Give a verdict" in refused.content.decode()
    saved = client.post(f"/phishing/reports/{a_report.pk}/", {"status": "resolved", "verdict": "spam",
                                                              "note": "Newsletter", "assigned_to": lead.pk})
    assert saved.status_code == 302
    a_report.refresh_from_db()
    assert (a_report.status, a_report.verdict, a_report.assigned_to, a_report.triaged_by) == (
        "resolved", "spam", lead, lead)
    assert "Newsletter" in client.get(f"/phishing/reports/{a_report.pk}/").content.decode()
    assert "Invoice overdue" not in client.get("/phishing/reports/").content.decode()  # open only, by default
    assert "Invoice overdue" in client.get("/phishing/reports/?status=resolved").content.decode()
    assert client.get("/phishing/reports/?status=<script>").status_code == 200
    partial = client.get("/phishing/reports/?status=all", headers={"HX-Request": "true"}).content.decode()
    assert "Invoice overdue" in partial and "<html" not in partial


def test_the_periodic_job_is_registered():
    from bastion.jobs.periodic import discover_jobs

    jobs = discover_jobs()
    job = jobs["bastion.phishing.tasks.poll_reporting_mailboxes"]
    assert job.every.total_seconds() == 60


def test_the_list_page_and_api_cost_the_same_few_queries_whatever_the_number(
        client_for, api_for, lead, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bastion.people.models import Person

    def add(n: int) -> None:
        for i in range(n):
            person = Person.objects.create(employee_id=f"R{ReportedEmail.objects.count():05d}",
                                           email=f"r{ReportedEmail.objects.count()}@example.com",
                                           first_name="Rep", last_name=f"Orter{i}")
            ReportedEmail.objects.create(subject=f"Suspicious {i}", reporter=person, reporter_email=person.email,
                                         assigned_to=lead, raw=b"x", raw_size=1, sha256="0" * 64)

    page, api = client_for(lead), api_for(lead)
    add(2)
    page.get("/phishing/reports/?status=all")
    api.get("/api/v1/phishing/reports")
    with CaptureQueriesContext(connection) as few:
        page.get("/phishing/reports/?status=all")
    with CaptureQueriesContext(connection) as few_api:
        api.get("/api/v1/phishing/reports")
    assert len(few.captured_queries) <= 8 and len(few_api.captured_queries) <= 6
    add(30)
    with django_assert_num_queries(len(few.captured_queries)):
        assert page.get("/phishing/reports/?status=all").content.decode().count("Suspicious") == 32
    with django_assert_num_queries(len(few_api.captured_queries)):
        assert len(api.get("/api/v1/phishing/reports").json()["items"]) == 32


def test_the_demo_has_a_reported_email_to_triage_and_one_triaged(api_for, lead):
    from bastion.demo.phishing import load_reported_email

    make_people(3)
    load_reported_email()
    listed = api_for(lead).get("/api/v1/phishing/reports?status=all").json()
    assert [(i["status"], i["verdict"]) for i in listed["items"]] == [("new", ""), ("resolved", "spam")]
    invoice = api_for(lead).get(f"/api/v1/phishing/reports/{listed['items'][0]['id']}").json()
    assert invoice["reporter"] is not None and invoice["attachments"][0]["name"] == "INV-20931.zip"
    assert "https://invoices-docusign.example.net/review?inv=20931" in invoice["urls"]
    assert not ReportingMailbox.objects.get().enabled  # the demo has no IMAP server to read


def test_the_reporter_is_thanked_once_and_only_when_in_the_directory(api_for, lead, a_report):
    from bastion.outbox.models import OutboxMessage
    from bastion.people.models import Person

    api = api_for(lead)
    url = f"/api/v1/phishing/reports/{a_report.pk}"
    unknown = api.patch(url, {"thank": True}, content_type="application/json")
    assert unknown.status_code == 422 and "directory" in unknown.json()["detail"]
    person = Person.objects.create(employee_id="T1", email="tom@example.com", first_name="Tom", last_name="Tipper")
    ReportedEmail.objects.filter(pk=a_report.pk).update(reporter=person, reporter_email=person.email)
    unverified = api.patch(url, {"thank": True}, content_type="application/json")
    assert unverified.status_code == 422 and "unverified" in unverified.json()["detail"]
    ReportedEmail.objects.filter(pk=a_report.pk).update(reporter_verified=True)
    done = api.patch(url, {"status": "resolved", "verdict": "phishing", "thank": True}, content_type="application/json")
    assert done.status_code == 200 and done.json()["thanked_at"]
    again = api.patch(url, {"thank": True}, content_type="application/json")
    assert again.status_code == 200
    sent = OutboxMessage.objects.get(to="tom@example.com")
    assert "phishing" in sent.body_text and "Hello Tom" in sent.body_text
    assert "Invoice overdue" not in sent.body_text  # the sender's words are never quoted
    assert OutboxMessage.objects.count() == 1


@pytest.mark.parametrize(("security", "expected"), [("tls", "TLS failed"), ("starttls", "TLS not supported")])
def test_encryption_the_server_does_not_offer_is_an_error_not_a_fallback(
        reporting_mailbox, imap_server, security, expected):  # noqa: F811
    imap_server.append(no_token_forward())
    do_save_mailbox(reporting_mailbox, acting_user=None, security=security, password=imap_server.password)
    mailbox_module.poll_all()
    reporting_mailbox.refresh_from_db()
    assert expected in reporting_mailbox.last_error and not MailboxMessage.objects.exists()
    with pytest.raises(ValueError, match=expected):
        mailbox_module.test_connection(reporting_mailbox)


def test_a_message_cut_at_the_cap_says_so(client_for, api_for, lead, a_report):
    ReportedEmail.objects.filter(pk=a_report.pk).update(raw_size=mailbox_module.MAX_RAW + 5000)
    body = api_for(lead).get(f"/api/v1/phishing/reports/{a_report.pk}").json()
    assert (body["size"], body["stored_size"]) == (mailbox_module.MAX_RAW + 5000, 37)
    assert "cut at 37" in client_for(lead).get(f"/phishing/reports/{a_report.pk}/").content.decode()
