"""The dossier PDF's timeline: every entry, with its number, times, kind, author, hash and text
(and its evidence's SHA-256), on landscape pages after the portrait record."""

import hashlib

from django.db import transaction

from bastion.awareness.certificate import document_text
from bastion.incidents import dossier, timeline
from bastion.incidents.models import EntryKind

from .conftest import T0
from .test_lifecycle import declare


def test_the_timeline_pages_hold_every_entry_with_its_hash(published, lead):
    incident = declare(lead)
    with transaction.atomic():
        for n in range(60):
            timeline.append(incident, kind=EntryKind.NOTE, text=f"Line one of note {n}\nline two <b>{n}</b>",
                            author=lead, now=T0)
        timeline.append(incident, kind=EntryKind.EVIDENCE, text="The mail.", author=lead, now=T0,
                        evidence=("mail.eml", b"From: x"))
    document = dossier.dossier_document(incident)
    text = " ".join(document_text(document).split())
    entries = list(incident.timeline.order_by("seq"))
    for e in entries:
        assert f"#{e.seq} · " in text and f"hash {e.hash}" in text
    assert "Line one of note 59 line two <b>59</b>" in text  # as typed: newlines kept, nothing is markup
    assert f"Evidence mail.eml (7 bytes), SHA-256 {hashlib.sha256(b'From: x').hexdigest()}" in text
    assert "2026-03-02T09:00:00 (recorded 2026-03-02T09:00:00) · note · alice@example.com" in text
    portrait = [p for p in document.pages if p.height > p.width]
    landscape = [p for p in document.pages if p.width > p.height]
    assert portrait and landscape and document.pages[: len(portrait)] == portrait  # the timeline comes last
    assert "The hash chain verifies (62 entries)" in text
