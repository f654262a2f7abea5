"""Writing entries and, for tamper tests, getting past the database's append-only triggers."""

import json

from django.db import connection

from bastion.audit.chain import record
from bastion.audit.models import AuditEntry


def entries(n: int, action: str = "test.event", **kwargs) -> list[AuditEntry]:
    return [record(action, actor_label=kwargs.pop("actor_label", "system"), object_type="test.thing",
                   object_id=str(i), object_repr=f"thing {i}", after={"n": i}, **kwargs)
            for i in range(n)]


def disable_append_only() -> None:
    """What an attacker with database access would do first. The test's transaction undoes it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER audit_entry_no_update")
            cursor.execute("DROP TRIGGER audit_entry_no_delete")


def raw_set_after(seq: int, value) -> None:
    cast = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    with connection.cursor() as cursor:
        cursor.execute(f'UPDATE audit_auditentry SET "after" = {cast} WHERE seq = %s',  # noqa: S608
                       [json.dumps(value), seq])


def raw_delete(seq: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditentry WHERE seq = %s", [seq])
