"""HR CSV import of people: read the file, plan the changes in memory, apply them at once.

The plan is computed from one read of the directory and the whole file, so a 100,000-row
import costs a handful of queries: one to load the directory, then batched inserts and
updates. Any error anywhere in the file means nothing is written.
"""

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from bastion.audit.chain import record
from bastion.lib.bulk import BATCH_SIZE

from .bulk import insert_people, refresh_statistics, update_people
from .models import ImportStatus, PeopleImport, Person, PersonStatus

CANONICAL_COLUMNS = (
    "employee_id", "email", "first_name", "last_name", "department", "title",
    "manager_employee_id", "country", "language", "hire_date", "leave_date",
)
REQUIRED_COLUMNS = ("employee_id", "email", "first_name", "last_name")
COLUMN_LABELS = {
    "employee_id": "Employee id",
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "department": "Department",
    "title": "Title",
    "manager_employee_id": "Manager's employee id",
    "country": "Country (2 letters)",
    "language": "Language",
    "hire_date": "Hire date (YYYY-MM-DD)",
    "leave_date": "Leave date (YYYY-MM-DD)",
}
# The Person field each canonical column sets.
_MODEL_FIELD = {c: ("manager" if c == "manager_employee_id" else c) for c in CANONICAL_COLUMNS}


def _concrete(name: str) -> models.Field:
    """A column of Person (get_field may also answer with a reverse relation)."""
    model_field = Person._meta.get_field(name)
    assert isinstance(model_field, models.Field)
    return model_field


_TEXT_COLUMNS = ("employee_id", "email", "first_name", "last_name", "department", "title", "language")
MAX_LENGTH: dict[str, int] = {c: _concrete(c).max_length or 0 for c in _TEXT_COLUMNS}
MAX_LENGTH["manager_employee_id"] = MAX_LENGTH["employee_id"]

# New people are written by management level; a chain deeper than this is linked afterwards.
MAX_LEVELS = 50
# An import touching this many people refreshes the planner's statistics once it commits.
STATISTICS_THRESHOLD = 5000
# How many errors and listed people a page shows, and how many an import's record keeps.
DISPLAY_CAP = 200
RECORD_CAP = 1000

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNTRY_RE = re.compile(r"[A-Z]{2}")
# A subset of what Django's email validator accepts: dot-atom local part, LDH domain labels.
_SIMPLE_EMAIL_RE = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (not CSV text, no header, a column missing...)."""


class ImportAlreadyApplied(Exception):
    """The stored import was applied or discarded already (a second click, another tab)."""


@dataclass(frozen=True, order=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1; 0 for the file as a whole
    message: str

    def __str__(self) -> str:
        return f"Row {self.row}: {self.message}" if self.row else self.message


def _quote(value: str, limit: int = 60) -> str:
    value = value if len(value) <= limit else value[: limit - 1] + "…"
    return f"“{value}”"


# --- Reading the file -------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    """The text of a UTF-8 CSV file (with or without BOM), or ImportFileError saying why not."""
    if data.startswith(_WORKBOOK_MAGIC):
        raise ImportFileError(
            "This is a spreadsheet workbook, not a CSV file. "
            "Save it as “CSV UTF-8 (comma delimited)” and import that file."
        )
    if b"\x00" in data:
        raise ImportFileError(
            "The file is not UTF-8 text: it contains binary data (or is UTF-16 text). "
            "Save or export it as “CSV UTF-8” and try again."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFileError(
            f"The file is not UTF-8 text: byte 0x{data[exc.start]:02X} on line {line} cannot be "
            "read as UTF-8. Save or export it as “CSV UTF-8” and try again."
        ) from None
    if not text.strip():
        raise ImportFileError("The file is empty.")
    return text


def read_upload(upload) -> str:
    """Decode an uploaded file, refusing it before reading if it is over the size limit."""
    limit = settings.BASTION_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise ImportFileError(
            f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}. "
            "Split it, or import it with `bastion import-people` on the server."
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ImportFileError(f"The file is larger than the limit of {filesizeformat(limit)}.")
    return decode_csv(data)


def _delimiter(text: str) -> str:
    # Spreadsheets in many locales export with semicolons; the header line tells which.
    first_line = text.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _reader(text: str):
    return csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=False)


def read_header(text: str) -> list[str]:
    """The column names in the file's first row (ImportFileError if there is no usable header)."""
    try:
        header: list[str] = next(_reader(text), [])
    except csv.Error as exc:
        raise ImportFileError(f"Row 1 (the header) is not valid CSV: {exc}.") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise ImportFileError(
            "The first row must be a header naming the columns "
            "(employee_id, email, first_name, last_name, ...); it is empty."
        )
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if not name:
            continue
        key = name.casefold()
        if key in seen:
            raise ImportFileError(
                f"The header has two columns named {_quote(name)} (columns {seen[key]} and {i}). "
                "Rename one of them."
            )
        seen[key] = i
    return header


