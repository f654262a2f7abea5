"""Signed webhooks against a real HTTP server on loopback, and the test send."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.phishing import sending, webhooks
from bastion.phishing.models import (
    DeliveryStatus,
    Recipient,
    TrackingEvent,
    Webhook,
    WebhookDelivery,
)

from .conftest import make_people

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"


class Receiver:
    """An HTTP server that records each POST and answers with the next queued status (200 after)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def verified(self, secret: str) -> list[dict]:
        """The bodies whose signature checks out, as a receiver would verify them."""
        out = []
        for headers, body in self.requests:
            timestamp = headers["X-Bastion-Timestamp"]
            expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(headers["X-Bastion-Signature"], f"sha256={expected}"):
                out.append(json.loads(body))
        return out


@pytest.fixture
def receiver():
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def sent(make_campaign, smtp_server):
    make_people(3)
    campaign = make_campaign()
    sending.send_due()
    Recipient.objects.update(sent_at=timezone.now() - timedelta(minutes=1))
    return campaign


def create(api, url: str, events: list[str]):
    return api.post("/api/v1/phishing/webhooks", {"url": url, "events": events}, content_type="application/json")


def test_a_click_is_posted_signed_and_marked_delivered_once(api_for, lead, receiver, sent):
    api = api_for(lead)
    response = create(api, receiver.url, ["clicked", "reported"])
    assert response.status_code == 201
    secret = response.json()["secret"]
    assert len(secret) >= 40 and secret not in json.dumps(api.get("/api/v1/phishing/webhooks").json())
    assert not AuditEntry.objects.filter(after__icontains=secret).exists()
    recipient = Recipient.objects.order_by("pk").first()
    Client(HTTP_USER_AGENT=BROWSER).get(f"/p/c/{recipient.token}/")
    Client(HTTP_USER_AGENT=BROWSER).get(f"/p/o/{recipient.token}.gif")  # not subscribed
    delivery = WebhookDelivery.objects.get()  # written with the event
    assert delivery.event == "clicked" and delivery.status == DeliveryStatus.PENDING
    result = webhooks.deliver_due()
    assert result.delivered == 1
    (body,) = receiver.verified(secret)
    assert body["event"] == "clicked" and body["recipient"] == recipient.pk and body["campaign"] == sent.pk
    assert body["automated"] is False and body["id"] == delivery.pk
    headers = receiver.requests[0][0]
    assert headers["X-Bastion-Event"] == "clicked" and headers["X-Bastion-Delivery"] == str(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.DELIVERED, 1, "")
    # Delivered once: later runs post nothing more.
    assert webhooks.deliver_due().delivered == 0 and len(receiver.requests) == 1
    # A wrong secret does not verify.
    assert receiver.verified("not-the-secret") == []


def test_a_500_is_retried_with_backoff_then_delivered(api_for, lead, receiver, sent):
    secret = create(api_for(lead), receiver.url, ["reported"]).json()["secret"]
    receiver.statuses = [500, 503]
    Client().post(f"/p/r/{Recipient.objects.order_by('pk').first().token}/")
    now = timezone.now()
    assert webhooks.deliver_due(now).retrying == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 1 and "500" in delivery.last_error and delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at == now + timedelta(minutes=1)
    assert webhooks.deliver_due(now + timedelta(seconds=30)).retrying == 0  # not yet due
    assert webhooks.deliver_due(now + timedelta(minutes=1)).retrying == 1  # 503
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == now + timedelta(minutes=1) + timedelta(minutes=2)
    assert webhooks.deliver_due(now + timedelta(minutes=3)).delivered == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 3
    # Each attempt was signed afresh; the same delivery id each time, so a receiver can drop repeats.
    assert len(receiver.verified(secret)) == 3 and {h["X-Bastion-Delivery"] for h, _ in receiver.requests} == {
        str(delivery.pk)}


