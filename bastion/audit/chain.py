"""Appending to and verifying the hash-chained audit trail."""

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from .models import GENESIS_HASH, AuditEntry, canonical_json

# Any constant works: it names the lock that serialises appends on PostgreSQL.
_PG_LOCK_KEY = 7_361_001


def _jsonable(value: Any) -> Any:
    return None if value is None else json.loads(canonical_json(value))


def client_ip(request: HttpRequest | None) -> str | None:
    """The peer address in the form the database gives back (so the hash survives a round
    trip through PostgreSQL's inet type), or None if absent or not an IP address."""
    if request is None:
        return None
    raw = (request.META.get("REMOTE_ADDR") or "").strip()
    hops = settings.BASTION_TRUSTED_PROXIES
    if hops:
        # Behind N trusted proxies, the client is the Nth address from the right of
        # X-Forwarded-For; anything further left was written by the client and can lie.
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= hops:
            raw = forwarded[-hops]
    try:
        addr = ipaddress.ip_address(raw)
    except ValueError:
        return None
    return str(addr) if addr.version == 4 else clean_ipv6_address(raw)


def record(
    action: str,
    *,
    actor=None,
    actor_label: str | None = None,
    obj: Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    before: dict | None = None,
    after: dict | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Append one entry to the audit trail, chained to the previous one.

    Call it inside the transaction of the change it records, so both land or neither does.
    """
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:300]
    if actor_label is None:
        actor_label = actor.email if actor is not None else "system"
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
        last = AuditEntry.objects.order_by("-seq").values("seq", "hash").first()
        entry = AuditEntry(
            seq=(last["seq"] + 1) if last else 1,
            at=timezone.now(),
            actor=actor,
            actor_label=actor_label[:300],
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            object_repr=object_repr[:300],
            before=_jsonable(before),
            after=_jsonable(after),
            ip=client_ip(request),
            prev_hash=last["hash"] if last else GENESIS_HASH,
        )
        entry.hash = entry.compute_hash()
        entry.save(force_insert=True)
    return entry


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """The changed keys only, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    problem: str = ""
    seq: int | None = None


def _entries(batch: int = 2000) -> Iterator[AuditEntry]:
    last_seq = 0
    while True:
        chunk = list(AuditEntry.objects.filter(seq__gt=last_seq).order_by("seq")[:batch])
        if not chunk:
            return
        yield from chunk
        last_seq = chunk[-1].seq


def verify() -> VerifyResult:
    """Walk the whole chain; report the first entry that is altered, missing or out of place."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for entry in _entries():
        if entry.seq != expected_seq:
            return VerifyResult(
                False, checked,
                f"entry #{expected_seq} is missing (next entry found is #{entry.seq})",
                expected_seq,
            )
        if entry.prev_hash != prev_hash:
            return VerifyResult(
                False, checked,
                f"entry #{entry.seq} does not link to entry #{entry.seq - 1} "
                "(an entry before it was altered, removed or inserted)",
                entry.seq,
            )
        if entry.compute_hash() != entry.hash:
            return VerifyResult(
                False, checked, f"entry #{entry.seq} was altered after it was written", entry.seq
            )
        prev_hash = entry.hash
        expected_seq += 1
        checked += 1
    return VerifyResult(True, checked)