def sample_rows(text: str, count: int = 3) -> list[list[str]]:
    """The first few data rows, to show next to the column mapping."""
    rows = []
    try:
        reader = _reader(text)
        next(reader, None)
        for row in reader:
            if any(c.strip() for c in row):
                rows.append(row)
            if len(rows) >= count:
                break
    except csv.Error:
        pass
    return rows


def _normalise_header(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).casefold()


def guess_mapping(header: list[str]) -> dict[str, str]:
    """Canonical column -> file header, matching names regardless of case, spaces and underscores."""
    by_key = {_normalise_header(h): h for h in header if h}
    mapping = {}
    for column in CANONICAL_COLUMNS:
        if found := by_key.get(_normalise_header(column)):
            mapping[column] = found
    return mapping


def mapping_is_complete(header: list[str], mapping: dict[str, str]) -> bool:
    """Whether the file needs no mapping step: every required column and every header matched."""
    used = set(mapping.values())
    return all(c in mapping for c in REQUIRED_COLUMNS) and all(h in used for h in header if h)


def check_mapping(header: list[str], mapping: dict[str, str]) -> list[str]:
    """Problems with a mapping (empty if it can be used)."""
    problems = []
    for column in REQUIRED_COLUMNS:
        if not mapping.get(column):
            problems.append(
                f"The file has no column for {column} (required). "
                f"Map it to one of the file's columns."
            )
    present = set(header)
    for column, name in mapping.items():
        if column not in CANONICAL_COLUMNS:
            problems.append(f"{column} is not a column Bastion knows.")
        elif name and name not in present:
            problems.append(f"{column} is mapped to {_quote(name)}, which is not a column of the file.")
    used: dict[str, str] = {}
    for column, name in mapping.items():
        if name and name in used:
            problems.append(f"The column {_quote(name)} is mapped to both {used[name]} and {column}.")
        used.setdefault(name, column)
    return problems


# --- Parsing rows -----------------------------------------------------------------------


@dataclass
class FileRow:
    row: int
    values: dict[str, Any]  # canonical column -> cleaned value, for mapped columns only


@dataclass
class ParsedFile:
    mapping: dict[str, str]
    rows: list[FileRow]
    errors: list[RowError]