def test_an_unreachable_webhook_gives_up_after_the_last_attempt(lead, sent):
    from bastion.phishing.actions import do_create_webhook
    from conftest import free_port

    do_create_webhook(url=f"http://127.0.0.1:{free_port()}/", events=["opened"], acting_user=lead)
    Client(HTTP_USER_AGENT=BROWSER).get(f"/p/o/{Recipient.objects.order_by('pk').first().token}.gif")
    now = timezone.now()
    for n in range(webhooks.MAX_ATTEMPTS):
        webhooks.deliver_due(now + timedelta(days=n))
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == webhooks.MAX_ATTEMPTS
    assert "Could not reach the webhook" in delivery.last_error


def test_delivered_events_are_recorded_with_the_send(lead, receiver, make_campaign, smtp_server):
    from bastion.phishing.actions import do_create_webhook

    webhook = do_create_webhook(url=receiver.url, events=["delivered"], acting_user=lead)
    make_people(4)
    make_campaign()
    assert sending.send_due().sent == 4
    assert WebhookDelivery.objects.filter(event="delivered").count() == 4
    assert webhooks.deliver_due().delivered == 4
    assert sorted(b["email"] for b in receiver.verified(webhook.secret)) == sorted(
        Recipient.objects.values_list("email", flat=True))


