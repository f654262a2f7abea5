"""A phishing simulation end to end.

In a real browser (Debian's Chromium via Playwright): the security lead signs in, declares the
domain, adds a sending profile pointing at a real SMTP server, writes a template and a landing
page, and schedules a campaign to a group; the campaign is sent. The recipient opens the link
from the message the SMTP server received, types a user name and password into the fake sign-in
form, is taught the red flags and reports the message. What was typed is nowhere in the
database; the lead sees the click, the submission and the report on the campaign page.

Over HTTP (Django's test client): a campaign to 50 people; all 50 messages are received over
SMTP and parsed, a subset opens, clicks, submits and reports, a link scanner clicks too, and the
results page shows exactly those numbers."""

import re
from datetime import timedelta
from email.message import EmailMessage
from html import unescape
from urllib.parse import urlparse

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import Page, expect

from bastion.accounts.models import Role
from bastion.people.models import Group, Person
from bastion.phishing import sending
from bastion.phishing.actions import (
    do_create_landing_page,
    do_create_sending_profile,
    do_create_template,
    do_declare_domain,
)
from bastion.phishing.models import Campaign, Recipient
from conftest import PASSWORD
from tests.browser import browser_page  # noqa: F401 - fixture

TYPED_USER = "lena.typed-username-7f3k"
TYPED_PASSWORD = "Hunter2-typed-secret-q9z"  # noqa: S105 - what a recipient types into the fake form
PERSON_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")