def _parse_date(raw: str, column: str, row: int, errors: list[RowError]) -> date | None:
    if not raw:
        return None
    if _DATE_RE.fullmatch(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors.append(RowError(row, f"{column} {_quote(raw)} is not a real date"))
            return None
    errors.append(RowError(row, f"{column} {_quote(raw)} is not a date in the form YYYY-MM-DD"))
    return None


def _is_valid_email(value: str) -> bool:
    # Django's validator is thorough but slow at 100,000 rows; the common shape of an address
    # is accepted by a stricter pattern first, and anything else gets the full check.
    if len(value) <= MAX_LENGTH["email"] and _SIMPLE_EMAIL_RE.fullmatch(value):
        return True
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def parse_file(text: str, mapping: dict[str, str]) -> ParsedFile:
    """Read every row and check what can be checked without the directory."""
    header = read_header(text)
    problems = check_mapping(header, mapping)
    if problems:
        raise ImportFileError(" ".join(problems))
    mapping = {c: h for c, h in mapping.items() if h}
    index = [(c, header.index(h)) for c, h in mapping.items()]
    limits = [(c, MAX_LENGTH[c]) for c in mapping if c in MAX_LENGTH]
    dates = [c for c in ("hire_date", "leave_date") if c in mapping]
    has_country = "country" in mapping
    width = max(i for i, h in enumerate(header) if h) + 1
    errors: list[RowError] = []
    rows: list[FileRow] = []
    first_row_of_id: dict[str, int] = {}
    first_row_of_email: dict[str, int] = {}

    reader = _reader(text)
    row_number = 1
    try:
        next(reader)
        for row_number, cells in enumerate(reader, start=2):
            if not "".join(cells).strip():
                continue
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            elif len(cells) > width and "".join(cells[width:]).strip():
                errors.append(RowError(
                    row_number,
                    f"has {len(cells)} values but the header names {width} columns "
                    "(is a value with a comma missing its quotes?)",
                ))
            values: dict[str, Any] = {c: cells[i].strip() for c, i in index}
            for column in REQUIRED_COLUMNS:
                if not values[column]:
                    errors.append(RowError(row_number, f"{column} is empty (it is required)"))
            for column, limit in limits:
                if len(values[column]) > limit:
                    errors.append(RowError(
                        row_number,
                        f"{column} is {len(values[column])} characters long; the most allowed is {limit}",
                    ))
            eid = values["employee_id"]
            email = values["email"] = values["email"].lower()
            if email and not _is_valid_email(email):
                errors.append(RowError(row_number, f"email {_quote(email)} is not a valid email address"))
            if has_country:
                country = values["country"] = values["country"].upper()
                if country and not _COUNTRY_RE.fullmatch(country):
                    errors.append(RowError(
                        row_number,
                        f"country {_quote(country)} is not a two-letter ISO country code (e.g. GB, DE)",
                    ))
            for column in dates:
                values[column] = _parse_date(values[column], column, row_number, errors)
            hire, leave = values.get("hire_date"), values.get("leave_date")
            if hire and leave and leave < hire:
                errors.append(RowError(
                    row_number, f"leave_date {leave.isoformat()} is before hire_date {hire.isoformat()}"
                ))
            if eid and eid == values.get("manager_employee_id"):
                errors.append(RowError(row_number, f"employee {_quote(eid)} is their own manager"))
            if eid:
                first = first_row_of_id.setdefault(eid, row_number)
                if first != row_number:
                    errors.append(RowError(
                        row_number,
                        f"employee id {_quote(eid)} appears twice: on rows {first} and {row_number}",
                    ))
            if email:
                first = first_row_of_email.setdefault(email, row_number)
                if first != row_number:
                    errors.append(RowError(
                        row_number,
                        f"email {_quote(email)} appears twice: on rows {first} and {row_number}",
                    ))
            rows.append(FileRow(row_number, values))
    except csv.Error as exc:
        raise ImportFileError(f"Row {row_number + 1} is not valid CSV: {exc}.") from None
    if not rows:
        raise ImportFileError("The file has a header but no rows of people.")
    return ParsedFile(mapping, rows, errors)


# --- Planning against the directory -----------------------------------------------------

# The order of Person values loaded in one query.
_LOAD = ("pk", "employee_id", "email", "first_name", "last_name", "department", "title",
         "manager_id", "country", "language", "hire_date", "leave_date", "status")
_POS = {name: i for i, name in enumerate(_LOAD)}


@dataclass
class ImportPlan:
    full: bool
    errors: list[RowError] = field(default_factory=list)
    new: list[dict[str, Any]] = field(default_factory=list)  # Person field values + "manager"
    # (pk, employee_id, name, {field: (before, after)})
    changed: list[tuple[int, str, str, dict[str, tuple[Any, Any]]]] = field(default_factory=list)
    leavers: list[tuple[int, str, str]] = field(default_factory=list)
    unchanged: int = 0
    rows: int = 0
    # Existing people whose email another row takes over (they change theirs in the same import).
    email_holders: list[int] = field(default_factory=list)
    pk_of_employee: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": len(self.new),
            "changed": len(self.changed),
            "leavers": len(self.leavers),
            "unchanged": self.unchanged,
            "errors": len(self.errors),
        }

    def summary(self, cap: int = DISPLAY_CAP) -> dict[str, Any]:
        """Counts and the first `cap` of each list, as JSON-ready values."""

        def show(value):
            return value.isoformat() if isinstance(value, date) else value

        return {
            "full": self.full,
            "counts": self.counts(),
            "errors": [str(e) for e in self.errors[:cap]],
            "created": [
                {"employee_id": p["employee_id"], "name": f"{p['first_name']} {p['last_name']}",
                 "email": p["email"], "department": p["department"], "status": p["status"]}
                for p in self.new[:cap]
            ],
            "changed": [
                {"employee_id": eid, "name": name,
                 "fields": [[f, show(b), show(a)] for f, (b, a) in diffs.items()]}
                for _, eid, name, diffs in self.changed[:cap]
            ],
            "leavers": [{"employee_id": eid, "name": name} for _, eid, name in self.leavers[:cap]],
        }


