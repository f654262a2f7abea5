"""The hash chain and the database's refusal to change it: the record a court may read."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from bastion.audit.chain import client_ip, record, verify
from bastion.audit.models import GENESIS_HASH, AuditEntry

from .helpers import disable_append_only, entries, raw_delete, raw_set_after

pytestmark = pytest.mark.django_db


def audit_verify() -> str:
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def test_entries_are_numbered_and_chained():
    first, second, third = entries(3)
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    stored = AuditEntry.objects.get(seq=2)
    assert stored.compute_hash() == stored.hash == second.hash
    result = verify()
    assert result.ok and result.checked == 3


def test_an_empty_trail_verifies():
    assert "Audit trail intact: 0 entries verified." in audit_verify()


def test_audit_verify_command_passes_on_an_intact_chain():
    entries(5)
    assert audit_verify().strip() == "Audit trail intact: 5 entries verified."


def test_values_survive_the_database_round_trip():
    """Unicode, numbers, nesting, nulls and addresses come back exactly as hashed."""
    rf = RequestFactory()
    for addr in ("192.0.2.1", "2001:0DB8:0000::0001", "::ffff:127.0.0.1", "not-an-ip"):
        record("test.values", actor_label="Zoë <zoe@example.com>", object_repr="Ünïcødé — “quotes”",
               before={"n": 1.5, "big": 2**53, "none": None, "list": [1, "a", {"b": False}]},
               after={"text": "line\nbreak\ttab \\ back", "emoji": "🔐", "when": "2026-01-01"},
               request=rf.get("/", REMOTE_ADDR=addr))
    assert verify().ok, verify().problem
    assert list(AuditEntry.objects.order_by("seq").values_list("ip", flat=True)) == [
        "192.0.2.1", "2001:db8::1", "::ffff:127.0.0.1", None]


def test_client_ip_is_normalised():
    rf = RequestFactory()
    assert client_ip(rf.get("/", REMOTE_ADDR="2001:0DB8::0001")) == "2001:db8::1"
    assert client_ip(rf.get("/", REMOTE_ADDR="")) is None
    assert client_ip(None) is None


def test_the_hash_covers_every_recorded_field():
    entry = entries(1)[0]
    for field, value in [("seq", 9), ("actor_label", "mallory"), ("action", "x"), ("object_type", "x"),
                         ("object_id", "9"), ("object_repr", "x"), ("before", {"a": 1}),
                         ("after", {"n": 1}), ("ip", "192.0.2.9"), ("actor_id", 42),
                         ("prev_hash", "f" * 64)]:
        copy = AuditEntry.objects.get(pk=entry.pk)
        setattr(copy, field, value)
        assert copy.compute_hash() != entry.hash, field


# --- tampering ------------------------------------------------------------------------------

def test_an_altered_value_is_detected_and_named():
    entries(4)
    disable_append_only()
    raw_set_after(2, {"n": 999})
    result = verify()
    assert not result.ok and result.seq == 2 and result.checked == 1
    assert result.problem == "entry #2 was altered after it was written"
    with pytest.raises(CommandError, match=r"Audit trail BROKEN: entry #2 was altered after it was written"):
        audit_verify()


def test_a_deleted_entry_is_detected_and_named():
    entries(5)
    disable_append_only()
    raw_delete(3)
    result = verify()
    assert not result.ok and result.seq == 3 and result.checked == 2
    with pytest.raises(CommandError, match=r"entry #3 is missing \(next entry found is #4\)"):
        audit_verify()


def test_a_rewritten_entry_breaks_the_link_to_the_next():
    """Altering an entry and recomputing its own hash still breaks the chain after it."""
    entries(3)
    disable_append_only()
    entry = AuditEntry.objects.get(seq=2)
    entry.after = {"n": 999}
    entry.hash = entry.compute_hash()
    AuditEntry.objects.filter(seq=2).update(after=entry.after, hash=entry.hash)
    result = verify()
    assert not result.ok and result.seq == 3
    assert "entry #3 does not link to entry #2" in result.problem


def test_the_command_line_exits_non_zero_on_a_broken_chain():
    entries(2)
    disable_append_only()
    raw_delete(1)
    with pytest.raises(CommandError) as failure:
        audit_verify()
    assert "entry #1 is missing" in str(failure.value)


# --- the database refuses changes -----------------------------------------------------------

def refused(action) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        action()


def test_the_database_refuses_update_and_delete():
    entries(3)
    entry = AuditEntry.objects.get(seq=2)

    def orm_update():
        AuditEntry.objects.filter(seq=2).update(action="login.succeeded")

    def orm_save():
        entry.action = "nothing.happened"
        entry.save()

    def raw_update():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_auditentry SET actor_label = 'mallory'")

    def raw_delete_all():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditentry")

    for action in (orm_update, orm_save, lambda: AuditEntry.objects.get(seq=3).delete(),
                   lambda: AuditEntry.objects.all().delete(), raw_update, lambda: raw_delete(1),
                   lambda: raw_set_after(1, {"n": 0})):
        refused(action)
    assert AuditEntry.objects.count() == 3
    assert verify().ok


def test_emptying_the_table_is_refused():
    """TRUNCATE on PostgreSQL; SQLite has none, its equivalent is an unqualified DELETE."""
    entries(1)

    def truncate():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("TRUNCATE audit_auditentry")
            else:
                cursor.execute("DELETE FROM audit_auditentry")

    refused(truncate)
    assert AuditEntry.objects.count() == 1


def test_client_address_behind_a_trusted_proxy(settings, rf):
    from bastion.audit.chain import client_ip

    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.BASTION_TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.5"
    settings.BASTION_TRUSTED_PROXIES = 1
    # The proxy appended the real client; the left-most value was the client's own claim.
    assert client_ip(request) == "203.0.113.9"