def tables_containing(*needles: str) -> list[str]:
    """Every table and column of the database (whatever the model) holding any of `needles` in
    a text or bytes value: read cell by cell, so nothing the ORM would skip is missed."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - our table names
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, memoryview):
                        value = value.tobytes()
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", errors="replace")
                    if value is not None and not isinstance(value, (int, float)):
                        cell = str(value)
                        found += [f"{table}.{column}" for needle in needles if needle in cell]
    return found


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return part.get_content()


def link(body: str, kind: str) -> str:
    match = re.search(rf"https?://[^\s\"'<>]+/p/{kind}/[A-Za-z0-9_-]+/?(?:\.gif)?", body)
    assert match, f"no /p/{kind}/ link in {body[:500]}"
    return unescape(match.group(0))


def seen(page: Page) -> str:
    return " ".join(page.locator("main").inner_text().split())


def _sign_in(page: Page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _people(n: int, group_name: str) -> tuple[Group, list[Person]]:
    group = Group.objects.create(name=group_name)
    people = [Person.objects.create(employee_id=f"P{i:04d}", email=f"person{i}@example.com", first_name=f"Pat{i}",
                                    last_name=f"Doe{i}", department="Finance" if i % 2 else "Sales")
              for i in range(n)]
    group.members.add(*people)
    return group, people


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_campaign_in_the_browser_from_lure_to_report(live_server, browser_page, settings, make_user,  # noqa: F811
                                                         no_mfa_policy, smtp_server):
    settings.BASE_URL = live_server.url  # the links in the messages point at this server
    make_user(Role.SECURITY_LEAD, email="lena@example.com", full_name="Lena Lead")
    _, people = _people(3, "Finance team")
    page = browser_page
    page.goto(f"{live_server.url}/")
    _sign_in(page, "lena@example.com")

    # Set up: the organisation's domain, the SMTP server, a template, a landing page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Phishing").click()
    page.get_by_role("link", name="Verified domains").click()
    page.get_by_label(re.compile("^Mail domain")).fill("example.com")
    page.get_by_role("button", name="Add the domain").click()
    expect(page.get_by_role("status")).to_contain_text("example.com is a verified domain")

    page.get_by_role("link", name="Sending profiles").click()
    page.get_by_role("link", name="New sending profile").click()
    page.get_by_label(re.compile("^Name")).fill("Test relay")
    page.get_by_label(re.compile("^SMTP URL")).fill(smtp_server.url)
    page.get_by_label(re.compile("^From address")).fill("it-support@example.com")
    page.get_by_role("button", name="Save the profile").click()
    expect(page.get_by_role("status")).to_contain_text("Sending profile “Test relay” is saved.")

    page.get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="New template").click()
    page.get_by_label(re.compile("^Name")).fill("Password expiry")
    page.get_by_label(re.compile("^From name")).fill("IT Support")
    page.get_by_label(re.compile("^Subject")).fill("{{first_name}}, your password expires today")
    page.get_by_label(re.compile("^Text body")).fill("Hello {{first_name}},\nKeep it: {{link}}\n")
    page.get_by_label(re.compile("^HTML body")).fill('<p>Hello {{first_name}}</p><p><a href="{{link}}">Keep it</a>'
                                                     "</p>{{pixel}}")
    page.get_by_label(re.compile("^Difficulty")).select_option("2")
    page.get_by_label("Urgency or threat").check()
    # First with an unknown placeholder: refused beside the field.
    page.get_by_label(re.compile("^Red flags")).fill("Urgency | “today” pushes you to act before you think")
    page.get_by_label(re.compile("^Subject")).fill("{{nickname}}, your password expires today")
    page.get_by_role("button", name="Save the template").click()
    expect(page.get_by_role("alert").filter(has_text="Unknown placeholder(s): {{nickname}}")).to_be_visible()
    page.get_by_label(re.compile("^Subject")).fill("{{first_name}}, your password expires today")
    page.get_by_role("button", name="Save the template").click()
    expect(page.get_by_role("status")).to_contain_text("Template “Password expiry” is saved.")
    expect(page.locator("#preview-subject")).to_have_text("Alex, your password expires today")
    preview = page.frame_locator("iframe.preview")
    expect(preview.get_by_role("link", name="Keep it")).to_be_visible()

    page.get_by_role("link", name="← Templates").click()
    page.get_by_role("link", name="Landing pages").click()
    page.get_by_role("link", name="New landing page").click()
    page.get_by_label(re.compile("^Title")).fill("That was a simulation")
    page.get_by_label(re.compile("^What the page teaches")).fill("Check the **sender** before you sign in.")
    page.get_by_label(re.compile("Show a fake sign-in form")).check()
    page.get_by_role("button", name="Save the landing page").click()
    expect(page.get_by_role("status")).to_contain_text("Landing page “That was a simulation” is saved.")
    expect(page.frame_locator("iframe.preview").first.get_by_label("Password")).to_be_visible()
    expect(page.frame_locator("iframe.preview").last.locator("strong").first).to_have_text("sender")

    # The campaign, to the group, sent at once.
    page.get_by_role("link", name="← Landing pages").click()
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label(re.compile("^Name")).fill("Spring check")
    page.get_by_label(re.compile("^Group")).select_option(label="Finance team")
    page.get_by_label("Password expiry").check()
    page.get_by_label(re.compile("^Landing page")).select_option(label="That was a simulation")
    page.get_by_label(re.compile("^Sending profile")).select_option(label="Test relay")
    page.get_by_role("button", name="Schedule the campaign").click()
    expect(page.get_by_role("status")).to_contain_text("Campaign “Spring check” is scheduled for 3 recipient(s).")
    campaign = Campaign.objects.get()
    sending.send_due()
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(p.email for p in people)
    # The recipient reads it a few minutes later (a click seconds after delivery is a scanner's).
    Recipient.objects.filter(campaign=campaign).update(sent_at=timezone.now() - timedelta(minutes=3))
    page.reload()
    expect(page.locator("main")).to_contain_text("3 sent of 3")

    # The recipient: the link in the message received, in a browser of their own.
    message = next(m for m in smtp_server.messages if m["To"] == people[0].email)
    assert message["Subject"] == "Pat0, your password expires today"
    click_url = link(text_of(message), "c")
    recipient = page.context.browser.new_context(user_agent=PERSON_AGENT).new_page()
    recipient.goto(click_url)
    expect(recipient.get_by_role("heading", name="That was a simulation")).to_be_visible()
    recipient.get_by_label("Email").fill(TYPED_USER)
    recipient.get_by_label("Password").fill(TYPED_PASSWORD)
    recipient.get_by_role("button", name="Sign in").click()
    expect(recipient.get_by_text("This was a phishing simulation run by your security team.")).to_be_visible()
    expect(recipient.get_by_text("nothing you typed was sent to or kept by anyone")).to_be_visible()
    expect(recipient.locator(".red-flags")).to_contain_text("Urgency — “today” pushes you to act before you think")
    recipient.get_by_role("link", name="report this message").click()
    recipient.get_by_role("button", name="Report it").click()
    expect(recipient.locator("main")).to_contain_text("Thank")

    # What was typed is nowhere: not in any table, not in any column.
    assert tables_containing(TYPED_USER, TYPED_PASSWORD) == []

    # The lead sees the click, the submission and the report.
    page.reload()
    results = seen(page)
    assert "Clicked 1 1 33.3%" in results, results
    assert "Submitted 1 1 33.3%" in results and "Reported 1 1 33.3%" in results
    assert "33.3% click rate" in results and "33.3% report rate" in results
    expect(page.locator("#departments")).to_contain_text("Sales")
    # Only the refused template form's answer (422); no CSP violation, no blocked script.
    assert page.console_errors == [  # type: ignore[attr-defined]
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Content)"]


@pytest.mark.django_db
def test_fifty_recipients_over_smtp_and_http(client_for, make_user, smtp_server):
    lead = make_user(Role.SECURITY_LEAD, email="lena@example.com")
    group, people = _people(50, "Everyone here")
    do_declare_domain("example.com", lead)
    profile = do_create_sending_profile(name="Relay", smtp_url=smtp_server.url, from_address="it@example.com",
                                        rate_per_second=10_000, acting_user=lead)
    template = do_create_template(
        acting_user=lead, name="Invoice", from_name="Accounts", subject="Invoice for {{first_name}}",
        body_text="Pay here: {{link}}\nNot yours? {{report_link}}",
        body_html='<p>Dear {{first_name}}</p><a href="{{link}}">Pay</a> <a href="{{report_link}}">Report</a>{{pixel}}',
        difficulty=3, cues=["urgency"], red_flags=[{"flag": "Unexpected invoice", "explanation": "You buy nothing"}])
    landing = do_create_landing_page(title="Gotcha", body_markdown="Look at the sender.", shows_form=True,
                                     acting_user=lead)
    browser = client_for(lead)
    start = timezone.localtime().replace(second=0, microsecond=0)
    response = browser.post("/phishing/campaigns/new/", {
        "name": "Invoices", "audience": group.pk, "templates": [template.pk], "landing_page": landing.pk,
        "sending_profile": profile.pk, "starts_at": start.strftime("%Y-%m-%dT%H:%M"), "remedial_rule": "click"})
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get()

    sending.send_due()
    messages = smtp_server.messages
    assert len(messages) == 50 and len({m["To"] for m in messages}) == 50
    Recipient.objects.filter(campaign=campaign).update(sent_at=timezone.now() - timedelta(minutes=10))

    # Each message parsed: its three links carry the same token, its recipient's own.
    links = {}
    for message in messages:
        html = html_of(message)
        found = {kind: urlparse(link(html, kind)).path for kind in ("c", "r")}
        found["o"] = urlparse(re.search(r'<img src="([^"]+/p/o/[^"]+\.gif)"', html).group(1)).path
        tokens = {re.search(r"/p/./([A-Za-z0-9_-]+)", p).group(1) for p in found.values()}
        assert len(tokens) == 1 and text_of(message).count(found["c"]) == 1
        links[message["To"]] = found
    assert set(links) == {p.email for p in people}

    recipient_agent = {"HTTP_USER_AGENT": PERSON_AGENT}
    scanner = {"HTTP_USER_AGENT": "Mimecast URL protection"}
    emails = [p.email for p in people]
    opened, clicked, submitted, reported, scanned = emails[:20], emails[:10], emails[:4], emails[30:38], emails[40:43]
    anonymous = client_for(None)
    for email in opened:
        assert anonymous.get(links[email]["o"], **recipient_agent)["Content-Type"] == "image/gif"
    for email in clicked:
        landing_page = anonymous.get(links[email]["c"], follow=True, **recipient_agent)
        assert "Sign in to continue." in landing_page.content.decode()
    for email in submitted:
        token_path = links[email]["c"].replace("/p/c/", "/p/l/").rstrip("/")
        taught = anonymous.post(f"{token_path}/submit", {"username": TYPED_USER, "password": TYPED_PASSWORD},
                                follow=True, **recipient_agent)
        assert "Unexpected invoice" in taught.content.decode()
    for email in reported:
        assert anonymous.post(links[email]["r"], **recipient_agent).status_code == 200
    for email in scanned:
        anonymous.get(links[email]["c"], **scanner)
    assert tables_containing(TYPED_USER, TYPED_PASSWORD) == []

    page = " ".join(unescape(re.sub(r"<[^>]+>", " ", browser.get(f"/phishing/campaigns/{campaign.pk}/")
                                     .content.decode())).split())
    # The flagged hits and the breakdowns are loaded after the page (htmx) or by a plain link.
    for query in ("?flagged=1&dpage=1&mpage=1", "?region=flagged", "?region=departments"):
        page += " " + " ".join(unescape(re.sub(r"<[^>]+>", " ", browser.get(
            f"/phishing/campaigns/{campaign.pk}/{query}", headers={"HX-Request": "true"} if "region" in query else {})
            .content.decode())).split())
    assert "50 sent of 50" in page
    assert "Sent 50 50" in page and "Opened 20 20 40.0%" in page
    assert "Clicked 13 10 20.0%" in page  # the scanner's three clicks are left out of the filtered figure
    assert "Submitted 4 4 8.0%" in page and "Reported 8 8 16.0%" in page
    assert "20.0% click rate (26.0% counting automated hits)" in page and "16.0% report rate" in page
    assert "3 hit(s) left out of the filtered figures" in page and "A known scanner's user agent" in page
    # By department: even-numbered people are in Sales, odd in Finance.
    finance = [e for i, e in enumerate(emails) if i % 2]
    finance_clicks = len([e for e in clicked if e in finance])
    assert f"Finance 25 25 {len([e for e in opened if e in finance])} {finance_clicks}" in page
    listed = " ".join(unescape(re.sub(r"<[^>]+>", " ", browser.get("/phishing/").content.decode())).split())
    assert "Invoices Finished" in listed and "50 50 20.0% 16.0%" in listed