def _final_status(leave_date: date | None, today: date) -> str:
    return PersonStatus.LEAVER if leave_date and leave_date <= today else PersonStatus.ACTIVE


def plan_import(parsed: ParsedFile, *, full: bool, today: date | None = None) -> ImportPlan:
    """Compare the file with the directory (one query) and decide every change."""
    today = today or timezone.localdate()
    plan = ImportPlan(full=full, errors=list(parsed.errors), rows=len(parsed.rows))
    mapped = set(parsed.mapping)
    has_manager = "manager_employee_id" in mapped
    has_leave = "leave_date" in mapped

    existing: dict[str, tuple] = {}
    eid_of_pk: dict[int, str] = {}
    owner_of_email: dict[str, str] = {}
    for values in Person.objects.order_by().values_list(*_LOAD):
        existing[values[1]] = values
        eid_of_pk[values[0]] = values[1]
        owner_of_email[values[2].lower()] = values[1]
    in_file = {r.values["employee_id"]: r for r in parsed.rows if r.values["employee_id"]}

    for r in parsed.rows:
        eid, email = r.values["employee_id"], r.values["email"]
        manager = r.values.get("manager_employee_id")
        if manager and manager != eid and manager not in in_file:
            if full:
                plan.errors.append(RowError(
                    r.row,
                    f"manager {_quote(manager)} is not in the file (a full import must include "
                    "every manager, since everyone not in it becomes a leaver)",
                ))
            elif manager not in existing:
                plan.errors.append(RowError(
                    r.row, f"manager {_quote(manager)} is neither in the file nor in the directory"
                ))
        owner = owner_of_email.get(email) if email else None
        if owner is not None and owner != eid:
            owner_row = in_file.get(owner)
            if owner_row is None or owner_row.values["email"] == email:
                plan.errors.append(RowError(
                    r.row,
                    f"email {_quote(email)} is already used by another person in the directory "
                    f"(employee id {_quote(owner)})",
                ))
            else:
                plan.email_holders.append(existing[owner][0])

    plan.errors.extend(_manager_cycles(in_file, existing, eid_of_pk, has_manager))
    plan.errors.sort()
    if plan.errors:
        return plan

    for eid, r in in_file.items():
        v = r.values
        old = existing.get(eid)
        if old is None:
            person = {c: v.get(c, "") for c in ("employee_id", "email", "first_name", "last_name",
                                                "department", "title", "country", "language")}
            person["hire_date"] = v.get("hire_date")
            person["leave_date"] = v.get("leave_date")
            person["status"] = _final_status(person["leave_date"], today)
            person["manager"] = v.get("manager_employee_id") or None
            plan.new.append(person)
            continue
        diffs: dict[str, tuple[Any, Any]] = {}
        for column in CANONICAL_COLUMNS:
            if column not in mapped or column == "employee_id":
                continue
            if column == "manager_employee_id":
                before = eid_of_pk.get(old[_POS["manager_id"]])
                after = v[column] or None
            else:
                before, after = old[_POS[column]], v[column]
            if before != after:
                diffs[_MODEL_FIELD[column]] = (before, after)
        if has_leave:
            before_status = old[_POS["status"]]
            after_status = _final_status(v["leave_date"], today)
            if before_status != after_status:
                diffs["status"] = (before_status, after_status)
        if diffs:
            plan.changed.append((old[0], eid, f"{old[3]} {old[4]}", diffs))
        else:
            plan.unchanged += 1

    if full:
        for eid, old in existing.items():
            if eid not in in_file and old[_POS["status"]] == PersonStatus.ACTIVE:
                plan.leavers.append((old[0], eid, f"{old[3]} {old[4]}"))
        plan.leavers.sort(key=lambda item: item[1])
    plan.pk_of_employee = {eid: old[0] for eid, old in existing.items()}
    return plan


