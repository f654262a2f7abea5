"""Inserting many rows at once, fast: the HR import, the assignment run and the follow-up run.

Django's bulk_create builds a model instance per row and compiles every value through the ORM:
for the 100,000 assignments, emails and events of a programme's first run that is most of the
time. These helpers send the same multi-row statements with values prepared once per distinct
value (dates and times repeat). Only quoted identifiers are formatted into SQL; every value is a
parameter. They skip ``save()`` and signals, as bulk_create does, so they suit plain records only.
"""

from collections.abc import Iterator
from typing import Any, cast

from django.db import connection, models
from django.utils import timezone

BATCH_SIZE = 2000
# Callable defaults that may be called once per statement: every row gets an equal value.
_ONCE_PER_CALL = (timezone.now, list, dict)


class Adapter:
    """A field's database form of a value, computed once per distinct value."""

    def __init__(self, model_field: models.Field) -> None:
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
        except TypeError:  # unhashable (a JSON list or dict): prepared each time
            return self.field.get_db_prep_save(value, connection)


def relation(fields: list, rows: list[list]) -> tuple[str, list]:
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


def batches(rows: list, width: int) -> Iterator[list]:
    size = min(BATCH_SIZE, (connection.features.max_query_params or 65535) // width - 1)
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def insert_rows(model: type[models.Model], rows: list[dict[str, Any]], *, returning: bool = False) -> list[int]:
    """Insert ``rows`` (dicts by field attname, e.g. ``person_id``; the same keys in each) into
    ``model``'s table, in order; the fields left out take their defaults. Returns the new
    primary keys in the same order if ``returning``, else an empty list. Call inside a
    transaction when the rows belong with other writes."""
    if not rows:
        return []
    meta = model._meta
    given = list(rows[0])
    fields: list[models.Field] = []
    constant: dict[str, Any] = {}
    per_row: list[models.Field] = []
    for f in meta.concrete_fields:
        if f.primary_key and f.attname not in given:
            continue
        fields.append(f)
        if f.attname in given:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) or f.default in _ONCE_PER_CALL:
            constant[f.attname] = timezone.now() if f.default in (timezone.now, models.NOT_PROVIDED) else f.default()
        elif callable(f.default):
            per_row.append(f)
        else:
            constant[f.attname] = f.get_default()
    adapters = [Adapter(f) for f in fields]
    prepared_constants = {f.attname: adapt(constant[f.attname])
                          for f, adapt in zip(fields, adapters, strict=True) if f.attname in constant}
    qn = connection.ops.quote_name
    table = qn(meta.db_table)
    columns = ", ".join(qn(cast(str, f.column)) for f in fields)
    back = f" RETURNING {qn(cast(str, meta.pk.column))}" if returning else ""  # type: ignore[union-attr]
    pks: list[int] = []
    with connection.cursor() as cursor:
        for chunk in batches(rows, len(fields)):
            values = []
            for row in chunk:
                extra = {f.attname: f.get_default() for f in per_row}
                values.append([prepared_constants[f.attname] if f.attname in prepared_constants
                               else adapt(row[f.attname] if f.attname in row else extra[f.attname])
                               for f, adapt in zip(fields, adapters, strict=True)])
            rel, params = relation(fields, values)
            # Only quoted identifiers are formatted into the statement; every value is a parameter.
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT * FROM {rel}{back}", params)  # noqa: S608
            if returning:
                pks.extend(row[0] for row in cursor.fetchall())
    return pks
