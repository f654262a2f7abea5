"""Signed webhooks on tracking events.

**Recording.** A delivery row (``WebhookDelivery``) per subscribed active webhook is written in
the same transaction as the event it announces (a hit in tracking.py, a send's "sent" in
sending.py), so an event is never announced that was not recorded, nor recorded and lost. The
active webhooks are cached for a minute per process, like the tracking rules; creating or
deactivating one clears this process's copy at once.

**Delivering.** The periodic job (tasks.py, every 30 s) claims due rows with a conditional
UPDATE, as sending does, and POSTs each to its webhook's URL — the only thing Bastion fetches,
without following redirects or using a proxy, and only over http(s). A 2xx answer marks the row
delivered (once: the mark is conditional on the claim). Anything else is retried with
exponential backoff (1 min, 2, 4 … capped at 6 h) up to ``MAX_ATTEMPTS``, then marked failed
with the last error. A worker killed between a POST and its mark leaves a claim that goes stale
and is delivered again: receivers drop repeats by the ``X-Bastion-Delivery`` id.

**Verifying** (receiver side). Each POST carries::

    X-Bastion-Event: clicked
    X-Bastion-Delivery: 1234                      (unique per delivery; the same on a retry)
    X-Bastion-Timestamp: 1767225600               (Unix seconds when this attempt was signed)
    X-Bastion-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with the secret>

Compute ``hmac.new(secret.encode(), f"{timestamp}.".encode() + body, "sha256").hexdigest()``,
compare it with ``hmac.compare_digest``, and refuse a timestamp more than five minutes old.
"""

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

from .models import (
    DeliveryStatus,
    Recipient,
    TrackingEvent,
    Webhook,
    WebhookDelivery,
    validate_webhook_url,
)

logger = logging.getLogger(__name__)

_CACHE_KEY = "phishing-webhooks"
CACHE_SECONDS = 60
MAX_ATTEMPTS = 8
BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=6)
STALE_CLAIM = timedelta(minutes=10)
TIMEOUT_SECONDS = 10
BATCH = 100


@dataclass(frozen=True)
class Subscriber:
    pk: int
    events: frozenset[str]


def subscribers() -> tuple[Subscriber, ...]:
    found = cache.get(_CACHE_KEY)
    if found is None:
        found = tuple(Subscriber(pk, frozenset(events))
                      for pk, events in Webhook.objects.filter(active=True).values_list("pk", "events"))
        cache.set(_CACHE_KEY, found, CACHE_SECONDS)
    return found


def forget_subscribers() -> None:
    cache.delete(_CACHE_KEY)


def wants(kind: str) -> list[int]:
    """The active webhooks subscribed to `kind` (from the cache: usually no query)."""
    return [s.pk for s in subscribers() if kind in s.events]


def payload(kind: str, recipient: Recipient, at: datetime, event: TrackingEvent | None = None) -> dict:
    return {"event": kind, "at": at.isoformat(), "campaign": recipient.campaign_id, "recipient": recipient.pk,
            "person": recipient.person_id, "email": recipient.email,
            "automated": event.automated if event else False, "rule": event.rule if event else ""}


def queue(kind: str, items: Iterable[tuple[Recipient, datetime, TrackingEvent | None]],
          webhook_ids: list[int] | None = None) -> int:
    """Write the deliveries announcing these events (call inside the events' transaction)."""
    webhook_ids = wants(kind) if webhook_ids is None else webhook_ids
    if not webhook_ids:
        return 0
    rows = [WebhookDelivery(webhook_id=pk, event=kind, payload=payload(kind, recipient, at, event))
            for recipient, at, event in items for pk in webhook_ids]
    WebhookDelivery.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        return None  # the answer is the 3xx itself: a failed delivery, nothing else fetched


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def post(delivery: WebhookDelivery, now: float | None = None) -> str | None:
    """POST one delivery; None on a 2xx answer, else the reason (never the secret)."""
    webhook = delivery.webhook
    try:
        validate_webhook_url(webhook.url)  # re-checked: never anything but http(s)
    except Exception:  # noqa: BLE001
        return "The webhook URL is not an http(s) address."
    body = json.dumps({"id": delivery.pk, **delivery.payload}, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(now if now is not None else time.time())
    request = urllib.request.Request(webhook.url, data=body, method="POST", headers={  # noqa: S310 - http(s) only, checked above
        "Content-Type": "application/json", "User-Agent": "Bastion-Webhooks/1",
        "X-Bastion-Event": delivery.event, "X-Bastion-Delivery": str(delivery.pk),
        "X-Bastion-Timestamp": str(timestamp), "X-Bastion-Signature": sign(webhook.secret, timestamp, body)})
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"The webhook answered {exc.code} {exc.reason}"[:2000]
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"Could not reach the webhook: {reason}"[:2000]
    return None if 200 <= status < 300 else f"The webhook answered {status}"


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF * 2 ** max(0, attempts - 1), MAX_BACKOFF)


@dataclass
class DeliveryResult:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0


def deliver_due(now: datetime | None = None) -> DeliveryResult:
    """Release stale claims, then claim and POST due deliveries, batch after batch."""
    now = now or timezone.now()
    result = DeliveryResult()
    result.released = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, claimed_at__lt=now - STALE_CLAIM).update(claim="", claimed_at=None)
    while True:
        claim = uuid.uuid4().hex
        due = (WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, claimed_at__isnull=True,
                                              next_attempt_at__lte=now)
               .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:BATCH])
        if not WebhookDelivery.objects.filter(pk__in=list(due), claimed_at__isnull=True,
                                              status=DeliveryStatus.PENDING).update(claim=claim, claimed_at=now):
            return result
        for delivery in WebhookDelivery.objects.filter(claim=claim).select_related("webhook").order_by("pk"):
            mine = WebhookDelivery.objects.filter(pk=delivery.pk, claim=claim, status=DeliveryStatus.PENDING)
            if not delivery.webhook.active:
                mine.update(status=DeliveryStatus.FAILED, last_error="The webhook was deactivated.", claim="",
                            claimed_at=None)
                result.failed += 1
                continue
            error = post(delivery)
            attempts = delivery.attempts + 1
            if error is None:
                mine.update(status=DeliveryStatus.DELIVERED, delivered_at=timezone.now(), attempts=attempts,
                            last_error="", claim="", claimed_at=None)
                result.delivered += 1
            elif attempts >= MAX_ATTEMPTS:
                mine.update(status=DeliveryStatus.FAILED, attempts=attempts, last_error=error, claim="",
                            claimed_at=None)
                result.failed += 1
            else:
                mine.update(attempts=attempts, last_error=error, next_attempt_at=now + backoff(attempts), claim="",
                            claimed_at=None)
                result.retrying += 1
                logger.info("Webhook delivery %s will be retried: %s", delivery.pk, error)