def preview(text: str, mapping: dict[str, str], *, full: bool, today: date | None = None) -> ImportPlan:
    """The dry run: what an import would do, writing nothing."""
    return plan_import(parse_file(text, mapping), full=full, today=today)


def _manager_cycles(in_file, existing, eid_of_pk, has_manager) -> list[RowError]:
    """Chains of managers that loop back on themselves, once each, named by employee id."""

    def manager_of(eid: str) -> str | None:
        row = in_file.get(eid)
        if row is not None and has_manager:
            manager = row.values.get("manager_employee_id") or None
        else:
            old = existing.get(eid)
            manager = eid_of_pk.get(old[_POS["manager_id"]]) if old else None
        if manager == eid or (manager not in in_file and manager not in existing):
            return None  # self-management and unknown managers are reported on their own
        return manager

    errors = []
    done: set[str] = set()
    for start in in_file:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in done:
            if node in on_path:
                cycle = path[on_path[node]:]
                rows = [in_file[e].row for e in cycle if e in in_file]
                if rows:
                    # Start the loop at the person who comes first in the file.
                    first = min(cycle, key=lambda e: in_file[e].row if e in in_file else 1 << 62)
                    i = cycle.index(first)
                    loop = cycle[i:] + cycle[:i] + [first]
                    errors.append(RowError(
                        min(rows), "managers form a cycle: " + " → ".join(loop)
                    ))
                break
            on_path[node] = len(path)
            path.append(node)
            node = manager_of(node)
        done.update(path)
    return errors


# --- Applying ---------------------------------------------------------------------------


def do_apply_import(
    *,
    text: str,
    mapping: dict[str, str],
    full: bool,
    filename: str,
    acting_user=None,
    actor_label: str | None = None,
    people_import: PeopleImport | None = None,
    request=None,
    today: date | None = None,
) -> tuple[ImportPlan, PeopleImport | None]:
    """Apply an HR file to the directory, all or nothing, and audit it as one entry.

    The plan is recomputed inside the transaction, so it reflects the directory as it is
    now, not as it was at preview time. With any error, nothing is written and the plan
    (with its errors) is returned. `people_import` is the stored upload being applied;
    without one (the command line) a record of the import is created.
    """
    parsed = parse_file(text, mapping)
    with transaction.atomic():
        plan = plan_import(parsed, full=full, today=today)
        if not plan.ok:
            return plan, people_import
        now = timezone.now()
        if people_import is not None:
            claimed = PeopleImport.objects.filter(
                pk=people_import.pk, status=ImportStatus.UPLOADED
            ).update(status=ImportStatus.APPLIED, applied_at=now)
            if not claimed:
                raise ImportAlreadyApplied
            people_import.status, people_import.applied_at = ImportStatus.APPLIED, now
        else:
            people_import = PeopleImport.objects.create(
                uploaded_by=acting_user, filename=filename[:255], content=text,
                mapping=parsed.mapping, full=full, status=ImportStatus.APPLIED, applied_at=now,
            )
        _write(plan, today or timezone.localdate(), now)
        if len(plan.new) + len(plan.changed) + len(plan.leavers) >= STATISTICS_THRESHOLD:
            transaction.on_commit(refresh_statistics)
        summary = dict(people_import.summary or {})
        summary["result"] = plan.summary(cap=RECORD_CAP)
        people_import.summary = summary
        people_import.save(update_fields=["summary"])
        record(
            "people.imported",
            actor=acting_user,
            actor_label=actor_label,
            obj=people_import,
            after={"filename": filename, "full": full, **plan.counts()},
            request=request,
        )
    return plan, people_import


