"""The database itself keeps the timeline append-only: an entry (its evidence included) cannot be
changed or removed through the ORM or raw SQL, on SQLite and PostgreSQL alike, and the chain
still verifies after every refused attempt."""

import importlib

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models.deletion import ProtectedError

from bastion.audit import guard
from bastion.incidents import actions, timeline
from bastion.incidents.models import Incident, TimelineEntry

from .conftest import T0
from .test_lifecycle import declare


@pytest.fixture
def incident(published, lead) -> Incident:
    incident = declare(lead)
    actions.do_add_timeline_entry(acting_user=lead, incident=incident, text="Recipient confirmed deletion.",
                                  evidence=("reply.eml", b"I deleted it."), now=T0)
    actions.do_add_timeline_entry(acting_user=lead, incident=incident, text="Called the recipient again.", now=T0)
    return incident


def refused(action) -> None:
    with pytest.raises(DatabaseError, match="the incident timeline is append-only"), transaction.atomic():
        action()


def raw(sql: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_the_database_refuses_to_change_or_remove_an_entry(incident):
    assert incident.timeline.count() == 3
    before = list(incident.timeline.order_by("seq").values_list("seq", "text", "hash"))
    entry = TimelineEntry.objects.get(incident=incident, seq=2)

    def orm_save():
        entry.text = "Recipient never replied."
        entry.save()

    attempts = [
        lambda: TimelineEntry.objects.filter(incident=incident, seq=2).update(text="Recipient never replied."),
        orm_save,
        lambda: TimelineEntry.objects.filter(incident=incident, seq=2).update(evidence=b"something else"),
        lambda: TimelineEntry.objects.get(incident=incident, seq=3).delete(),
        lambda: TimelineEntry.objects.filter(incident=incident).delete(),
        lambda: raw("UPDATE incidents_timelineentry SET text = %s WHERE seq = %s", "Nothing happened.", 2),
        lambda: raw("UPDATE incidents_timelineentry SET evidence = NULL, evidence_sha256 = ''"),
        lambda: raw("DELETE FROM incidents_timelineentry WHERE seq = %s", 3),
        lambda: raw("DELETE FROM incidents_timelineentry"),
    ]
    for attempt in attempts:
        refused(attempt)
    assert list(incident.timeline.order_by("seq").values_list("seq", "text", "hash")) == before
    assert bytes(TimelineEntry.objects.get(incident=incident, seq=2).evidence) == b"I deleted it."
    result = timeline.verify(incident)
    assert (result.ok, result.checked) == (True, 3)


def test_emptying_the_table_is_refused(incident):
    """TRUNCATE on PostgreSQL; SQLite has none, its equivalent is an unqualified DELETE."""
    if connection.vendor == "postgresql":
        raw("SET CONSTRAINTS ALL IMMEDIATE")  # else the pending foreign-key checks refuse it first
        refused(lambda: raw("TRUNCATE incidents_timelineentry CASCADE"))
    else:
        refused(lambda: raw("DELETE FROM incidents_timelineentry"))
    assert incident.timeline.count() == 3


def test_an_incident_with_a_timeline_cannot_be_deleted(incident):
    with pytest.raises(ProtectedError), transaction.atomic():
        incident.delete()
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_appending_still_works_and_verifies(incident, lead):
    actions.do_add_timeline_entry(acting_user=lead, incident=incident, text="Another note.", now=T0)
    result = timeline.verify(incident)
    assert (result.ok, result.checked) == (True, 4)


def test_the_migration_installs_and_removes_the_timeline_guard(incident):
    migration = importlib.import_module("bastion.incidents.migrations.0003_timeline_append_only")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection  # type: ignore[attr-defined]
    assert guard.is_installed(connection)
    migration.backward(None, editor)
    assert not guard.is_installed(connection, (guard.TIMELINE,))
    assert guard.is_installed(connection, (guard.AUDIT,))  # the audit trail's guard is untouched
    raw("UPDATE incidents_timelineentry SET text = %s WHERE seq = %s", "Nothing happened.", 2)
    assert timeline.verify(incident).seq == 2  # no longer refused; the chain still tells
    migration.forward(None, editor)
    assert guard.is_installed(connection)
    refused(lambda: raw("UPDATE incidents_timelineentry SET text = %s WHERE seq = %s", "Called.", 3))
