"""The reporting mailbox against what an attacker, a careless sender or a team member can do:
mail that once stopped the queue, a connection test aimed at another service, a stored password
sent to another server, a forged From address, who sees the mailbox's log."""

import socket
import threading
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from bastion.accounts.models import Role
from bastion.outbox.models import OutboxMessage
from bastion.phishing import mailbox as mailbox_module
from bastion.phishing.mailparse import sender_verified
from bastion.phishing.models import MailboxMessage, ReportedEmail, ReportingMailbox, SendingProfile
from bastion.phishing.reports import do_save_mailbox

from .conftest import make_people
from .imap_server import imap_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

EIGHT_BIT_DISPOSITION = (b"From: person1@example.com\r\nTo: report@example.com\r\nSubject: odd one\r\n"
                         b"Message-ID: <disp@example.com>\r\nContent-Disposition: inl\xe9ne\r\n\r\nhello\r\n")
DATE_PAST_9999 = (b"From: person1@example.com\r\nSubject: far future\r\nMessage-ID: <date@example.com>\r\n"
                  b"Date: Mon, 31 Dec 9999 23:59:59 -2359\r\n\r\nhi\r\n")
DATE_TOO_LARGE = (b"From: person1@example.com\r\nSubject: huge year\r\nMessage-ID: <year@example.com>\r\n"
                  b"Date: Mon, 01 Jan 99999999999999999999 00:00:00 +0000\r\n\r\nhi\r\n")


def mail(subject: str, sender: str = "person1@example.com", results: list[str] | None = None) -> bytes:
    msg = EmailMessage()
    for value in results or []:
        msg["Authentication-Results"] = value
    msg["From"] = sender
    msg["To"] = "report-phishing@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content("Look at this: https://evil.example.net/x")
    return msg.as_bytes()


@pytest.fixture
def box(db, imap_server):  # noqa: F811
    return do_save_mailbox(None, acting_user=None, name="Report phishing", host="127.0.0.1",
                           port=imap_server.port, security="none", username=imap_server.user,
                           password=imap_server.password, folder="INBOX", processed_folder="", enabled=True,
                           trusted_authserv_id="mx.example.com")


# --- 1. one message never blocks the others ---------------------------------------------------


def test_mail_that_once_made_parsing_or_storing_fail_is_stored_as_a_report(box, imap_server):  # noqa: F811
    for raw in (EIGHT_BIT_DISPOSITION, DATE_PAST_9999, DATE_TOO_LARGE, mail("real phish")):
        imap_server.append(raw)
    result = mailbox_module.poll(box)
    assert (result.reports, result.failed) == (4, 0)
    stored = dict(ReportedEmail.objects.values_list("subject", "original_date"))
    assert stored == {"odd one": None, "far future": None, "huge year": None, "real phish": None}
    assert "The Date header is not a date." in ReportedEmail.objects.get(subject="far future").problems
    assert imap_server.uids(criteria="UNKEYWORD $BastionProcessed") == []


@pytest.mark.parametrize("processed_folder", ["", "Processed by Bastion"])
def test_a_message_that_cannot_be_recorded_is_logged_as_failed_and_set_aside(
        box, imap_server, monkeypatch, processed_folder):  # noqa: F811
    do_save_mailbox(box, acting_user=None, processed_folder=processed_folder)
    store = mailbox_module._store_report

    def refuse_poison(mailbox, parsed, *args):
        if parsed.subject.startswith("poison"):
            raise ValueError("the database refused it")
        return store(mailbox, parsed, *args)

    monkeypatch.setattr(mailbox_module, "_store_report", refuse_poison)
    monkeypatch.setattr(mailbox_module, "BATCH", 2)
    for n in range(3):
        imap_server.append(mail(f"poison {n}"))
    imap_server.append(mail("real phish"))
    first = mailbox_module.poll(box)
    second = mailbox_module.poll(box)
    assert (first.failed, second.failed, second.reports) == (2, 1, 1)
    assert list(ReportedEmail.objects.values_list("subject", flat=True)) == ["real phish"]
    failed = MailboxMessage.objects.filter(kind="failed")
    assert failed.count() == 3 and all("Could not be recorded (ValueError)" in m.note for m in failed)
    assert all("the database refused it" not in m.note for m in failed)
    # Set aside like any other message: never read again.
    if processed_folder:
        assert imap_server.uids("INBOX") == [] and len(imap_server.uids(processed_folder)) == 4
    else:
        assert imap_server.uids(criteria="UNKEYWORD $BastionProcessed") == []
    assert mailbox_module.poll(box).failed == 0


