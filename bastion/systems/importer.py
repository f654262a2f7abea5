"""CSV import of business systems: read the file, plan the changes in memory, apply them at once.

Systems are matched on their name (in any case), so importing the same file twice changes
nothing the second time. A column in the header sets that field for every row (an empty cell
clears it); a column left out leaves the field as it is. Any error means nothing is written.
"""

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from bastion.people.importer import ImportFileError, RowError, decode_csv
from bastion.people.models import Person

from .models import BusinessSystem, DataClassification, Hosting

__all__ = ["COLUMNS", "ImportFileError", "ImportPlan", "RowError", "decode_csv",
           "plan_import", "read_upload"]

COLUMNS = (
    "name", "description", "owner_email", "business_processes", "data_classification", "personal_data",
    "health_data", "card_data", "financial_reporting", "users_count", "hosting", "hosting_detail",
    "depends_on", "rto_hours", "rpo_hours", "mtd_hours", "security_spend",
)
_FLAGS = ("personal_data", "health_data", "card_data", "financial_reporting")
_HOURS = ("rto_hours", "rpo_hours", "mtd_hours")
_TRUE, _FALSE = {"yes", "true", "1", "y"}, {"no", "false", "0", "n", ""}
_MAX_LENGTH = {"name": 150, "hosting_detail": 200, "description": 5000, "business_processes": 5000}
# The model field each column sets (the owner is looked up by email).
_FIELD = {c: c for c in COLUMNS if c not in ("owner_email", "depends_on")} | {"owner_email": "owner"}
# How many errors and listed systems a page shows.
DISPLAY_CAP = 200


@dataclass
class ImportPlan:
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # name → field values (owner as a Person) for new systems; (system, changes) for changed ones.
    new: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[BusinessSystem, dict[str, Any], dict[str, tuple[Any, Any]]]] = field(default_factory=list)
    unchanged: int = 0
    # name (casefolded) → names it depends on, for every row when the file has depends_on.
    dependencies: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "created": len(self.new), "changed": len(self.changed),
                "unchanged": self.unchanged, "errors": len(self.errors)}

    def summary(self, cap: int = DISPLAY_CAP) -> dict[str, Any]:
        """What the preview page shows: counts, errors, and the first new and changed systems."""
        return {
            "counts": self.counts(),
            "errors": [str(e) for e in sorted(self.errors)[:cap]],
            "created": [{"name": values["name"], "owner": values.get("owner"),
                         "classification": values.get("data_classification", "")} for values in self.new[:cap]],
            "changed": [{"name": system.name, "fields": [(name.replace("_", " "), before, after)
                                                         for name, (before, after) in diffs.items()]}
                        for system, _, diffs in self.changed[:cap]],
        }


def read_upload(upload) -> str:
    """Decode an uploaded file, refusing it before reading if it is over the size limit."""
    limit = settings.BASTION_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise ImportFileError(f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}.")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ImportFileError(f"The file is larger than the limit of {filesizeformat(limit)}.")
    return decode_csv(data)


def _rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    # Spreadsheets in many locales export with semicolons; the header line tells which.
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count) if any(d in first_line for d in ",;\t") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip().casefold().replace(" ", "_") for h in next(reader, [])]
        rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise ImportFileError(f"Line {reader.line_num} is not valid CSV: {exc}.") from None
    if "name" not in header:
        raise ImportFileError("The first row must be a header naming the columns, with at least "
                              f"“name”. Columns: {', '.join(COLUMNS)}.")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise ImportFileError(f"Unknown column{'s' if len(unknown) > 1 else ''} "
                              f"{', '.join('“' + h + '”' for h in unknown)}. Columns: {', '.join(COLUMNS)}.")
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise ImportFileError(f"The header names {', '.join(twice)} twice.")
    if not rows:
        raise ImportFileError("The file has a header but no rows of systems.")
    return header, rows


def _choice(raw: str, choices, column: str) -> str:
    for value, label in choices:
        if raw.casefold() in (value.casefold(), str(label).casefold()):
            return value
    raise ValueError(f"{column} {raw!r} is not one of: {', '.join(v for v, _ in choices)}.")


def _number(raw: str, column: str, max_digits: int) -> Decimal | None:
    if raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{column} {raw!r} is not a number (write it like 24 or 1500.50).") from None
    if not value.is_finite():
        raise ValueError(f"{column} {raw!r} is not a number.")
    if value < 0:
        raise ValueError(f"{column} cannot be negative ({raw}).")
    value = value.quantize(Decimal("0.01"))
    if len(value.as_tuple().digits) > max_digits:
        raise ValueError(f"{column} {raw} is too large.")
    return value


