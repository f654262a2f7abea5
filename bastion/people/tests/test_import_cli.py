"""`bastion import-people FILE.csv [--dry-run] [--partial] [--map column=Header ...]`."""

import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from bastion.__main__ import main
from bastion.audit.models import AuditEntry
from bastion.people.models import ImportStatus, PeopleImport, Person, PersonStatus

from .test_import import HEADER, ORG, ROW_ERRORS, csv_bytes, make_person

DATA = Path(__file__).parent / "data"


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_people", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(*args: str) -> tuple[str, str]:
    err = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("import_people", *args, stdout=StringIO(), stderr=err)
    return str(exc.value), err.getvalue()


@pytest.fixture
def write_csv(tmp_path):
    def write(data: bytes, name: str = "people.csv") -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    return write


@pytest.mark.django_db
def test_import_prints_the_summary_and_audits_as_cli(write_csv):
    out, _ = run(write_csv(csv_bytes(*ORG)))
    assert "3 rows read from people.csv (full list)" in out
    assert "created:   3" in out and "changed:   0" in out and "leavers:   0" in out
    assert Person.objects.get(employee_id="E3").manager.employee_id == "E2"
    entry = AuditEntry.objects.get(action="people.imported")
    assert entry.actor_label == "cli" and entry.actor is None and entry.after["created"] == 3
    imp = PeopleImport.objects.get()
    assert imp.status == ImportStatus.APPLIED and imp.uploaded_by is None
    assert imp.summary["result"]["counts"]["created"] == 3


@pytest.mark.django_db
def test_reimport_changes_nothing(write_csv):
    path = write_csv(csv_bytes(*ORG))
    run(path)
    stamps = dict(Person.objects.values_list("employee_id", "updated_at"))
    out, _ = run(path)
    assert "created:   0" in out and "changed:   0" in out and "leavers:   0" in out and "unchanged: 3" in out
    assert dict(Person.objects.values_list("employee_id", "updated_at")) == stamps


@pytest.mark.django_db
def test_dry_run_writes_nothing_and_says_so(write_csv):
    make_person("E2", "bob@example.com", first_name="Bob", last_name="Builder", department="Sales")
    make_person("E9", "gone@example.com", first_name="Gus", last_name="Gone")
    out, _ = run(write_csv(csv_bytes(*ORG)), "--dry-run")
    assert "Dry run: nothing was written." in out
    assert "new E1 (Alice Chief)" in out
    assert "changed E2 (Bob Builder): department: Sales → Engineering" in out
    assert "leaver E9 (Gus Gone)" in out
    assert "people that would be:" in out and "created:   2" in out and "leavers:   1" in out
    assert Person.objects.count() == 2
    assert Person.objects.get(employee_id="E9").status == PersonStatus.ACTIVE
    assert not AuditEntry.objects.exists() and not PeopleImport.objects.exists()


@pytest.mark.django_db
def test_partial_keeps_people_missing_from_the_file(write_csv):
    make_person("E9", "stays@example.com")
    out, _ = run(write_csv(csv_bytes(*ORG)), "--partial")
    assert "(partial)" in out and "leavers:   0" in out
    assert Person.objects.get(employee_id="E9").status == PersonStatus.ACTIVE


@pytest.mark.django_db
def test_full_import_marks_missing_people_as_leavers(write_csv):
    make_person("E9", "gone@example.com")
    run(write_csv(csv_bytes(*ORG)))
    assert Person.objects.get(employee_id="E9").status == PersonStatus.LEAVER


@pytest.mark.django_db
def test_map_names_the_file_columns():
    path = str(DATA / "hr_export_other_headers.csv")
    message, _ = run_failing(path)
    assert "The file has no column for employee_id (required). Name the file's column with --map" in message
    out, err = run(path, "--map", "employee_id=Staff No", "email=Work E-mail",
                   "--map", "first_name=Given name", "last_name=Surname", "manager_employee_id=Line manager")
    assert "created:   3" in out
    assert "Columns not imported: Team, Cost centre" in err
    assert Person.objects.get(employee_id="1002").manager.employee_id == "1001"
    assert Person.objects.get(employee_id="1001").email == "zoe.ng@example.com"