def _write(plan: ImportPlan, today: date, now) -> None:
    pks = plan.pk_of_employee
    if plan.email_holders:
        # Free the emails being handed to someone else first: the unique index is checked row
        # by row, so a swap would otherwise collide halfway.
        update_people(["email"], [(pk, [f"~import-{pk}~"]) for pk in plan.email_holders])

    # New people go in by management level, managers before their people, so each row is
    # written once with its manager set (a second pass rewrites every index of the row).
    # A chain deeper than MAX_LEVELS is linked afterwards.
    if plan.new:
        names = [n for n in plan.new[0] if n != "manager"]
        later: list[tuple[str, str]] = []
        for level in _by_level(plan.new):
            rows = []
            for values in level:
                manager = values["manager"]
                manager_pk = pks.get(manager) if manager else None
                if manager and manager_pk is None:
                    later.append((values["employee_id"], manager))
                rows.append([values[n] for n in names] + [manager_pk, now, now])
            pks.update(insert_people(names + ["manager", "created_at", "updated_at"], rows))
        update_people(["manager"], [(pks[eid], [pks[manager]]) for eid, manager in later])

    # Changed people, grouped by which fields changed, so each UPDATE sets only those.
    groups: dict[tuple[str, ...], list[tuple[int, list]]] = defaultdict(list)
    for pk, _eid, _name, diffs in plan.changed:
        changed_fields = tuple(sorted(diffs))
        after = [diffs[n][1] for n in changed_fields]
        if "manager" in diffs:
            i = changed_fields.index("manager")
            after[i] = pks[after[i]] if after[i] else None
        groups[changed_fields].append((pk, after))
    for changed_fields, updates in groups.items():
        update_people(list(changed_fields), updates, updated_at=now)

    leaver_pks = [pk for pk, _eid, _name in plan.leavers]
    for start in range(0, len(leaver_pks), BATCH_SIZE):
        chunk = leaver_pks[start:start + BATCH_SIZE]
        Person.objects.filter(pk__in=chunk).update(
            status=PersonStatus.LEAVER, leave_date=Coalesce("leave_date", Value(today)), updated_at=now
        )


def _by_level(new: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """New people grouped by how many new managers are above them (cycles are ruled out
    before this), capped at MAX_LEVELS."""
    by_id = {values["employee_id"]: values for values in new}
    level: dict[str, int] = {}
    for eid in by_id:
        chain: list[str] = []
        node = eid
        while node not in level:
            chain.append(node)
            manager = by_id[node]["manager"]
            if manager not in by_id:
                base = 0
                break
            node = manager
        else:
            base = level[node] + 1
        for i, member in enumerate(reversed(chain)):
            level[member] = base + i
    levels: list[list[dict[str, Any]]] = [[] for _ in range(min(max(level.values()), MAX_LEVELS) + 1)]
    for eid, values in by_id.items():
        levels[min(level[eid], MAX_LEVELS)].append(values)
    return levels
