"""Importing the register from a CSV file: preview, row errors, all-or-nothing, re-import, CLI."""

import io

import pytest
from django.core.management import CommandError, call_command

from bastion.audit.models import AuditEntry
from bastion.systems.models import BusinessSystem

from .helpers import D, add_person, add_system

HEADER = ("name,description,owner_email,business_processes,data_classification,personal_data,health_data,"
          "card_data,financial_reporting,users_count,hosting,hosting_detail,depends_on,rto_hours,rpo_hours,"
          "mtd_hours,security_spend\n")
GOOD = HEADER + (
    "ERP,Core,cfo@example.com,Order to cash;Procure to pay,restricted,yes,no,no,TRUE,450,private_cloud,"
    "T-Systems,Okta;Data warehouse,8,1,24,15000\n"
    "Data warehouse,,,Reporting,Confidential,0,0,0,1,60,Public cloud (IaaS/PaaS),,,48,24,168,\n"
    'Payment gateway,"Cards, refunds",,Card payments,restricted,true,false,1,0,,saas,Adyen,,1,0,4,2000.50\n'
)


def upload(client, text: str | bytes, name: str = "systems.csv"):
    data = text.encode() if isinstance(text, str) else text
    f = io.BytesIO(data)
    f.name = name
    return client.post("/systems/import/", {"file": f})


def apply(client, text: str, name: str = "systems.csv"):
    return client.post("/systems/import/", {"action": "apply", "content": text, "filename": name}, follow=True)


@pytest.fixture
def lead_client(client_for, lead):
    add_person(email="cfo@example.com")
    add_system("Okta")
    return client_for(lead)


def test_preview_then_apply_then_reimport_changes_nothing(lead_client):
    response = upload(lead_client, b"\xef\xbb\xbf" + GOOD.encode())  # with a BOM, as Excel writes it
    page = response.content.decode()
    assert response.status_code == 200 and "nothing has changed yet" in page
    assert "Payment gateway" in page and 'name="content"' in page
    assert BusinessSystem.objects.count() == 1  # a preview writes nothing

    page = apply(lead_client, GOOD).content.decode()
    assert "3 created, 0 changed, 0 unchanged" in page
    erp = BusinessSystem.objects.get(name="ERP")
    assert erp.owner.email == "cfo@example.com" and erp.personal_data and erp.financial_reporting
    assert erp.business_processes == "Order to cash\nProcure to pay" and erp.mtd_hours == D(24)
    assert sorted(erp.dependencies.values_list("name", flat=True)) == ["Data warehouse", "Okta"]
    dwh = BusinessSystem.objects.get(name="Data warehouse")
    assert dwh.hosting == "public_cloud" and dwh.data_classification == "confidential" and dwh.security_spend is None
    assert BusinessSystem.objects.get(name="Payment gateway").security_spend == D("2000.50")
    entry = AuditEntry.objects.get(action="systems.imported")
    assert entry.after["created"] == 3 and entry.after["filename"] == "systems.csv"

    again = upload(lead_client, GOOD).content.decode()
    assert '<span class="num">0</span> new' in again and '<span class="num">3</span> unchanged' in again
    assert "0 created, 0 changed, 3 unchanged" in apply(lead_client, GOOD).content.decode()
    assert BusinessSystem.objects.count() == 4


def test_changes_are_previewed_and_columns_left_out_are_kept(lead_client):
    apply(lead_client, GOOD)
    partial = "name,security_spend,depends_on\nerp,20000,Okta\n"
    page = upload(lead_client, partial).content.decode()
    assert "Changed systems" in page and "security spend" in page and "15000.00" in page and "20000.00" in page
    apply(lead_client, partial)
    erp = BusinessSystem.objects.get(name="erp")  # the file's spelling of the name wins
    assert erp.security_spend == D(20000) and erp.users_count == 450 and erp.owner is not None
    assert list(erp.dependencies.values_list("name", flat=True)) == ["Okta"]


def test_row_errors_name_the_row_and_nothing_is_written(lead_client):
    bad = HEADER + (
        "ERP,,ghost@example.com,,restricted,yes,no,no,no,,saas,,Nothing here,8,1,24,100\n"
        "WMS,,,,top-secret,maybe,no,no,no,-4,moon,,WMS,-1,x,24,-10\n"
        "Okay system,,,,,,,,,,,,,,,,\n"
        "erp,,,,,,,,,,,,,,,,\n"
    )
    response = upload(lead_client, bad)
    assert response.status_code == 400
    page = response.content.decode()
    for message in (
        "Row 2: ERP: No person in the directory has the email address ghost@example.com.",
        "Row 2: ERP depends on Nothing here, which is neither in the file nor in the register.",
        "Row 3: WMS: data_classification &#x27;top-secret&#x27; is not one of",
        "Row 3: WMS: personal_data &#x27;maybe&#x27; must be yes or no",
        "Row 3: WMS: users_count &#x27;-4&#x27; must be a whole number",
        "Row 3: WMS: hosting &#x27;moon&#x27;",
        "Row 3: WMS: rto_hours cannot be negative (-1).",
        "Row 3: WMS: rpo_hours &#x27;x&#x27; is not a number",
        "Row 3: WMS: security_spend cannot be negative",
        "Row 3: WMS cannot depend on itself.",
        "Row 5: erp is already in the file on row 2.",
    ):
        assert message in page, message
    assert 'role="alert"' in page and 'name="content"' not in page
    # Applying the same text anyway (a forged or stale form) writes nothing either.
    assert "Nothing was imported" in apply(lead_client, bad).content.decode()
    assert BusinessSystem.objects.count() == 1 and not AuditEntry.objects.filter(action="systems.imported").exists()


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The submitted file is empty."),
    (b"PK\x03\x04rest", "spreadsheet workbook"),
    (b"name;owner\nERP;x\n", "Unknown column “owner”"),
    (b"description\nx\n", "at least “name”"),
    (b"name\n", "no rows of systems"),
    ("name\nCaf\xe9\n".encode("latin-1"), "not UTF-8"),
])
def test_unusable_files_are_refused(lead_client, data, message):
    response = upload(lead_client, data)
    assert response.status_code == 400 and message in response.content.decode()


def test_command_line_import(lead_client, tmp_path, capsys):
    path = tmp_path / "systems.csv"
    path.write_text(GOOD, encoding="utf-8-sig")
    call_command("import_systems", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "Dry run" in out and "new ERP" in out and "3 created" in out
    assert BusinessSystem.objects.count() == 1
    call_command("import_systems", str(path))
    assert BusinessSystem.objects.count() == 4
    assert AuditEntry.objects.get(action="systems.imported").actor_label == "cli"

    path.write_text("name,rto_hours\nERP,-2\n")
    with pytest.raises(CommandError, match="1 error in systems.csv. Nothing was written."):
        call_command("import_systems", str(path))
    assert "Row 2: ERP: rto_hours cannot be negative" in capsys.readouterr().err