# --- 3. the stored password goes only where it was given ------------------------------------


@pytest.mark.parametrize("change", [{"host": "attacker.example.net", "allow_plaintext": True}, {"port": 2143},
                                    {"security": "tls"}, {"username": "someone-else"}])
def test_changing_where_the_mailbox_connects_needs_the_password_again(box, client_for, api_for, lead, change):
    settings = {"name": box.name, "host": box.host, "port": box.port, "security": box.security,
                "allow_plaintext": box.allow_plaintext, "username": box.username, "folder": "INBOX",
                "processed_folder": "", "enabled": True, "trusted_authserv_id": "mx.example.com"}
    api = api_for(lead)
    refused = api.put(f"/api/v1/phishing/mailboxes/{box.pk}", {**settings, **change, "password": ""},
                      content_type="application/json")
    assert refused.status_code == 422 and "password: Type the password again" in refused.json()["detail"]
    page = client_for(lead).post(f"/phishing/mailboxes/{box.pk}/edit/", {
        **settings, **change, "allow_plaintext": "on" if {**settings, **change}["allow_plaintext"] else "",
        "enabled": "on", "password": ""})
    assert page.status_code == 422 and "Type the password again" in page.content.decode()
    box.refresh_from_db()
    assert (box.host, box.port, box.security, box.username) == ("127.0.0.1", settings["port"], "none",
                                                                settings["username"])
    typed = api.put(f"/api/v1/phishing/mailboxes/{box.pk}", {**settings, **change, "password": "new-pw"},
                    content_type="application/json")
    assert typed.status_code == 200 and ReportingMailbox.objects.get(pk=box.pk).password == "new-pw"


def test_the_mailbox_keeps_its_password_when_the_connection_is_unchanged(box, api_for, lead, imap_server):  # noqa: F811
    settings = {"name": "Renamed", "host": box.host, "port": box.port, "security": "none", "username": box.username,
                "folder": "INBOX", "password": ""}
    changed = api_for(lead).put(f"/api/v1/phishing/mailboxes/{box.pk}", settings, content_type="application/json")
    assert changed.status_code == 200 and ReportingMailbox.objects.get(pk=box.pk).password == imap_server.password


@pytest.mark.parametrize("url", ["smtp://u@mail.example.com:2525?tls=1", "smtps://u@mail.example.com:587",
                                 "smtp://u@mail.example.com:587", "smtp://u@attacker.example.net:587?tls=1",
                                 "smtp://other@mail.example.com:587?tls=1"])
def test_changing_where_a_sending_profile_connects_needs_the_password_again(db, client_for, lead, url):
    profile = SendingProfile.objects.create(name="Relay", smtp_url="smtp://u:S3cret@mail.example.com:587?tls=1",
                                            from_address="it@example.com", rate_per_second=5)
    client = client_for(lead)
    form = {"name": "Relay", "from_address": "it@example.com", "rate_per_second": 5}
    refused = client.post(f"/phishing/profiles/{profile.pk}/edit/", {**form, "smtp_url": url})
    assert refused.status_code == 422 and "Type the password in the URL again" in refused.content.decode()
    profile.refresh_from_db()
    assert profile.smtp_url == "smtp://u:S3cret@mail.example.com:587?tls=1"
    kept = client.post(f"/phishing/profiles/{profile.pk}/edit/",
                       {**form, "name": "Relay 2", "smtp_url": "smtp://u@mail.example.com:587?tls=1"})
    assert kept.status_code == 302
    profile.refresh_from_db()
    assert profile.name == "Relay 2" and profile.password == "S3cret"


# --- 4. the connection test neither scans nor leaks -------------------------------------------


def test_the_connection_test_never_quotes_another_service(db, client_for, lead):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.6 internal-secret-banner\r\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    box = ReportingMailbox.objects.create(name="Not IMAP", host="127.0.0.1", port=server.getsockname()[1],
                                          security="none", username="u", password="p", folder="INBOX")
    response = client_for(lead).post(f"/phishing/mailboxes/{box.pk}/test/", follow=True)
    body = response.content.decode()
    server.close()
    assert f"127.0.0.1:{box.port} did not answer as an IMAP server." in body
    assert "SSH" not in body and "internal-secret-banner" not in body


