"""HR CSV import through the pages: upload, column mapping, dry-run preview, apply, access."""

import re
from datetime import date, timedelta
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.chain import verify
from bastion.audit.models import AuditEntry
from bastion.people.models import ImportStatus, PeopleImport, Person, PersonStatus

HEADER = "employee_id,email,first_name,last_name,department,title,manager_employee_id,country,language,hire_date,leave_date"
TODAY = timezone.localdate()

# A small organisation whose CEO comes last, after the people reporting to her.
ORG = [
    "E2,bob@example.com,Bob,Builder,Engineering,Engineer,E1,GB,en,2021-03-01,",
    "E3,carol@example.com,Carol,Jones,Sales,Account manager,E2,DE,de,2022-07-15,",
    "E1,alice.ceo@example.com,Alice,Chief,Board,CEO,,GB,en,2019-01-01,",
]


def csv_bytes(*rows: str, header: str = HEADER, bom: bool = False) -> bytes:
    text = "\n".join([header, *rows]) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def upload(client, data: bytes, *, full: bool = True, name: str = "people.csv", follow: bool = True):
    form: dict[str, object] = {"file": SimpleUploadedFile(name, data, content_type="text/csv")}
    if full:
        form["full"] = "on"
    return client.post("/people/import/", form, follow=follow)


def apply(client, response):
    """Press “Apply import” on the preview page `response` is showing."""
    url = response.redirect_chain[-1][0]
    return client.post(url, {"action": "apply"}, follow=True)