def _parse_cell(column: str, raw: str, people: dict[str, Person]) -> Any:
    """One cell as the value to store; ValueError with a message naming the column."""
    if column in _FLAGS:
        if raw.casefold() in _TRUE:
            return True
        if raw.casefold() in _FALSE:
            return False
        raise ValueError(f"{column} {raw!r} must be yes or no (true/false, 1/0).")
    if column in _HOURS:
        return _number(raw, column, 8)
    if column == "security_spend":
        return _number(raw, column, 14)
    if column == "users_count":
        if raw == "":
            return None
        if not raw.isdigit() or int(raw) > 2_147_483_647:
            raise ValueError(f"users_count {raw!r} must be a whole number of 0 or more.")
        return int(raw)
    if column == "data_classification":
        return _choice(raw, DataClassification.choices, column) if raw else DataClassification.INTERNAL
    if column == "hosting":
        return _choice(raw, Hosting.choices, column) if raw else Hosting.SAAS
    if column == "owner_email":
        if not raw:
            return None
        if raw.casefold() not in people:
            raise ValueError(f"No person in the directory has the email address {raw}.")
        return people[raw.casefold()]
    if column == "business_processes":
        return "\n".join(p.strip() for p in raw.split(";") if p.strip())
    if column in _MAX_LENGTH and len(raw) > _MAX_LENGTH[column]:
        raise ValueError(f"{column} is longer than {_MAX_LENGTH[column]} characters.")
    return raw


def _shown(name: str, value: Any) -> Any:
    """A value as the preview and the audit trail show it (owner by email, amounts to the cent)."""
    if name == "owner":
        return value.email if value is not None else None
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def plan_import(text: str) -> ImportPlan:
    """What importing `text` would do to the register as it is now; writes nothing."""
    header, rows = _rows(text)
    plan = ImportPlan(rows=len(rows), columns=header)
    existing = {s.name.casefold(): s for s in BusinessSystem.objects.select_related("owner")}
    people: dict[str, Person] = {}
    if "owner_email" in header:
        wanted = {row[header.index("owner_email")].strip().casefold() for _, row in rows
                  if len(row) > header.index("owner_email")}
        wanted.discard("")
        found = Person.objects.filter(email__in=wanted).only("pk", "email", "first_name", "last_name")
        people = {p.email.casefold(): p for p in found}
    current_deps: dict[int, list[str]] = {}
    if "depends_on" in header:
        through = BusinessSystem.dependencies.through
        names = {s.pk: s.name for s in existing.values()}
        for source, dest in through.objects.values_list("from_businesssystem_id", "to_businesssystem_id"):
            current_deps.setdefault(source, []).append(names[dest])

    seen: dict[str, int] = {}
    parsed: list[tuple[int, dict[str, Any], list[str]]] = []
    for line, row in rows:
        cells = {column: (row[i].strip() if i < len(row) else "") for i, column in enumerate(header)}
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            plan.errors.append(RowError(line, f"has {len(row)} cells but the header names {len(header)} columns."))
            continue
        name = cells["name"]
        if not name:
            plan.errors.append(RowError(line, "name is empty."))
            continue
        if ";" in name:
            plan.errors.append(RowError(line, f"name {name!r} cannot contain a semicolon."))
            continue
        key = name.casefold()
        if key in seen:
            plan.errors.append(RowError(line, f"{name} is already in the file on row {seen[key]}."))
            continue
        seen[key] = line
        values: dict[str, Any] = {}
        for column in header:
            if column == "depends_on":
                continue
            try:
                values[_FIELD[column]] = _parse_cell(column, cells[column], people)
            except ValueError as exc:
                plan.errors.append(RowError(line, f"{name}: {exc}"))
        depends = list(dict.fromkeys(d.strip() for d in cells.get("depends_on", "").split(";") if d.strip()))
        parsed.append((line, values, depends))

    in_file = {values["name"].casefold(): values["name"] for _, values, _ in parsed}
    for line, values, depends in parsed:
        name = values["name"]
        if "depends_on" in header:
            if any(d.casefold() == name.casefold() for d in depends):
                plan.errors.append(RowError(line, f"{name} cannot depend on itself."))
            unknown = [d for d in depends if d.casefold() not in in_file and d.casefold() not in existing]
            if unknown:
                plan.errors.append(RowError(line, f"{name} depends on {', '.join(unknown)}, which "
                                                  f"{'is' if len(unknown) == 1 else 'are'} neither in the file "
                                                  "nor in the register."))
            resolved = [in_file.get(d.casefold()) or existing[d.casefold()].name for d in depends
                        if d.casefold() in in_file or d.casefold() in existing]
            plan.dependencies[name.casefold()] = resolved
        system = existing.get(name.casefold())
        if system is None:
            plan.new.append(values)
            continue
        diffs = {}
        for field_name, value in values.items():
            before = _shown(field_name, getattr(system, field_name))
            after = _shown(field_name, value)
            if before != after:
                diffs[field_name] = (before, after)
        if "depends_on" in header:
            before_deps = sorted(current_deps.get(system.pk, []))
            after_deps = sorted(plan.dependencies[name.casefold()])
            if before_deps != after_deps:
                diffs["depends_on"] = ("; ".join(before_deps), "; ".join(after_deps))
        if diffs:
            plan.changed.append((system, values, diffs))
        else:
            plan.unchanged += 1
    return plan
