"""Writing many people at once, fast: the HR import and the large demo use it.

Django's bulk_create spends most of a 100,000-row insert compiling each value through the
ORM, and bulk_update builds a CASE per field whose cost grows with the square of the batch.
These helpers send plain multi-row statements (COPY on PostgreSQL) with values prepared once
per distinct value. Only quoted identifiers are formatted into SQL; every value is a parameter.
"""

from typing import Any, cast

from django.db import connection, models

from bastion.lib.bulk import Adapter, batches, relation

from .models import Person


def _concrete(name: str) -> models.Field:
    """A column of Person (get_field may also answer with a reverse relation)."""
    model_field = Person._meta.get_field(name)
    assert isinstance(model_field, models.Field)
    return model_field


def insert_people(names: list[str], rows: list[list]) -> dict[str, int]:
    """Insert people given as rows of values for `names`; return employee id -> new pk.

    bulk_create spends most of a 100,000-row import compiling each value through the ORM;
    this sends the same multi-row INSERT with values prepared once per distinct value.
    """
    fields = [_concrete(n) for n in names]
    qn = connection.ops.quote_name
    table = qn(Person._meta.db_table)
    columns = ", ".join(qn(cast(str, f.column)) for f in fields)
    pks: dict[str, int] = {}
    if connection.vendor == "postgresql":
        # COPY is PostgreSQL's bulk path: rows are encoded in C, not as a statement to parse.
        eid = names.index("employee_id")
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            for chunk in batches(rows, 1):
                cursor.execute(
                    f"SELECT {qn('id')}, {qn('employee_id')} FROM {table} "  # noqa: S608
                    f"WHERE {qn('employee_id')} = ANY(%s)",
                    [[row[eid] for row in chunk]],
                )
                pks.update((e, pk) for pk, e in cursor.fetchall())
        return pks
    adapters = [Adapter(f) for f in fields]
    with connection.cursor() as cursor:
        for chunk in batches(rows, len(fields)):
            prepared = [[adapt(v) for adapt, v in zip(adapters, row, strict=True)] for row in chunk]
            rel, params = relation(fields, prepared)
            # Only quoted identifiers are formatted into the statement; every value is a parameter.
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608
                f"SELECT * FROM {rel} RETURNING {qn('id')}, {qn('employee_id')}",
                params,
            )
            pks.update((eid, pk) for pk, eid in cursor.fetchall())
    return pks


def update_people(names: list[str], rows: list[tuple[int, list]], updated_at=None) -> None:
    """Set `names` on many people at once: rows of (pk, values), one UPDATE per batch.

    Django's bulk_update builds a CASE per field whose cost grows with the square of the
    batch; joining on the rows is linear (UPDATE ... FROM: SQLite 3.33+ and PostgreSQL).
    """
    if not rows:
        return
    fields = [_concrete("id")] + [_concrete(n) for n in names]
    adapters = [Adapter(f) for f in fields]
    qn = connection.ops.quote_name
    table = qn(Person._meta.db_table)
    assignments = [f"{qn(cast(str, f.column))} = v.column{i}" for i, f in enumerate(fields[1:], 2)]
    extra: list[Any] = []
    if updated_at is not None:
        assignments.append(f"{qn('updated_at')} = %s")
        extra.append(Person._meta.get_field("updated_at").get_db_prep_save(updated_at, connection))
    with connection.cursor() as cursor:
        for chunk in batches(rows, len(fields)):
            prepared = [
                [pk] + [adapt(v) for adapt, v in zip(adapters[1:], values, strict=True)]
                for pk, values in chunk
            ]
            rel, params = relation(fields, prepared)
            # Only quoted identifiers are formatted into the statement; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608
                f"FROM {rel} WHERE {table}.{qn('id')} = v.column1",
                extra + params,
            )


def refresh_statistics() -> None:
    """After a bulk write, let the query planner see the new table (run outside a transaction).

    PostgreSQL's autovacuum would get there eventually; until it does, a freshly loaded table
    is planned as if empty and its index-only scans read the heap.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # VACUUM also marks pages all-visible (index-only scans) but cannot run in a
            # transaction; inside one, statistics alone still fix the plans.
            verb = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            cursor.execute(f"{verb} {connection.ops.quote_name(Person._meta.db_table)}")
        elif connection.vendor == "sqlite":
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Person._meta.db_table)}")