def page_text(response) -> str:
    """The visible text of a page, tags removed and whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def make_person(employee_id: str, email: str, **fields) -> Person:
    fields.setdefault("first_name", employee_id)
    fields.setdefault("last_name", "Existing")
    return Person.objects.create(employee_id=employee_id, email=email, **fields)


@pytest.fixture
def lead_client(client_for, lead):
    return client_for(lead)


def assert_nothing_written(people_before: int) -> None:
    assert Person.objects.count() == people_before
    assert not AuditEntry.objects.filter(action="people.imported").exists()


# --- The happy path ---------------------------------------------------------------------


def test_upload_preview_apply_creates_people_with_managers(lead_client, lead):
    response = upload(lead_client, csv_bytes(*ORG))
    assert response.status_code == 200
    text = page_text(response)
    assert "nothing has changed yet" in text
    assert "3 new" in text and "0 changed" in text and "0 marked as leavers" in text
    assert "E3 Carol Jones carol@example.com Sales" in text
    assert Person.objects.count() == 0, "a preview writes nothing"
    assert not AuditEntry.objects.exists()

    response = apply(lead_client, response)
    assert response.status_code == 200
    text = page_text(response)
    assert "Import applied: 3 created, 0 changed, 0 marked as leavers, 0 unchanged." in text
    assert 'href="/people/"' in response.content.decode()

    people = {p.employee_id: p for p in Person.objects.select_related("manager")}
    assert people["E1"].manager is None
    assert people["E2"].manager.employee_id == "E1"  # a manager later in the file
    assert people["E3"].manager.employee_id == "E2"
    assert people["E3"].country == "DE" and people["E3"].hire_date == date(2022, 7, 15)
    assert all(p.status == PersonStatus.ACTIVE for p in people.values())

    imp = PeopleImport.objects.get()
    assert imp.status == ImportStatus.APPLIED and imp.uploaded_by == lead
    entry = AuditEntry.objects.get(action="people.imported")
    assert entry.actor == lead
    assert entry.after["created"] == 3 and entry.after["filename"] == "people.csv"
    assert verify().ok


def test_reimporting_the_same_file_changes_nothing(lead_client):
    apply(lead_client, upload(lead_client, csv_bytes(*ORG)))
    stamps = dict(Person.objects.values_list("employee_id", "updated_at"))

    response = upload(lead_client, csv_bytes(*ORG))
    assert "0 new 0 changed 0 marked as leavers 3 unchanged" in page_text(response)
    response = apply(lead_client, response)
    assert "0 created, 0 changed, 0 marked as leavers, 3 unchanged" in page_text(response)
    assert dict(Person.objects.values_list("employee_id", "updated_at")) == stamps
    # One entry per import, none per person.
    assert AuditEntry.objects.filter(action="people.imported").count() == 2
    assert AuditEntry.objects.count() == 2


def test_preview_lists_new_changed_and_leavers_then_apply(lead_client):
    boss = make_person("E1", "alice.ceo@example.com", first_name="Alice", last_name="Chief",
                       department="Board", title="CEO", country="GB", language="en",
                       hire_date=date(2019, 1, 1))
    make_person("E2", "bob@example.com", first_name="Bob", last_name="Builder", department="Engineering",
                title="Engineer", manager=boss, country="GB", language="en", hire_date=date(2021, 3, 1))
    make_person("E9", "gone@example.com", first_name="Gus", last_name="Gone")
    rows = [
        "E1,alice.ceo@example.com,Alice,Chief,Board,CEO,,GB,en,2019-01-01,",
        "E2,bob@example.com,Bob,Builder,Platform,Staff engineer,E1,GB,en,2021-03-01,",
        "E3,carol@example.com,Carol,Jones,Sales,Account manager,E2,DE,de,2022-07-15,",
    ]
    response = upload(lead_client, csv_bytes(*rows))
    text = page_text(response)
    assert "1 new 1 changed 1 marked as leavers 1 unchanged" in text
    assert "department: Engineering → Platform" in text
    assert "title: Engineer → Staff engineer" in text
    assert "E9 Gus Gone" in text
    assert Person.objects.get(employee_id="E9").status == PersonStatus.ACTIVE

    apply(lead_client, response)
    gone = Person.objects.get(employee_id="E9")
    assert gone.status == PersonStatus.LEAVER and gone.leave_date == TODAY
    assert Person.objects.get(employee_id="E2").department == "Platform"
    assert Person.objects.get(employee_id="E3").manager.employee_id == "E2"
    result = PeopleImport.objects.get().summary["result"]
    assert result["changed"] == [{"employee_id": "E2", "name": "Bob Builder", "fields": [
        ["department", "Engineering", "Platform"], ["title", "Engineer", "Staff engineer"]]}]


def test_full_import_marks_missing_people_as_leavers_and_never_deletes(lead_client):
    make_person("E8", "old@example.com", leave_date=date(2020, 5, 1), status=PersonStatus.LEAVER)
    make_person("E9", "gone@example.com", leave_date=TODAY + timedelta(days=30))
    apply(lead_client, upload(lead_client, csv_bytes(*ORG)))
    assert Person.objects.count() == 5
    gone = Person.objects.get(employee_id="E9")
    assert gone.status == PersonStatus.LEAVER
    assert gone.leave_date == TODAY + timedelta(days=30), "a leave date already known is kept"
    old = Person.objects.get(employee_id="E8")
    assert old.leave_date == date(2020, 5, 1), "people already gone are not touched"


def test_partial_import_leaves_people_missing_from_the_file_alone(lead_client):
    make_person("E9", "stays@example.com")
    response = upload(lead_client, csv_bytes(*ORG), full=False)
    assert "A partial file" in page_text(response)
    apply(lead_client, response)
    assert Person.objects.get(employee_id="E9").status == PersonStatus.ACTIVE
    assert Person.objects.count() == 4


def test_partial_import_may_name_a_manager_already_in_the_directory(lead_client):
    make_person("E1", "alice.ceo@example.com")
    apply(lead_client, upload(lead_client, csv_bytes(ORG[0]), full=False))
    assert Person.objects.get(employee_id="E2").manager.employee_id == "E1"


def test_past_leave_date_makes_a_leaver_and_no_leave_date_rehires(lead_client):
    make_person("E1", "alice.ceo@example.com", first_name="Alice", last_name="Chief",
                leave_date=date(2024, 1, 31), status=PersonStatus.LEAVER)
    rows = [
        "E1,alice.ceo@example.com,Alice,Chief,,,,,,,",
        f"E2,bob@example.com,Bob,Builder,,,,,,2020-01-01,{TODAY.isoformat()}",
        f"E3,carol@example.com,Carol,Jones,,,,,,,{(TODAY + timedelta(days=10)).isoformat()}",
    ]
    response = upload(lead_client, csv_bytes(*rows))
    assert "status: leaver → active" in page_text(response)
    apply(lead_client, response)
    statuses = dict(Person.objects.values_list("employee_id", "status"))
    assert statuses == {"E1": "active", "E2": "leaver", "E3": "active"}
    assert Person.objects.get(employee_id="E1").leave_date is None


def test_people_can_swap_email_addresses(lead_client):
    make_person("E1", "a@example.com")
    make_person("E2", "b@example.com")
    rows = ["E1,b@example.com,One,Person,,,,,,,", "E2,a@example.com,Two,Person,,,,,,,"]
    apply(lead_client, upload(lead_client, csv_bytes(*rows)))
    assert dict(Person.objects.values_list("employee_id", "email")) == {"E1": "b@example.com", "E2": "a@example.com"}


def test_columns_not_in_the_file_are_left_as_they_are(lead_client):
    make_person("E1", "alice.ceo@example.com", first_name="Alice", last_name="Chief",
                department="Board", country="GB")
    response = upload(lead_client, csv_bytes("E1,alice.ceo@example.com,Alicia,Chief",
                                             header="employee_id,email,first_name,last_name"))
    text = page_text(response)
    assert "first_name: Alice → Alicia" in text and "department" not in text.split("Changes")[1]
    apply(lead_client, response)
    alice = Person.objects.get()
    assert (alice.first_name, alice.department, alice.country) == ("Alicia", "Board", "GB")


def test_a_file_with_a_bom_is_read(lead_client):
    apply(lead_client, upload(lead_client, csv_bytes(*ORG, bom=True)))
    assert sorted(Person.objects.values_list("employee_id", flat=True)) == ["E1", "E2", "E3"]


def test_semicolon_separated_export_is_read(lead_client):
    data = csv_bytes(*[r.replace(",", ";") for r in ORG], header=HEADER.replace(",", ";"))
    apply(lead_client, upload(lead_client, data))
    assert Person.objects.count() == 3


def test_apply_twice_applies_once(lead_client):
    response = upload(lead_client, csv_bytes(*ORG))
    apply(lead_client, response)
    again = lead_client.post(response.redirect_chain[-1][0], {"action": "apply"}, follow=True)
    assert "was applied already" in page_text(again)
    assert AuditEntry.objects.filter(action="people.imported").count() == 1


def test_discard_changes_nothing(lead_client):
    response = upload(lead_client, csv_bytes(*ORG))
    url = response.redirect_chain[-1][0]
    response = lead_client.post(url, {"action": "discard"}, follow=True)
    assert "discarded. Nothing was changed." in page_text(response)
    imp = PeopleImport.objects.get()
    assert imp.status == ImportStatus.DISCARDED and imp.content == ""
    assert AuditEntry.objects.filter(action="people.import_discarded", object_id=str(imp.pk)).count() == 1
    assert lead_client.post(url, {"action": "apply"}, follow=True).status_code == 200
    assert Person.objects.count() == 0


def test_apply_rechecks_the_directory(lead_client):
    response = upload(lead_client, csv_bytes(*ORG), full=False)
    # Someone else takes Carol's address between preview and apply.
    make_person("E77", "carol@example.com")
    response = apply(lead_client, response)
    text = page_text(response)
    assert "The directory has changed since the preview" in text
    assert "Row 3: email “carol@example.com” is already used by another person in the directory (employee id “E77”)" in text
    assert Person.objects.count() == 1
    assert PeopleImport.objects.get().status == ImportStatus.UPLOADED


# --- Column mapping ---------------------------------------------------------------------

OTHER_HEADER = "Staff No,Work E-mail,Given name,Surname,Team,Line manager,Cost centre"


def test_other_headers_go_through_the_mapping_step(lead_client):
    data = csv_bytes("100,Zoe@Example.com,Zoë,Ng,Ops,200,CC1", "200,yan@example.com,Yan,Li,Ops,,CC1",
                     header=OTHER_HEADER)
    response = upload(lead_client, data)
    assert response.status_code == 200
    assert "Match the file's columns" in page_text(response)
    url = response.redirect_chain[-1][0]
    response = lead_client.post(url, {
        "action": "map", "employee_id": "Staff No", "email": "Work E-mail", "first_name": "Given name",
        "last_name": "Surname", "department": "Team", "manager_employee_id": "Line manager",
    }, follow=True)
    assert "2 new" in page_text(response)
    apply(lead_client, response)
    zoe = Person.objects.get(employee_id="100")
    assert (zoe.email, zoe.first_name, zoe.manager.employee_id) == ("zoe@example.com", "Zoë", "200")
    assert PeopleImport.objects.get().mapping["email"] == "Work E-mail"


def test_mapping_is_prefilled_ignoring_case_and_spaces(lead_client):
    data = csv_bytes("E1,a@example.com,A,B,X", header="Employee ID,EMAIL,First Name,last name,Cost centre")
    response = upload(lead_client, data)
    html = response.content.decode()
    assert '<option value="Employee ID" selected>' in html
    assert '<option value="First Name" selected>' in html
    assert '<option value="last name" selected>' in html


def test_mapping_must_name_every_required_column_once(lead_client):
    response = upload(lead_client, csv_bytes("1,a@example.com,A,B", header="Staff No,Mail,Given,Family"))
    url = response.redirect_chain[-1][0]
    response = lead_client.post(url, {"action": "map", "employee_id": "Staff No", "first_name": "Given",
                                      "last_name": "Given"})
    assert response.status_code == 400
    text = page_text(response)
    assert "Choose the file's column for email; it is required." in text
    assert "“Given” is already chosen for First name." in text
    assert 'role="alert"' in response.content.decode()
    assert_nothing_written(0)


# --- Files that cannot be read ----------------------------------------------------------


@pytest.mark.parametrize(("data", "message"), [
    ("Zoë".encode("latin-1") + b",x\n", "The file is not UTF-8 text: byte 0xEB on line 1"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "The file is not UTF-8 text: it contains binary data"),
    (b"PK\x03\x04\x14\x00\x06\x00", "This is a spreadsheet workbook, not a CSV file"),
    (b"", "The submitted file is empty."),
    (b"\xef\xbb\xbf\n\n", "The file is empty."),
    (b",,,\nE1,a@example.com,A,B\n", "The first row must be a header"),
    (HEADER.encode() + b"\n", "The file has a header but no rows of people."),
    (b"email,Email\n", "The header has two columns named “Email” (columns 1 and 2)"),
])
def test_unreadable_files_get_one_clear_error(lead_client, data, message):
    response = upload(lead_client, data, follow=False)
    assert response.status_code == 400
    assert message in page_text(response)
    assert 'role="alert"' in response.content.decode()
    assert not PeopleImport.objects.exists()
    assert_nothing_written(0)


def test_oversized_upload_is_refused_naming_the_limit(lead_client, settings):
    settings.BASTION_MAX_UPLOAD_BYTES = 1024
    response = upload(lead_client, csv_bytes(*ORG * 20), follow=False)
    assert response.status_code == 400
    assert "the limit is 1.0 KB" in page_text(response)
    assert_nothing_written(0)


# --- Row errors -------------------------------------------------------------------------

ROW_ERRORS = [
    pytest.param(["E1,a@example.com,,Smith,,,,,,,"], "Row 2: first_name is empty (it is required)", id="missing-value"),
    pytest.param(["E1,a@example.com,A,B,,,,,,,", "E1,b@example.com,C,D,,,,,,,"],
                 "Row 3: employee id “E1” appears twice: on rows 2 and 3", id="duplicate-id"),
    pytest.param(["E1,a@example.com,A,B,,,,,,,", "E2,A@example.com,C,D,,,,,,,"],
                 "Row 3: email “a@example.com” appears twice: on rows 2 and 3", id="duplicate-email"),
    pytest.param(["E1,a@example.com,A,B,,,,,,,", "E2,bob@,Bob,D,,,,,,,"],
                 "Row 3: email “bob@” is not a valid email address", id="invalid-email"),
    pytest.param(["E1,taken@example.com,A,B,,,,,,,"],
                 "Row 2: email “taken@example.com” is already used by another person in the directory "
                 "(employee id “E99”)", id="email-of-someone-else"),
    pytest.param(["E1,a@example.com,A,B,,,E404,,,,"],
                 "Row 2: manager “E404” is not in the file (a full import must include every manager, "
                 "since everyone not in it becomes a leaver)", id="unknown-manager"),
    pytest.param(["E1,a@example.com,A,B,,,E99,,,,"],
                 "Row 2: manager “E99” is not in the file", id="manager-only-in-directory"),
    pytest.param(["E1,a@example.com,A,B,,,E2,,,,", "E2,b@example.com,C,D,,,E3,,,,", "E3,c@example.com,E,F,,,E1,,,,"],
                 "Row 2: managers form a cycle: E1 → E2 → E3 → E1", id="manager-cycle"),
    pytest.param(["E1,a@example.com,A,B,,,E1,,,,"], "Row 2: employee “E1” is their own manager", id="self-manager"),
    pytest.param(["E1,a@example.com,A,B,,,,,,2024-02-30,"], "Row 2: hire_date “2024-02-30” is not a real date",
                 id="impossible-date"),
    pytest.param(["E1,a@example.com,A,B,,,,,,,01/02/2024"],
                 "Row 2: leave_date “01/02/2024” is not a date in the form YYYY-MM-DD", id="date-format"),
    pytest.param(["E1,a@example.com,A,B,,,,,,2021-01-01,2020-12-31"],
                 "Row 2: leave_date 2020-12-31 is before hire_date 2021-01-01", id="leave-before-hire"),
    pytest.param(["E1,a@example.com,A,B,,,,GBR,,,"],
                 "Row 2: country “GBR” is not a two-letter ISO country code (e.g. GB, DE)", id="country"),
    pytest.param(["E1,a@example.com," + "x" * 101 + ",B,,,,,,,"],
                 "Row 2: first_name is 101 characters long; the most allowed is 100", id="too-long"),
    pytest.param(["E1,a@example.com,A,B,,,,,,,,extra"],
                 "Row 2: has 12 values but the header names 11 columns", id="extra-values"),
]


@pytest.mark.parametrize(("rows", "message"), ROW_ERRORS)
def test_row_errors_name_the_row_and_nothing_is_written(lead_client, rows, message):
    make_person("E99", "taken@example.com")
    response = upload(lead_client, csv_bytes(*rows))
    text = page_text(response)
    assert "nothing will be imported" in text
    assert message in text
    assert 'role="alert"' in response.content.decode()
    assert "Apply import" not in text
    # Even a forced apply writes nothing.
    apply(lead_client, response)
    assert_nothing_written(1)
    assert Person.objects.get().status == PersonStatus.ACTIVE


def test_partial_import_with_a_manager_nowhere(lead_client):
    response = upload(lead_client, csv_bytes("E1,a@example.com,A,B,,,E404,,,,"), full=False)
    assert "Row 2: manager “E404” is neither in the file nor in the directory" in page_text(response)


def test_cycle_through_the_directory_is_found_in_a_partial_import(lead_client):
    top = make_person("E1", "a@example.com")
    make_person("E2", "b@example.com", manager=top)
    response = upload(lead_client, csv_bytes("E1,a@example.com,A,B,,,E2,,,,"), full=False)
    assert "Row 2: managers form a cycle: E1 → E2 → E1" in page_text(response)


def test_all_errors_are_collected_and_the_list_is_capped(lead_client):
    rows = [f"E{i},bad{i}@,A,B,,,,,,," for i in range(250)]
    response = upload(lead_client, csv_bytes(*rows))
    text = page_text(response)
    assert "250 errors: nothing will be imported" in text
    assert "The first 200 of 250 errors are shown." in text
    assert "Row 2: email “bad0@” is not a valid email address" in text
    assert "Row 252" not in text
    assert_nothing_written(0)


# --- Who may import ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_only_the_security_team_may_import(role, make_user, client_for, lead):
    imp = PeopleImport.objects.create(uploaded_by=lead, filename="x.csv", content=csv_bytes(*ORG).decode(),
                                      mapping={c: c for c in HEADER.split(",")})
    client = client_for(make_user(role))
    allowed = role in (Role.SECURITY_LEAD, Role.SECURITY_TEAM)
    expected = 200 if allowed else 403
    assert client.get("/people/import/").status_code == expected
    assert client.get(f"/people/import/{imp.pk}/").status_code == expected
    assert upload(client, csv_bytes(*ORG), follow=False).status_code == (302 if allowed else 403)
    response = client.post(f"/people/import/{imp.pk}/", {"action": "apply"})
    assert response.status_code == (302 if allowed else 403)
    assert Person.objects.count() == (3 if allowed else 0)


def test_anonymous_visitors_are_sent_to_sign_in(client_for, lead):
    imp = PeopleImport.objects.create(uploaded_by=lead, filename="x.csv", content="a\n")
    client = client_for(None)
    for url in ("/people/import/", f"/people/import/{imp.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    response = client.post(f"/people/import/{imp.pk}/", {"action": "apply"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_unknown_import_is_not_found(lead_client):
    assert lead_client.get("/people/import/999999/").status_code == 404


def test_import_pages_have_no_inline_script_or_style(lead_client):
    response = upload(lead_client, csv_bytes(*ORG))
    for html in (lead_client.get("/people/import/").content.decode(), response.content.decode()):
        assert "<script>" not in html and "style=" not in html and "<style" not in html
        assert "<caption" in html or "<label" in html
