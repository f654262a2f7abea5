"""A security lead's first HR import, in a real browser (Debian's Chromium via Playwright)."""

import re

import pytest
from django.core.management import call_command

from bastion.demo.management.commands.demo import DEMO_PASSWORD
from bastion.people.models import Person
from tests.browser import browser_page  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "employee_id,email,first_name,last_name,department,title,manager_employee_id,country,language,hire_date,leave_date\n"
GOOD_ROW = "N900001,zara.quinn@northwind.example,Zara,Quinn,Sales,Account Executive,E000001,GB,en,2026-11-02,\n"
BAD_ROW = "N900002,not-an-email,Yves,Roux,Sales,Account Executive,E000001,FR,fr,2026-13-40,\n"


def test_lead_imports_a_file_fixes_a_bad_row_and_finds_the_new_person(live_server, browser_page, tmp_path):  # noqa: F811
    call_command("demo")
    page = browser_page
    bad = tmp_path / "hr-export.csv"
    bad.write_text(HEADER + GOOD_ROW + BAD_ROW, encoding="utf-8")
    fixed = tmp_path / "hr-export-fixed.csv"
    fixed.write_text(HEADER + GOOD_ROW + BAD_ROW.replace("not-an-email", "yves.roux@northwind.example").replace("2026-13-40", "2026-11-03"), encoding="utf-8")

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.get_by_label("Email").fill("alice.laurent@northwind.example")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=re.compile("Welcome")).wait_for()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    page.get_by_role("link", name=re.compile("Import HR file")).click()

    # A partial file: the demo's 300 people are not in it and must not become leavers.
    page.get_by_label("HR file (CSV, UTF-8)").set_input_files(str(bad))
    page.get_by_label("This file is the full list of current employees").uncheck()
    page.get_by_role("button", name="Upload and preview").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    text = alert.inner_text()
    assert "nothing will be imported" in text
    assert "Row 3" in text and "not-an-email" in text
    assert "Row 3" in text and "2026-13-40" in text
    assert "Row 2" not in text
    assert not Person.objects.filter(employee_id__in=["N900001", "N900002"]).exists()

    page.get_by_role("link", name="upload it again").click()
    page.get_by_label("HR file (CSV, UTF-8)").set_input_files(str(fixed))
    page.get_by_label("This file is the full list of current employees").uncheck()
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_role("button", name="Apply import").click()
    page.get_by_role("link", name="Go to the people list").click()

    page.get_by_role("searchbox").fill("Zara Quinn")
    page.get_by_role("searchbox").press("Enter")
    page.get_by_role("link", name=re.compile("Zara Quinn|Quinn, Zara")).first.click()
    page.get_by_role("heading", name=re.compile("Zara Quinn")).wait_for()
    assert "zara.quinn@northwind.example" in page.content()
    assert Person.objects.get(employee_id="N900002").email == "yves.roux@northwind.example"
    assert Person.objects.filter(status="active").count() == Person.objects.exclude(status="leaver").count()
    assert page.console_errors == []  # no CSP violations or script errors on the way
