"""An incident in a real browser (Debian's Chromium via Playwright): the security lead declares a
ransomware incident (finding its affected systems with the search box), skips a required playbook
step with the full explanation of the deviation, names a scribe (the team's form, by htmx), flags
corporate liability and records the chief executive's notification as done."""

import re

import pytest
from playwright.sync_api import Page, expect

from bastion.accounts.models import Role
from bastion.incidents.models import Deviation, Incident, NotificationDue
from bastion.people.models import Person
from bastion.response import actions as plan_actions
from bastion.systems.models import BusinessSystem
from conftest import PASSWORD
from tests.browser import browser_page  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPLANATION = ("The two affected laptops were already unplugged by the help desk before we were called, so "
               "network isolation through the EDR was moot; we confirmed both are offline instead.")


def _person(first: str, last: str, email: str, n: int) -> Person:
    return Person.objects.create(employee_id=f"K{n:04d}", email=email, first_name=first, last_name=last)


def _sign_in(page: Page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def plan_in_force(make_user):
    """The starter plan, approved by the CEO and the General Counsel; the lead has a directory record."""
    lead = make_user(Role.SECURITY_LEAD, email="lena@example.com", full_name="Lena Lead",
                     person=_person("Lena", "Lead", "lena@example.com", 1))
    ceo = make_user(Role.EXECUTIVE, email="carla@example.com", person=_person("Carla", "Chief", "carla@example.com", 2))
    counsel = make_user(Role.EXECUTIVE, email="gina@example.com",
                        person=_person("Gina", "Counsel", "gina@example.com", 3))
    plan = plan_actions.install_starter_plan(acting_user=lead)
    plan = plan_actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[ceo, counsel],
                                                reader_roles=["employee"])
    plan_actions.do_submit_for_review(acting_user=lead, plan=plan)
    version = plan.working_version()
    assert version is not None
    for approver in (ceo, counsel):
        plan_actions.do_decide(acting_user=approver, plan=plan, version_number=version.number,
                               content_hash=version.content_hash, decision="approved")
    return lead


def test_lead_declares_skips_a_step_and_records_a_notification(live_server, browser_page, plan_in_force,  # noqa: F811
                                                                no_mfa_policy):
    page = browser_page
    page.goto(f"{live_server.url}/")
    _sign_in(page, "lena@example.com")

    # Declare: a title, what is known, the type; detection time and reporter are filled in.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    page.get_by_role("link", name="Declare an incident").click()
    page.get_by_label(re.compile("^Title")).fill("Ransom note on two laptops")
    page.get_by_label(re.compile("^What is known")).fill("Two sales laptops show a ransom note; files encrypted.")
    page.get_by_label(re.compile("^Type")).select_option("ransomware")
    page.get_by_label("Personal", exact=True).check()
    # Affected systems: found by name among hundreds, ticked ones stay chosen across searches.
    BusinessSystem.objects.bulk_create([BusinessSystem(name=f"Store {n:03d}") for n in range(200)]
                                       + [BusinessSystem(name="Payroll"), BusinessSystem(name="ERP")])
    page.get_by_label("Find a system by name").fill("payr")
    page.get_by_label("Payroll").check()
    page.get_by_label("Find a system by name").fill("erp")
    expect(page.get_by_label("ERP")).to_be_visible()
    expect(page.get_by_label("Payroll")).to_be_checked()
    page.get_by_label("ERP").check()
    page.get_by_role("button", name="Declare").click()
    expect(page.get_by_role("status")).to_contain_text("is declared under plan version 1")
    incident = Incident.objects.get()
    assert incident.reported_by == "Lena Lead (lena@example.com)"
    assert sorted(incident.affected_systems.values_list("name", flat=True)) == ["ERP", "Payroll"]

    # Name a scribe: the team's region is replaced in place.
    page.get_by_text("Change the team").click()
    page.get_by_label(re.compile("^Scribe")).fill("gina@example.com")
    page.get_by_role("button", name="Save the team").click()
    expect(page.locator("#team")).to_contain_text("Team changed: scribe (none) → Gina Counsel (gina@example.com).")

    # Skip the first (required) step: the page asks for the deviation's full explanation.
    step = incident.steps.order_by("order").first()
    assert step is not None and step.required
    page.get_by_role("link", name=f"Skip: {step.title}").click()
    expect(page.get_by_text("This is a deviation from the plan")).to_be_visible()
    page.get_by_role("button", name="Skip the step").click()
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was saved")
    page.get_by_label(re.compile("^Full explanation")).fill(EXPLANATION)
    page.get_by_role("button", name="Skip the step").click()
    expect(page.get_by_role("status")).to_contain_text(f"“{step.title}”: skip")
    expect(page.get_by_text("Deviation (skipped)")).to_be_visible()

    # Flag corporate liability: General Counsel and CEO are due within the hour.
    page.get_by_text("Change facts, clocks and severity").click()
    page.get_by_label(re.compile("Corporate liability is possible")).check()
    page.get_by_role("button", name="Save facts").click()
    expect(page.get_by_role("status")).to_contain_text("Facts saved")
    assert sorted(incident.affected_systems.values_list("name", flat=True)) == ["ERP", "Payroll"]  # kept ticked
    expect(page.locator("#notifications")).to_contain_text(re.compile(r"due in (59|60) min"))

    # Record the CEO's notification as done (told by phone, so not sent from Bastion).
    page.get_by_role("link", name=re.compile(r"^Send or record: General Counsel and CEO.* to Chief executive")).click()
    expect(page.get_by_role("heading", name="Send by email from Bastion")).to_be_visible()
    page.get_by_label(re.compile("^Whom exactly")).fill("Carla Chief, by phone")
    page.get_by_label(re.compile("^What was said")).fill("Corporate liability is possible; call the commander now.")
    page.get_by_role("button", name="Record as done").click()
    expect(page.get_by_role("status")).to_contain_text("recorded as done")
    expect(page.locator("#notifications")).to_contain_text("told Carla Chief, by phone")

    done = NotificationDue.objects.get(incident=incident, rule_key="internal-liability", recipient_key="role:ceo")
    assert done.status == "done" and done.notified_by is not None and done.notified_by.email == "lena@example.com"
    assert Deviation.objects.get().explanation == EXPLANATION
    # The one refused form (the skip without its explanation) is answered 400, which Chromium logs.
    assert page.console_errors == [  # type: ignore[attr-defined]
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"]