def test_no_webhook_no_extra_work_on_a_hit(sent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token = Recipient.objects.order_by("pk").first().token
    Client(HTTP_USER_AGENT=BROWSER).get(f"/p/o/{token}.gif")  # rules and (no) webhooks cached
    with CaptureQueriesContext(connection) as ctx:
        Client(HTTP_USER_AGENT=BROWSER).get(f"/p/c/{token}/")
    hits = [q for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(hits) <= 2 and not WebhookDelivery.objects.exists()


def test_only_http_urls_and_known_events_are_accepted(api_for, lead):
    api = api_for(lead)
    for url in ("file:///etc/passwd", "ftp://example.com/x", "gopher://x", "javascript:alert(1)", "https://",
                "not a url", "http://host:port/"):
        response = create(api, url, ["clicked"])
        assert response.status_code == 422 and "URL" in response.json()["detail"], url
    assert create(api, "https://hooks.example.com/x", ["typed-password"]).status_code == 422
    assert create(api, "https://hooks.example.com/x", []).status_code == 422
    assert not Webhook.objects.exists()


def test_a_url_changed_to_another_scheme_is_never_fetched(lead, sent):
    from bastion.phishing.actions import do_create_webhook

    webhook = do_create_webhook(url="https://hooks.example.com/x", events=["opened"], acting_user=lead)
    Webhook.objects.filter(pk=webhook.pk).update(url="file:///etc/passwd")
    Client(HTTP_USER_AGENT=BROWSER).get(f"/p/o/{Recipient.objects.order_by('pk').first().token}.gif")
    webhooks.deliver_due()
    assert "not an http(s) address" in WebhookDelivery.objects.get().last_error


def test_deactivated_webhooks_get_nothing_more(api_for, lead, receiver, sent):
    api = api_for(lead)
    hook = create(api, receiver.url, ["opened"]).json()
    token = Recipient.objects.order_by("pk").first().token
    Client(HTTP_USER_AGENT=BROWSER).get(f"/p/o/{token}.gif")
    assert api.post(f"/api/v1/phishing/webhooks/{hook['id']}/deactivate").json()["active"] is False
    Client(HTTP_USER_AGENT=BROWSER).get(f"/p/o/{token}.gif")
    assert WebhookDelivery.objects.count() == 1
    assert webhooks.deliver_due().failed == 1 and not receiver.requests
    listed = api.get(f"/api/v1/phishing/webhooks/{hook['id']}/deliveries").json()
    assert listed[0]["status"] == "failed" and "deactivated" in listed[0]["last_error"]
    assert list(AuditEntry.objects.filter(action__startswith="phishing.webhook").values_list("action", flat=True)
                .order_by("seq")) == ["phishing.webhook_created", "phishing.webhook_deactivated"]


@pytest.mark.parametrize("role", list(Role))
def test_webhooks_by_role(api_for, make_user, role):
    api = api_for(make_user(role))
    created = create(api, "https://hooks.example.com/x", ["clicked"])
    listed = api.get("/api/v1/phishing/webhooks")
    if role in (Role.SECURITY_LEAD, Role.SECURITY_TEAM):
        assert created.status_code == 201 and listed.status_code == 200
    elif role == Role.AUDITOR:
        assert created.status_code == 403 and listed.status_code == 200
    else:
        assert (created.status_code, listed.status_code) == (403, 403)


def test_the_worker_runs_the_delivery_job(lead, receiver, sent, run_tasks):
    from bastion.jobs.periodic import discover_jobs
    from bastion.phishing.actions import do_create_webhook
    from bastion.phishing.tasks import deliver_webhooks

    assert "bastion.phishing.tasks.deliver_webhooks" in discover_jobs()
    do_create_webhook(url=receiver.url, events=["opened"], acting_user=lead)
    Client(HTTP_USER_AGENT=BROWSER).get(f"/p/o/{Recipient.objects.order_by('pk').first().token}.gif")
    deliver_webhooks.enqueue()
    run_tasks()
    assert len(receiver.requests) == 1


# --- test send --------------------------------------------------------------------------------


def test_test_send_sends_each_template_once_to_one_address_and_is_audited(api_for, lead, make_campaign,
                                                                         smtp_server, template):
    from bastion.phishing.models import PhishingTemplate

    other = PhishingTemplate.objects.create(name="Parcel", from_name="Courier", subject="Your parcel",
                                            body_text="Track it: {{link}}")
    make_people(3)
    campaign = make_campaign(templates=[template, other], starts_at=timezone.now() + timedelta(days=1))
    response = api_for(lead).post(f"/api/v1/campaigns/{campaign.pk}/test-send", {"to": "alice@example.com"},
                                  content_type="application/json")
    assert response.status_code == 200 and response.json()["templates"] == ["Password expiry", "Parcel"]
    assert [m["To"] for m in smtp_server.messages] == ["alice@example.com"] * 2
    assert smtp_server.messages[0]["Subject"] == "Alex, your password expires today"
    # Its links record nothing: no recipient holds the token.
    assert "/p/c/test-send/" in smtp_server.messages[1].get_content()
    assert Client().get("/p/c/test-send/").status_code == 404 and not TrackingEvent.objects.exists()
    entry = AuditEntry.objects.get(action="phishing.test_sent")
    assert entry.after == {"to": "alice@example.com", "templates": ["Password expiry", "Parcel"]}
    assert not Recipient.objects.filter(status="sent").exists()  # the campaign itself is untouched


def test_test_send_refuses_outside_the_verified_domains_and_reports_a_refusing_server(
        api_for, lead, make_campaign, smtp_server):
    make_people(2)
    campaign = make_campaign(starts_at=timezone.now() + timedelta(days=1))
    api = api_for(lead)
    url = f"/api/v1/campaigns/{campaign.pk}/test-send"
    response = api.post(url, {"to": "someone@gmail.example"}, content_type="application/json")
    assert response.status_code == 422 and "outside the verified domains" in response.json()["detail"]
    smtp_server.fail_next = 1
    response = api.post(url, {"to": "alice@example.com"}, content_type="application/json")
    assert response.status_code == 422 and "451" in response.json()["detail"]
    assert not smtp_server.messages and not AuditEntry.objects.filter(action="phishing.test_sent").exists()
    assert api.post(url, {"to": "x@example.com", "cc": "y"}, content_type="application/json").status_code == 422


@pytest.mark.parametrize("role", list(Role))
def test_test_send_by_role(api_for, make_user, make_campaign, smtp_server, role):
    make_people(2)
    campaign = make_campaign(starts_at=timezone.now() + timedelta(days=1))
    response = api_for(make_user(role)).post(f"/api/v1/campaigns/{campaign.pk}/test-send",
                                             {"to": "alice@example.com"}, content_type="application/json")
    if role in (Role.SECURITY_LEAD, Role.SECURITY_TEAM):
        assert response.status_code == 200 and len(smtp_server.messages) == 1
    else:
        assert response.status_code == 403 and not smtp_server.messages
