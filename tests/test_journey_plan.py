"""The incident response plan in a real browser (Debian's Chromium via Playwright): the lead edits
a playbook step of the starter plan and submits it; the two approvers follow their emailed links,
sign in and approve; the plan is published; a reader acknowledges it through the link in their
email, without signing in."""

import re

import pytest
from playwright.sync_api import Page, expect

from bastion.accounts.models import Role
from bastion.people.models import Person
from bastion.response import actions
from bastion.response.models import Acknowledgement, VersionStatus
from conftest import PASSWORD
from tests.browser import browser_page  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_TITLE = "Isolate affected machines from the network"


def _person(first: str, last: str, email: str, n: int) -> Person:
    return Person.objects.create(employee_id=f"J{n:04d}", email=email, first_name=first, last_name=last)


def _link(message, pattern: str) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"https?://\S+" + pattern, body)
    assert match, body
    return match.group(0)


def _fresh_page(page: Page) -> Page:
    browser = page.context.browser
    assert browser is not None
    return browser.new_context().new_page()


def _sign_in(page: Page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_lead_edits_approvers_approve_reader_acknowledges(
        live_server, browser_page, settings, lead, make_user, no_mfa_policy, smtp_server, run_tasks):  # noqa: F811
    settings.BASE_URL = live_server.url  # the emailed links point at this server
    ceo = make_user(Role.EXECUTIVE, email="carla@example.com", full_name="Carla Chief",
                    person=_person("Carla", "Chief", "carla@example.com", 1))
    counsel = make_user(Role.EXECUTIVE, email="gina@example.com", full_name="Gina Counsel",
                        person=_person("Gina", "Counsel", "gina@example.com", 2))
    make_user(Role.EMPLOYEE, email="emma@example.com", person=_person("Emma", "Employee", "emma@example.com", 3))
    plan = actions.install_starter_plan(acting_user=lead)
    actions.do_update_plan_settings(acting_user=lead, plan=plan, approvers=[ceo, counsel], reader_roles=["employee"])
    kind = plan.versions.get().content["incident_types"][0]
    page = browser_page

    # The lead signs in and goes from the menu to the draft's first playbook.
    page.goto(f"{live_server.url}/")
    _sign_in(page, lead.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Response plan").click()
    expect(page.get_by_role("heading", name="Working on the plan")).to_be_visible()
    page.get_by_role("link", name="Edit draft").click()
    page.get_by_role("link", name=re.compile("Incident types and playbooks")).click()
    page.get_by_role("link", name=kind["name"], exact=True).click()
    page.get_by_role("link", name=f"Edit {kind['playbook'][0]['title']}").click()
    page.get_by_label(re.compile("^Title")).fill(NEW_TITLE)
    page.get_by_label(re.compile("^Expected minutes")).fill("45")
    page.get_by_role("button", name="Save step").click()
    expect(page.get_by_role("status")).to_contain_text(f"Step “{NEW_TITLE}” saved")
    expect(page.get_by_role("cell", name=NEW_TITLE, exact=True)).to_be_visible()

    # Back on the plan, the lead submits the draft: each approver is emailed.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Response plan").click()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1 is submitted")
    run_tasks()
    links = {m["To"]: _link(m, r"/plan/versions/1/") for m in smtp_server.messages}
    assert sorted(links) == ["carla@example.com", "gina@example.com"]

    # Each approver follows their link, signs in, reads the step and approves.
    for email in ("carla@example.com", "gina@example.com"):
        approver = _fresh_page(page)
        approver.goto(links[email])
        _sign_in(approver, email)
        expect(approver.get_by_role("heading", name="Your decision")).to_be_visible()
        expect(approver.get_by_text(NEW_TITLE)).to_be_visible()
        approver.get_by_label(re.compile("^Decision")).select_option("approved")
        approver.get_by_role("button", name="Record my decision").click()
        expect(approver.get_by_role("status")).to_contain_text("Approved")
        last = approver
    expect(last.get_by_role("status")).to_contain_text("version 1 is published and in force")
    version = plan.versions.get()
    assert version.status == VersionStatus.PUBLISHED

    # The reader is asked by email and acknowledges through the link, not signed in.
    smtp_server.messages.clear()
    run_tasks()
    asked = {m["To"]: m for m in smtp_server.messages}
    assert "emma@example.com" in asked
    reader = _fresh_page(page)
    reader.goto(_link(asked["emma@example.com"], r"/plan/acknowledge/\S+/"))
    expect(reader.get_by_text("For Emma Employee")).to_be_visible()
    expect(reader.get_by_text(NEW_TITLE)).to_be_visible()
    reader.get_by_role("button", name="I have read and will follow this plan").first.click()
    expect(reader.get_by_role("status")).to_contain_text("Thank you, Emma: you have acknowledged version 1")
    assert Acknowledgement.objects.filter(version=version, person__email="emma@example.com").count() == 1
    assert page.console_errors == []  # type: ignore[attr-defined]
