"""Writing many people at once, fast: the HR import and the large demo use it.

Django's bulk_create spends most of a 100,000-row insert compiling each value through the
ORM, and bulk_update builds a CASE per field whose cost grows with the square of the batch.
These helpers send plain multi-row statements (COPY on PostgreSQL) with values prepared once
per distinct value. Only quoted identifiers are formatted into SQL; every value is a parameter.
"""

from typing import Any, cast

from django.db import connection, models

from .models import Person

BATCH_SIZE = 2000


def _concrete(name: str) -> models.Field:
    """A column of Person (get_field may also answer with a reverse relation)."""
    model_field = Person._meta.get_field(name)
    assert isinstance(model_field, models.Field)
    return model_field


class _Adapter:
    """A field's database form of a value, computed once per distinct value (dates repeat)."""

    def __init__(self, model_field) -> None:
        self.field = model_field
        self.seen: dict[Any, Any] = {}

    def __call__(self, value: Any) -> Any:
        if value is None or isinstance(value, str | int) and not isinstance(value, bool):
            return value
        try:
            return self.seen[value]
        except KeyError:
            prepared = self.seen[value] = self.field.get_db_prep_save(value, connection)
            return prepared


def _relation(fields: list, rows: list[list]) -> tuple[str, list]:
    """Rows of values as a relation `v` with columns column1, column2..., for FROM or INSERT.

    PostgreSQL gets one typed array per column (as Django's own bulk_create does), so the
    statement stays small whatever the number of rows; SQLite gets a VALUES list.
    """
    if connection.vendor == "postgresql":
        types = [f.db_type(connection).split("(")[0] for f in fields]
        arrays = ", ".join(f"(%s)::{t}[]" for t in types)
        names = ", ".join(f"column{i}" for i in range(1, len(fields) + 1))
        return f"UNNEST({arrays}) AS v({names})", [list(column) for column in zip(*rows, strict=True)]
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return f"(VALUES {', '.join([placeholder] * len(rows))}) AS v", [v for row in rows for v in row]


def _batches(rows: list, width: int):
    size = min(BATCH_SIZE, (connection.features.max_query_params or 65535) // width - 1)
    for start in range(0, len(rows), size):
        yield rows[start:start + size]



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
            for chunk in _batches(rows, 1):
                cursor.execute(
                    f"SELECT {qn('id')}, {qn('employee_id')} FROM {table} "  # noqa: S608
                    f"WHERE {qn('employee_id')} = ANY(%s)",
                    [[row[eid] for row in chunk]],
                )
                pks.update((e, pk) for pk, e in cursor.fetchall())
        return pks
    adapters = [_Adapter(f) for f in fields]
    with connection.cursor() as cursor:
        for chunk in _batches(rows, len(fields)):
            prepared = [[adapt(v) for adapt, v in zip(adapters, row, strict=True)] for row in chunk]
            relation, params = _relation(fields, prepared)
            # Only quoted identifiers are formatted into the statement; every value is a parameter.
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608
                f"SELECT * FROM {relation} RETURNING {qn('id')}, {qn('employee_id')}",
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
    adapters = [_Adapter(f) for f in fields]
    qn = connection.ops.quote_name
    table = qn(Person._meta.db_table)
    assignments = [f"{qn(cast(str, f.column))} = v.column{i}" for i, f in enumerate(fields[1:], 2)]
    extra: list[Any] = []
    if updated_at is not None:
        assignments.append(f"{qn('updated_at')} = %s")
        extra.append(Person._meta.get_field("updated_at").get_db_prep_save(updated_at, connection))
    with connection.cursor() as cursor:
        for chunk in _batches(rows, len(fields)):
            prepared = [
                [pk] + [adapt(v) for adapt, v in zip(adapters[1:], values, strict=True)]
                for pk, values in chunk
            ]
            relation, params = _relation(fields, prepared)
            # Only quoted identifiers are formatted into the statement; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608
                f"FROM {relation} WHERE {table}.{qn('id')} = v.column1",
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
