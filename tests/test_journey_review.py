"""A criticality review in a real browser (Debian's Chromium via Playwright): the lead creates and
opens it, two leaders answer through the links in their emails (a third only saves a draft), the
lead closes it and reads the ranking and the biggest disagreement."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from bastion.systems.tests.helpers import add_person, add_system
from conftest import PASSWORD
from tests.browser import browser_page  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = "2026 criticality review"
CFO, COO, HR = "cfo@example.com", "coo@example.com", "hr@example.com"


def _link_from(message) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"https?://\S+/systems/reviews/answer/\S+/", body)
    assert match, body
    return match.group(0)


def _rate(page: Page, system: str, impact: int) -> None:
    """Give every impact dimension of `system` the same value, whatever dimensions the review has."""
    selects = page.get_by_role("group", name=system, exact=True).get_by_role("combobox")
    assert selects.count() >= 1
    for select in selects.all():
        select.select_option(str(impact))


def _leader_page(page: Page) -> Page:
    """A fresh browser context: the leader is not signed in, the link is the key."""
    browser = page.context.browser
    assert browser is not None
    leader = browser.new_context().new_page()
    errors: list[str] = []
    leader.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    leader.console_errors = errors  # type: ignore[attr-defined]
    return leader


def test_lead_runs_a_review_that_two_leaders_answer_by_email(
        live_server, browser_page, settings, lead, no_mfa_policy, smtp_server, run_tasks):  # noqa: F811
    settings.BASE_URL = live_server.url  # the emailed links point at this server
    add_person(email=CFO, first_name="Carla", last_name="Finance")
    add_person(email=COO, first_name="Oscar", last_name="Operations")
    add_person(email=HR, first_name="Hana", last_name="Resources")  # saves a draft, never submits
    idp = add_system("Identity provider", rto_hours=48)
    add_system("ERP", depends_on=[idp], rto_hours=4)
    add_system("Wiki")
    add_system("Old fax", status="retired")
    deadline = timezone.localdate() + timedelta(days=14)
    page = browser_page

    # The lead signs in.
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.get_by_label("Email").fill(lead.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=re.compile("Welcome")).wait_for()

    # From the menu to the reviews.
    page.get_by_role("navigation").get_by_role("link", name="Criticality reviews").click()
    expect(page.get_by_role("heading", name="Criticality reviews")).to_be_visible()
    page.get_by_role("link", name="Start a review").click()
    expect(page.get_by_role("heading", name="Start a criticality review")).to_be_visible()
    page.get_by_label(re.compile(r"^Title")).fill(TITLE)
    page.get_by_label(re.compile(r"^Deadline")).fill(deadline.isoformat())
    page.get_by_label("All systems in use").check()
    page.get_by_label(re.compile(r"^Leaders to invite")).fill(f"{CFO}\n{COO}\n{HR}\n")
    page.get_by_role("button", name="Create review").click()

    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Review created")
    expect(page.get_by_text("ERP, Identity provider, Wiki", exact=True)).to_be_visible()
    assert "Old fax" not in page.get_by_role("main").inner_text()  # retired: not in use
    who = page.get_by_role("table", name="Who has answered")
    expect(who.get_by_role("row", name=re.compile("Carla Finance"))).to_contain_text("Invited")
    expect(who.get_by_role("row", name=re.compile("Oscar Operations"))).to_contain_text("Invited")
    expect(who.get_by_role("row", name=re.compile("Hana Resources"))).to_contain_text("Invited")

    page.get_by_role("button", name="Open and send invitations").click()
    expect(page.get_by_role("status")).to_contain_text("3 invitation(s) are on their way")
    expect(page.get_by_role("button", name="Close review")).to_be_visible()

    # The worker sends the invitations through the SMTP server; the links come from the emails.
    run_tasks()
    assert sorted(m["To"] for m in smtp_server.messages) == [CFO, COO, HR]
    for message in smtp_server.messages:
        # Folded after "Subject:" (the line is long), so the parsed value starts with a space.
        assert message["Subject"].strip().startswith(f"Criticality review: {TITLE} (answer by")
    links = {m["To"]: _link_from(m) for m in smtp_server.messages}
    assert len(set(links.values())) == 3
    assert all(link.startswith(live_server.url) for link in links.values())

    # The CFO opens the link, rates some systems and saves a draft, then finishes and submits.
    cfo = _leader_page(page)
    cfo.goto(links[CFO])
    expect(cfo.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(cfo.get_by_text("Answering as Carla Finance")).to_be_visible()
    assert "/login/" not in cfo.url
    _rate(cfo, "ERP", 5)
    _rate(cfo, "Identity provider", 2)
    cfo.get_by_role("button", name="Save draft").click()
    expect(cfo.get_by_role("status")).to_have_text("Draft saved.")
    erp_selects = cfo.get_by_role("group", name="ERP", exact=True).get_by_role("combobox")
    expect(erp_selects.first).to_have_value("5")  # the draft came back
    _rate(cfo, "Wiki", 1)
    cfo.get_by_label("Tolerable downtime of ERP (hours)").fill("2")
    cfo.get_by_role("button", name="Submit").click()
    expect(cfo.get_by_role("status")).to_have_text("Thank you, your answers are submitted.")
    expect(cfo.get_by_text("Your answers were submitted")).to_be_visible()
    expect(cfo.get_by_role("button", name="Submit")).to_have_count(0)
    expect(erp_selects.first).to_be_disabled()

    # The COO agrees on the identity provider but thinks much less of the ERP.
    coo = _leader_page(page)
    coo.goto(links[COO])
    expect(coo.get_by_text("Answering as Oscar Operations")).to_be_visible()
    _rate(coo, "ERP", 2)
    _rate(coo, "Identity provider", 2)
    coo.get_by_role("button", name="Save draft").click()
    expect(coo.get_by_role("status")).to_have_text("Draft saved.")
    _rate(coo, "Wiki", 2)
    coo.get_by_role("button", name="Submit").click()
    expect(coo.get_by_role("status")).to_have_text("Thank you, your answers are submitted.")

    # HR starts, rates the ERP low in a draft, and never submits: a draft does not count.
    hr = _leader_page(page)
    hr.goto(links[HR])
    _rate(hr, "ERP", 1)
    hr.get_by_role("button", name="Save draft").click()
    expect(hr.get_by_role("status")).to_have_text("Draft saved.")

    # The lead sees that both leaders have answered (and HR not yet), and closes the review.
    page.reload()
    expect(who.get_by_role("row", name=re.compile("Hana Resources"))).to_contain_text("Draft saved")
    expect(who.get_by_role("row", name=re.compile("Hana Resources"))).not_to_contain_text("Submitted")
    expect(who.get_by_role("row", name=re.compile("Carla Finance"))).to_contain_text("Submitted")
    expect(who.get_by_role("row", name=re.compile("Oscar Operations"))).to_contain_text("Submitted")
    page.get_by_role("button", name="Close review").click()
    expect(page.get_by_role("heading", name=f"Results: {TITLE}")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Review closed")

    # Ranking: ERP 3.5 (tier 2), identity provider 2.0 (raised to tier 2: ERP depends on it), wiki 1.5.
    ranking = page.get_by_role("table", name="Ranking, most critical first")
    rows = ranking.locator("tbody").get_by_role("row")
    expect(rows).to_have_count(3)
    assert [row.get_by_role("link").inner_text() for row in rows.all()] == ["ERP", "Identity provider", "Wiki"]
    assert [row.get_by_role("cell").first.inner_text() for row in rows.all()] == ["1", "2", "3"]
    expect(rows.nth(0)).to_contain_text("3.50")
    expect(rows.nth(0)).to_contain_text("RTO longer than the 2 h tolerated")
    expect(rows.nth(1)).to_contain_text("Raised to tier 2 because ERP (tier 2) depends on it")

    # The biggest disagreement comes first: the ERP, 3 points apart; the wiki, 1 point; not the IdP.
    conversations = (page.get_by_role("heading", name="Conversations to have")
                     .locator("xpath=following-sibling::ol[1]").get_by_role("listitem"))
    expect(conversations).to_have_count(2)
    expect(conversations.nth(0)).to_contain_text("ERP: the leaders' scores are 3.00 apart (2 raters)")
    expect(conversations.nth(1)).to_contain_text("Wiki: the leaders' scores are 1.00 apart")

    # After the close, a used link still works: the CFO's answers, read-only; nothing to send.
    response = cfo.goto(links[CFO])
    assert response is not None and response.status == 200
    expect(cfo.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(cfo.get_by_text("Your answers were submitted")).to_be_visible()
    expect(cfo.get_by_role("button", name="Submit")).to_have_count(0)
    expect(cfo.get_by_role("button", name="Save draft")).to_have_count(0)

    # HR's link, used for a draft, now says the review is closed.
    response = hr.goto(links[HR])
    assert response is not None and response.status == 410
    expect(hr.get_by_role("alert")).to_have_text("This review has closed; answers can no longer be changed.")
    expect(hr.get_by_role("combobox")).to_have_count(0)

    # No CSP violations or script errors on the way (Chromium logs the expected 410 as an error).
    hr.console_errors.remove("Failed to load resource: the server responded with a status of 410 (Gone)")  # type: ignore[attr-defined]
    for browser_tab in (page, cfo, coo, hr):
        assert browser_tab.console_errors == []  # type: ignore[attr-defined]
    for leader in (cfo, coo, hr):
        leader.context.close()