@pytest.mark.django_db
@pytest.mark.parametrize(("args", "message"), [
    (["--map", "boss=Line manager"], "--map boss: not a Bastion column"),
    (["--map", "employee_id"], "--map wants COLUMN=HEADER"),
    (["--map", "employee_id=Nope"], "employee_id is mapped to “Nope”, which is not a column of the file"),
])
def test_bad_map_arguments_are_explained(args, message):
    text, _ = run_failing(str(DATA / "hr_export_other_headers.csv"), *args)
    assert message in text


@pytest.mark.django_db
@pytest.mark.parametrize(("rows", "message"), ROW_ERRORS)
def test_row_errors_are_printed_and_nothing_is_written(write_csv, rows, message):
    make_person("E99", "taken@example.com")
    text, err = run_failing(write_csv(csv_bytes(*rows)))
    assert message in err
    assert "Nothing was written." in text
    assert Person.objects.count() == 1
    assert not AuditEntry.objects.exists() and not PeopleImport.objects.exists()


@pytest.mark.django_db
def test_every_error_is_printed(write_csv):
    rows = [f"E{i},bad{i}@,A,B,,,,,,," for i in range(250)]
    text, err = run_failing(write_csv(csv_bytes(*rows)))
    assert "250 errors in people.csv. Nothing was written." in text
    assert err.count("is not a valid email address") == 250


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "message"), [
    ("employee_id,email\nE1,zoë@example.com\n".encode("cp1252"), "The file is not UTF-8 text: byte 0xEB on line 2"),
    (b"\x00\x01binary", "The file is not UTF-8 text: it contains binary data"),
    (b"", "The file is empty."),
    (HEADER.encode() + b"\n", "The file has a header but no rows of people."),
])
def test_unreadable_files_write_nothing(write_csv, data, message):
    text, _ = run_failing(write_csv(data))
    assert message in text and "Nothing was written." in text
    assert not Person.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_missing_file_is_explained(tmp_path):
    text, _ = run_failing(str(tmp_path / "nope.csv"))
    assert "Cannot read" in text and "No such file" in text


@pytest.mark.django_db
def test_bom_file_works(write_csv):
    run(write_csv(csv_bytes(*ORG, bom=True)))
    assert Person.objects.count() == 3


@pytest.mark.django_db
def test_the_bastion_command_spells_it_import_people(write_csv, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["bastion", "import-people", write_csv(csv_bytes(*ORG)), "--dry-run"])
    # A real command run closes the database connections when done; the test still needs its own.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    main()
    assert "Dry run: nothing was written." in capsys.readouterr().out
    assert not Person.objects.exists()


@pytest.mark.django_db
def test_long_management_chains_are_linked_whatever_the_file_order(write_csv):
    # Each person manages the one before them in the file: deeper than the importer's levels.
    rows = [f"E{i},p{i}@example.com,P,{i},,,{f'E{i + 1}' if i < 59 else ''},,,," for i in range(60)]
    run(write_csv(csv_bytes(*rows)))
    managers = dict(Person.objects.values_list("employee_id", "manager__employee_id"))
    assert managers == {f"E{i}": (f"E{i + 1}" if i < 59 else None) for i in range(60)}


@pytest.mark.django_db
def test_existing_people_can_move_under_a_new_manager(write_csv):
    boss = make_person("E1", "alice.ceo@example.com")
    make_person("E2", "bob@example.com", first_name="Bob", last_name="Builder", manager=boss)
    rows = ["E1,alice.ceo@example.com,Alice,Chief,,,,,,,", "E2,bob@example.com,Bob,Builder,,,E5,,,,",
            "E5,new.boss@example.com,Nia,Boss,,,E1,,,,"]
    out, _ = run(write_csv(csv_bytes(*rows)), "--partial")
    assert "created:   1" in out and "changed:   2" in out
    managers = dict(Person.objects.values_list("employee_id", "manager__employee_id"))
    assert managers == {"E1": None, "E2": "E5", "E5": "E1"}
