import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.lib.emails import queue_email
from bastion.outbox.models import MessageStatus, OutboxMessage
from bastion.outbox.tasks import send_outbox_message

pytestmark = pytest.mark.django_db

READERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR}
SENDERS = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}


@pytest.fixture
def lead(make_user):
    """A security lead without a password: signing in is forced, and argon2 is slow."""
    return make_user(Role.SECURITY_LEAD, password=None)


def make_message(**fields) -> OutboxMessage:
    defaults = {"to": "bob@example.com", "subject": "Your training is due", "body_text": "Hello Bob",
                "template": "test", "status": MessageStatus.FAILED, "last_error": "The mail server answered 451"}
    return OutboxMessage.objects.create(**{**defaults, **fields})


@pytest.mark.parametrize("role", [*Role.values, None])
def test_outbox_pages_by_role(role, make_user, client_for, settings):
    settings.BASTION_EMAIL_URL = "smtp://127.0.0.1:2525"
    message = make_message()
    client = client_for(make_user(role, password=None) if role else None)
    pages = [client.get("/outbox/"), client.get(f"/outbox/{message.pk}/")]
    retry = client.post(f"/outbox/{message.pk}/retry/")
    test_email = client.post("/outbox/test/", {"to": "carol@example.com"})
    message.refresh_from_db()

    if role is None:
        assert all(r.status_code == 302 and r["Location"].startswith("/login/") for r in [*pages, retry, test_email])
        assert message.status == MessageStatus.FAILED
    elif role in READERS:
        assert [r.status_code for r in pages] == [200, 200]
        assert "Your training is due" in pages[0].content.decode()
        can_send = role in SENDERS
        assert ("Send a test email" in pages[0].content.decode()) is can_send
        assert ("Retry sending" in pages[1].content.decode()) is can_send
        assert retry.status_code == (302 if can_send else 403)
        assert test_email.status_code == (302 if can_send else 403)
        assert message.status == (MessageStatus.QUEUED if can_send else MessageStatus.FAILED)
        assert OutboxMessage.objects.filter(to="carol@example.com").exists() is can_send
    else:
        assert [r.status_code for r in [*pages, retry, test_email]] == [403] * 4
        assert message.status == MessageStatus.FAILED
        assert not OutboxMessage.objects.filter(to="carol@example.com").exists()


def test_retry_requeues_resets_attempts_and_is_audited(lead, client_for, settings, django_capture_on_commit_callbacks):
    settings.BASTION_EMAIL_URL = "smtp://127.0.0.1:2525"
    message = make_message(attempts=6)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(lead).post(f"/outbox/{message.pk}/retry/", follow=True)
    assert "queued to be sent again" in response.content.decode()
    assert len(callbacks) == 1  # the send task
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.QUEUED, 0)
    entry = AuditEntry.objects.get(action="outbox.retried")
    assert entry.actor == lead and entry.object_id == str(message.pk)
    assert entry.before["attempts"] == 6


def test_sent_message_cannot_be_retried(lead, client_for, settings):
    settings.BASTION_EMAIL_URL = "smtp://127.0.0.1:2525"
    message = make_message(status=MessageStatus.SENT, last_error="")
    response = client_for(lead).post(f"/outbox/{message.pk}/retry/", follow=True)
    assert "Only failed or held messages can be retried" in response.content.decode()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert not AuditEntry.objects.filter(action="outbox.retried").exists()


def test_held_message_is_readable_and_stays_held_without_a_mail_server(lead, client_for, settings):
    settings.BASTION_EMAIL_URL = ""
    with transaction.atomic():
        message = queue_email("dave@example.com", "test", {"requested_by": lead})
    assert message.status == MessageStatus.HELD
    client = client_for(lead)
    listing = client.get("/outbox/?status=held").content.decode()
    assert "dave@example.com" in listing and "Held (no mail server configured)" in listing
    assert "No mail server is configured" in listing
    detail = client.get(f"/outbox/{message.pk}/").content.decode()
    assert "If you are reading it, Bastion&#x27;s mail server settings work" in detail
    assert "also has an HTML version" in detail
    response = client.post(f"/outbox/{message.pk}/retry/", follow=True)
    assert "stays held" in response.content.decode()
    message.refresh_from_db()
    assert message.status == MessageStatus.HELD


def test_send_test_email_validates_the_address(lead, client_for, settings):
    settings.BASTION_EMAIL_URL = "smtp://127.0.0.1:2525"
    response = client_for(lead).post("/outbox/test/", {"to": "not an address"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter a valid email address" in page
    assert 'id="test_to"' in page and page.count('id="id_to"') == 1
    assert not OutboxMessage.objects.exists()


def test_send_test_email_queues_and_audits(lead, client_for, smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).post("/outbox/test/", {"to": "carol@example.com"}, follow=True)
    assert "Test email to carol@example.com queued" in response.content.decode()
    assert AuditEntry.objects.filter(action="outbox.test_email_queued").exists()
    # Audit entries cannot be flushed away, so this test stays in its transaction and runs the
    # enqueued task itself rather than through a worker.
    result = DBTaskResult.objects.get(task_path="bastion.outbox.tasks.send_outbox_message")
    send_outbox_message.call(*result.args_kwargs["args"])
    assert [m["To"] for m in smtp_server.messages] == ["carol@example.com"]
    page = client_for(lead).get(f"/outbox/{OutboxMessage.objects.get().pk}/").content.decode()
    assert "Sent" in page


def test_list_filters_by_status_and_recipient(lead, client_for):
    make_message(to="bob@example.com", subject="For Bob")
    make_message(to="carol@example.com", subject="For Carol", status=MessageStatus.SENT)
    client = client_for(lead)
    page = client.get("/outbox/?status=sent").content.decode()
    assert "For Carol" in page and "For Bob" not in page
    page = client.get("/outbox/?to=BOB@").content.decode()
    assert "For Bob" in page and "For Carol" not in page
    assert client.get("/outbox/?status=nonsense").status_code == 200


def test_message_content_is_escaped(lead, client_for):
    message = make_message(subject="<script>alert(1)</script>", body_text="<img src=x onerror=alert(1)>",
                           body_html="<script>alert(2)</script>")
    client = client_for(lead)
    for url in ["/outbox/", f"/outbox/{message.pk}/"]:
        page = client.get(url).content.decode()
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_list_is_paginated_with_a_bounded_number_of_queries(lead, client_for):
    client = client_for(lead)

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/outbox/").status_code == 200
        return len(ctx.captured_queries)

    make_message()
    few = queries_for_list()
    OutboxMessage.objects.bulk_create([OutboxMessage(to=f"p{i}@example.com", subject=f"S{i}", body_text="x", template="test")
                                       for i in range(120)])
    assert queries_for_list() == few
    page = client.get("/outbox/?page=3").content.decode()
    assert "Page 3 of 3" in page