def test_a_short_wrong_password_is_not_masked_into_the_message_but_never_there(box, imap_server):  # noqa: F811
    do_save_mailbox(box, acting_user=None, password="e")
    with pytest.raises(ValueError) as refused:
        mailbox_module.test_connection(box)
    assert str(refused.value) == "The IMAP server refused the login: Authentication failed: wrong user name or password."


# --- 5. a forged From address is unverified and never thanked ---------------------------------

TRUSTED = "mx.example.com"


@pytest.mark.parametrize(("results", "verified"), [
    (["mx.example.com; dmarc=pass (p=reject) header.from=example.com"], True),
    (["mx.example.com; spf=fail smtp.mailfrom=example.com; dkim=pass header.d=example.com header.s=s1"], True),
    (["MX.example.com 1; spf=pass smtp.mailfrom=bounce@mail.example.com"], True),
    (["mx.example.com; dmarc=fail header.from=example.com; dkim=pass header.d=evil.example"], False),
    (["mx.example.com; spf=pass smtp.mailfrom=evil.example"], False),
    (["evil.example; dmarc=pass header.from=example.com"], False),  # another server's word
    (["mx.example.com (dmarc=pass header.from=example.com); dmarc=none"], False),  # a comment
    (["mx.example.com; dmarc=passed header.from=example.com"], False),
    ([], False),
])
def test_only_the_trusted_mail_server_can_verify_a_reporter(results, verified):
    assert sender_verified(results, "person1@example.com", TRUSTED) is verified
    assert sender_verified(results, "person1@example.com", "") is False


def test_a_forged_reporter_is_shown_unverified_and_never_thanked(box, imap_server, client_for, api_for, lead):  # noqa: F811
    make_people(2)
    imap_server.append(mail("Forged =?utf-8?q?click_here?=", results=["evil.example; dmarc=pass header.from=example.com"]))
    imap_server.append(mail("Invoice overdue", results=["mx.example.com; dmarc=pass header.from=example.com"]))
    assert mailbox_module.poll(box).reports == 2
    forged = ReportedEmail.objects.get(subject__startswith="Forged")
    genuine = ReportedEmail.objects.get(subject="Invoice overdue")
    assert forged.reporter.email == genuine.reporter.email == "person1@example.com"
    assert (forged.reporter_verified, genuine.reporter_verified) == (False, True)
    assert "Unverified" in client_for(lead).get(f"/phishing/reports/{forged.pk}/").content.decode()
    assert "Unverified" not in client_for(lead).get(f"/phishing/reports/{genuine.pk}/").content.decode()
    api = api_for(lead)
    assert api.get(f"/api/v1/phishing/reports/{forged.pk}").json()["reporter_verified"] is False
    refused = api.patch(f"/api/v1/phishing/reports/{forged.pk}", {"thank": True}, content_type="application/json")
    assert refused.status_code == 422 and "unverified" in refused.json()["detail"]
    thanked = api.patch(f"/api/v1/phishing/reports/{genuine.pk}", {"status": "resolved", "verdict": "phishing",
                                                                   "thank": True}, content_type="application/json")
    assert thanked.status_code == 200
    sent = OutboxMessage.objects.get()
    assert sent.to == "person1@example.com" and "Invoice overdue" not in sent.body_text
    assert f"the email you reported to the security team on {genuine.received_at:%-d %B %Y}" in sent.body_text


def test_without_a_trusted_server_no_reporter_is_verified(box, imap_server):  # noqa: F811
    do_save_mailbox(box, acting_user=None, trusted_authserv_id="")
    imap_server.append(mail("Invoice overdue", results=["mx.example.com; dmarc=pass header.from=example.com"]))
    mailbox_module.poll(box)
    assert ReportedEmail.objects.get().reporter_verified is False


# --- 7. the mailbox's log is for the security team alone --------------------------------------


@pytest.mark.parametrize("role", [Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR])
def test_the_mailbox_log_is_shown_only_to_those_who_triage(box, make_user, client_for, role):
    MailboxMessage.objects.create(mailbox=box, uidvalidity=1, uid=1, kind="report",
                                  sender="whistleblower@example.com", note="Reported email 1.")
    page = client_for(make_user(role)).get("/phishing/mailboxes/")
    body = page.content.decode()
    assert page.status_code == 200 and "Report phishing" in body
    shown = role != Role.AUDITOR
    assert ("whistleblower@example.com" in body) is shown and ("Recent messages" in body) is shown
