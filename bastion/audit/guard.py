"""The database-level guard that makes Bastion's records of what happened append-only: the audit
trail and the incidents' timelines (whose evidence bytes live in the timeline rows, so they are
guarded with them).

PostgreSQL: a trigger raises on UPDATE, DELETE and TRUNCATE. SQLite: triggers abort UPDATE and
DELETE. Someone with database-owner rights can still drop them; `bastion audit verify` and the
timeline's verification (incidents/timeline.py) are what detect that kind of tampering.

Each table's migration installs its own triggers (audit 0002, incidents 0003); the test suite
lifts them all before a transactional test's flush and puts them back (conftest.py).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Guarded:
    table: str
    prefix: str  # of the trigger and function names
    what: str  # named in the refusal

    def pg_install(self) -> str:
        return f"""
CREATE OR REPLACE FUNCTION {self.prefix}_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION USING MESSAGE = '{self.what} is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS {self.prefix}_no_update ON {self.table};
DROP TRIGGER IF EXISTS {self.prefix}_no_truncate ON {self.table};
CREATE TRIGGER {self.prefix}_no_update BEFORE UPDATE OR DELETE ON {self.table}
  FOR EACH ROW EXECUTE FUNCTION {self.prefix}_append_only();
CREATE TRIGGER {self.prefix}_no_truncate BEFORE TRUNCATE ON {self.table}
  FOR EACH STATEMENT EXECUTE FUNCTION {self.prefix}_append_only();
"""

    def pg_remove(self) -> str:
        return f"""
DROP TRIGGER IF EXISTS {self.prefix}_no_update ON {self.table};
DROP TRIGGER IF EXISTS {self.prefix}_no_truncate ON {self.table};
DROP FUNCTION IF EXISTS {self.prefix}_append_only();
"""

    def sqlite_install(self) -> list[str]:
        return [
            f"CREATE TRIGGER IF NOT EXISTS {self.prefix}_no_{op.lower()} BEFORE {op} ON {self.table} "
            f"BEGIN SELECT RAISE(ABORT, '{self.what} is append-only: {op} refused'); END;"
            for op in ("UPDATE", "DELETE")
        ]

    def sqlite_remove(self) -> list[str]:
        return [f"DROP TRIGGER IF EXISTS {self.prefix}_no_{op};" for op in ("update", "delete")]


AUDIT = Guarded("audit_auditentry", "audit_entry", "the audit trail")
TIMELINE = Guarded("incidents_timelineentry", "incident_timeline", "the incident timeline")
GUARDED = (AUDIT, TIMELINE)


def _statements(vendor: str, tables: tuple[Guarded, ...], install: bool) -> list[str]:
    if vendor == "postgresql":
        return [t.pg_install() if install else t.pg_remove() for t in tables]
    if vendor == "sqlite":
        return [sql for t in tables for sql in (t.sqlite_install() if install else t.sqlite_remove())]
    return []


def install(connection, tables: tuple[Guarded, ...] = GUARDED) -> None:
    """Put the triggers on ``tables`` (all guarded tables by default); harmless if already there."""
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, tables, True):
            cursor.execute(sql)


def remove(connection, tables: tuple[Guarded, ...] = GUARDED) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, tables, False):
            cursor.execute(sql)


def is_installed(connection, tables: tuple[Guarded, ...] = GUARDED) -> bool:
    """Every one of ``tables`` has its update/delete trigger."""
    names = [f"{t.prefix}_no_update" for t in tables]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(DISTINCT tgname) FROM pg_trigger WHERE tgname = ANY(%s)", [names])
        elif connection.vendor == "sqlite":
            marks = ", ".join(["%s"] * len(names))
            cursor.execute(f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})",  # noqa: S608
                           names)
        else:
            return False
        return cursor.fetchone()[0] == len(names)
