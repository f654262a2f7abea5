"""Appending to an incident's timeline and verifying its hash chain.

Appends to one incident are serialised by locking the incident's row (``append`` is called from
the do_* actions, which lock it first through ``lock_incident``); ``(incident, seq)`` is unique,
so two appends racing past the lock still cannot both take the same place in the chain.
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .models import GENESIS_HASH, MAX_EVIDENCE_BYTES, Incident, TimelineEntry


def lock_incident(pk: int) -> Incident:
    """The incident's row, locked for the rest of the transaction (PostgreSQL; SQLite's
    immediate transactions already serialise writers)."""
    return Incident.objects.select_for_update().select_related("plan_version").get(pk=pk)


def append(incident: Incident, *, kind: str, text: str, author=None, event_at: datetime | None = None,
           evidence: tuple[str, bytes] | None = None, now: datetime | None = None) -> TimelineEntry:
    """Add one entry at the end of the incident's chain. Call inside the action's transaction."""
    assert transaction.get_connection().in_atomic_block, "append inside the action's transaction"
    now = now or timezone.now()
    last = incident.timeline.order_by("-seq").values("seq", "hash").first()
    entry = TimelineEntry(
        incident=incident, seq=(last["seq"] + 1) if last else 1, event_at=event_at or now, recorded_at=now,
        author=author if getattr(author, "is_authenticated", False) else None,
        author_label=(author.email if getattr(author, "is_authenticated", False) else "system")[:300],
        kind=kind, text=text, prev_hash=last["hash"] if last else GENESIS_HASH)
    if evidence is not None:
        name, content = evidence
        if len(content) > MAX_EVIDENCE_BYTES:
            raise ValueError(f"The evidence file is {len(content):,} bytes; at most {MAX_EVIDENCE_BYTES:,} are allowed.")
        entry.evidence_name, entry.evidence = name[:255], content
        entry.evidence_sha256, entry.evidence_size = hashlib.sha256(content).hexdigest(), len(content)
    entry.hash = entry.compute_hash()
    entry.save(force_insert=True)
    return entry


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    head: str = GENESIS_HASH  # the last entry's hash: what a dossier quotes
    problem: str = ""
    seq: int | None = None


def _entries(incident: Incident, batch: int = 500) -> Iterator[TimelineEntry]:
    last_seq = 0
    while True:
        chunk = list(incident.timeline.filter(seq__gt=last_seq).order_by("seq")[:batch])
        if not chunk:
            return
        yield from chunk
        last_seq = chunk[-1].seq


def verify(incident: Incident) -> VerifyResult:
    """Walk the incident's timeline; report the first entry altered, missing or out of place, or
    whose evidence no longer matches its SHA-256."""
    expected, prev_hash, checked = 1, GENESIS_HASH, 0
    for entry in _entries(incident):
        if entry.seq != expected:
            return VerifyResult(False, checked, prev_hash,
                                f"entry #{expected} is missing (next entry found is #{entry.seq})", expected)
        if entry.prev_hash != prev_hash:
            return VerifyResult(False, checked, prev_hash,
                                f"entry #{entry.seq} does not link to entry #{entry.seq - 1} "
                                "(an entry before it was altered, removed or inserted)", entry.seq)
        if entry.compute_hash() != entry.hash:
            return VerifyResult(False, checked, prev_hash, f"entry #{entry.seq} was altered after it was written",
                                entry.seq)
        if entry.evidence_sha256 and hashlib.sha256(bytes(entry.evidence or b"")).hexdigest() != entry.evidence_sha256:
            return VerifyResult(False, checked, prev_hash,
                                f"the evidence of entry #{entry.seq} no longer matches its SHA-256", entry.seq)
        prev_hash, expected, checked = entry.hash, expected + 1, checked + 1
    return VerifyResult(True, checked, prev_hash)
