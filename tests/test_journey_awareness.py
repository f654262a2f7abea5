"""Security training in a real browser (Debian's Chromium via Playwright): an employee opens the
link in their "new training" email, works through a course, fails the quiz once, passes it on the
second try and downloads the certificate; their manager signs in and sees the course done."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from bastion.accounts.models import Role
from bastion.awareness import engine
from bastion.awareness.actions import do_create_course
from bastion.awareness.programme_actions import do_create_programme
from bastion.people.models import Person
from conftest import PASSWORD
from tests.browser import browser_page  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Shuffle off, so the test knows the order of the lessons, questions and choices.
COURSE = """---
slug: safe-habits
title: Safe habits
summary: Two habits that keep the company safe.
duration_minutes: 5
pass_mark: 60
max_attempts: 3
shuffle: false
---

# Lesson: Lock your screen
Press **Windows+L** (or Ctrl+Cmd+Q on a Mac) whenever you leave your desk.

# Lesson: Report what looks wrong
Forward a suspicious email to the security team, then delete it.

# Quiz

## Question (single)
What do you do when you leave your desk?
- [x] Lock the screen
- [ ] Leave it open

## Question (multiple)
Which are signs of phishing?
- [x] Urgency
- [x] A look-alike sender address
- [ ] A colleague's usual signature

## Question (single)
Who do you tell about a suspicious email?
- [ ] Nobody
- [x] The security team
"""

EMPLOYEE, MANAGER, OUTSIDER = "erin.baker@example.com", "mona.hart@example.com", "oscar.reed@example.com"


def _person(employee_id: str, email: str, first: str, last: str, manager: Person | None = None) -> Person:
    return Person.objects.create(employee_id=employee_id, email=email, first_name=first, last_name=last,
                                 department="Finance", manager=manager)


def _link_from(message) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"https?://\S+/training/t/\S+/", body)
    assert match, body
    return match.group(0)


def _fresh_page(page: Page) -> Page:
    """A new browser context: nobody is signed in, only the emailed link says who this is."""
    browser = page.context.browser
    assert browser is not None
    fresh = browser.new_context().new_page()
    errors: list[str] = []
    fresh.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    fresh.console_errors = errors  # type: ignore[attr-defined]
    return fresh


def _answer(page: Page, picks: dict[str, list[str]]) -> None:
    """Tick, in each question (found by its text), the choices with these labels."""
    for question, labels in picks.items():
        group = page.get_by_role("group", name=re.compile(re.escape(question)))
        for label in labels:
            group.get_by_label(label, exact=True).check()
    page.get_by_role("button", name="Submit my answers").click()


def test_employee_completes_a_course_from_the_email_and_the_manager_sees_it(
        live_server, browser_page, settings, make_user, no_mfa_policy, smtp_server, run_tasks):  # noqa: F811
    settings.BASE_URL = live_server.url  # the emailed links point at this server
    course = do_create_course(acting_user=None, source=COURSE, publish=True)
    do_create_programme(acting_user=None, fields={"name": "Everyone: safe habits", "course": course})
    mona = _person("E001", MANAGER, "Mona", "Hart")
    _person("E002", EMPLOYEE, "Erin", "Baker", manager=mona)
    _person("E003", OUTSIDER, "Oscar", "Reed")  # reports to nobody: not Mona's to follow
    manager_user = make_user(Role.MANAGER, email=MANAGER, person=mona, full_name="Mona Hart")

    # The periodic job assigns the course to everyone; the worker sends the emails.
    result = engine.run_assignments()
    assert result.created == 3 and result.emailed == 3
    run_tasks()
    assert sorted(m["To"] for m in smtp_server.messages) == sorted([EMPLOYEE, MANAGER, OUTSIDER])
    email = next(m for m in smtp_server.messages if m["To"] == EMPLOYEE)
    due = timezone.localdate() + timedelta(days=30)
    assert email["Subject"].strip() == f"You have new security training: Safe habits, due {due.day} {due:%B %Y}"
    assert "Hello Erin," in email.get_body(("plain",)).get_content()
    link = _link_from(email)
    assert link.startswith(live_server.url)

    # Erin opens the link in a browser where nobody is signed in: her training, no password.
    erin = _fresh_page(browser_page)
    erin.goto(link)
    assert erin.url == f"{live_server.url}/training/"
    expect(erin.get_by_role("heading", name="My training", level=1)).to_be_visible()
    expect(erin.get_by_text("Training for Erin Baker · opened from your email link")).to_be_visible()
    to_do = erin.get_by_role("region", name="To do")
    expect(to_do.get_by_role("heading", name="Safe habits")).to_be_visible()
    expect(to_do).to_contain_text("Due in 30 days")
    expect(to_do).to_contain_text(f"Due {due.day} {due:%B %Y} · about 5 minutes · Not started")
    expect(erin.get_by_role("region", name="Finished")).to_contain_text("No finished courses yet.")

    # The course page, then each lesson in turn.
    to_do.get_by_role("link", name="Start Safe habits").click()
    expect(erin.get_by_role("heading", name="Safe habits", level=1)).to_be_visible()
    expect(erin.get_by_text("60% of the quiz questions right · 3 tries left")).to_be_visible()
    erin.get_by_role("link", name="Start", exact=True).click()
    expect(erin.get_by_text("Lesson 1 of 2")).to_be_visible()
    expect(erin.get_by_role("heading", name="Lock your screen")).to_be_visible()
    expect(erin.get_by_role("article").get_by_role("strong")).to_have_text("Windows+L")  # Markdown rendered
    erin.get_by_role("button", name="Mark as done and continue").click()
    expect(erin.get_by_text("Lesson 2 of 2")).to_be_visible()
    expect(erin.get_by_role("heading", name="Report what looks wrong")).to_be_visible()
    erin.get_by_role("button", name="Mark as done and continue").click()

    # After the last lesson, the quiz.
    expect(erin.get_by_role("heading", name="Quiz: Safe habits")).to_be_visible()
    expect(erin.get_by_text("3 questions.")).to_be_visible()
    erin.get_by_role("button", name="Start the quiz").click()
    expect(erin.get_by_role("group")).to_have_count(3)
    expect(erin.get_by_text("Question 2 of 3 · choose all that apply")).to_be_visible()
    expect(erin.get_by_role("group", name=re.compile("Which are signs of phishing")).get_by_role("checkbox")
           ).to_have_count(3)

    # First try: the multiple-choice question half right counts as wrong, and so does the last.
    _answer(erin, {"What do you do when you leave your desk?": ["Lock the screen"],
                   "Which are signs of phishing?": ["Urgency"],
                   "Who do you tell about a suspicious email?": ["Nobody"]})
    expect(erin.get_by_role("heading", name="Quiz result: try 1")).to_be_visible()
    expect(erin.get_by_role("status")).to_have_text(
        "You scored 33% (1 of 3 right; 60% needed). You did not pass this time.")
    expect(erin.get_by_text("2 tries left")).to_be_visible()
    expect(erin.get_by_role("link", name="Download your certificate (PDF)")).to_have_count(0)
    phishing = erin.get_by_role("region", name=re.compile("Which are signs of phishing"))
    expect(phishing.get_by_text("Wrong", exact=True)).to_be_visible()
    expect(phishing.get_by_role("listitem").filter(has_text="Urgency")).to_contain_text("(your answer)")

    # Second try, all right.
    erin.get_by_role("link", name="Try again").click()
    expect(erin.get_by_text("You have 2 tries left.")).to_be_visible()
    erin.get_by_role("button", name="Start the quiz").click()
    _answer(erin, {"What do you do when you leave your desk?": ["Lock the screen"],
                   "Which are signs of phishing?": ["Urgency", "A look-alike sender address"],
                   "Who do you tell about a suspicious email?": ["The security team"]})
    expect(erin.get_by_role("heading", name="Quiz result: try 2")).to_be_visible()
    expect(erin.get_by_role("status")).to_have_text(
        "You scored 100% (3 of 3 right; 60% needed). You passed — well done.")
    expect(erin.get_by_text("Right", exact=True)).to_have_count(3)

    # The certificate: a real PDF, downloaded.
    with erin.expect_download() as download_info:
        erin.get_by_role("link", name="Download your certificate (PDF)").click()
    download = download_info.value
    assert re.fullmatch(r"certificate-safe-habits-\d+\.pdf", download.suggested_filename)
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 5000

    # "My training": nothing left to do; the course is finished, with its score and certificate.
    erin.get_by_role("link", name="Back to my training").click()
    expect(erin.get_by_role("region", name="To do")).to_contain_text(
        "Nothing to do: you are up to date with your training.")
    finished = erin.get_by_role("region", name="Finished").get_by_role("row", name=re.compile("Safe habits"))
    expect(finished).to_contain_text("Completed")
    expect(finished.get_by_role("cell").nth(2)).to_have_text("100%")
    expect(finished.get_by_role("link", name="Certificate (PDF) for Safe habits")).to_be_visible()

    # The link opens Erin's training and nothing else: the rest of Bastion asks for a sign-in.
    erin.goto(f"{live_server.url}/people/")
    assert erin.url == f"{live_server.url}/login/?next=/people/"
    expect(erin.get_by_role("button", name="Sign in")).to_be_visible()
    erin.goto(f"{live_server.url}/awareness/progress/people/")
    assert erin.url.startswith(f"{live_server.url}/login/")

    # Mona, Erin's manager, signs in and follows her people's training from the menu.
    page = browser_page
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.get_by_label("Email").fill(manager_user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=re.compile("Welcome")).wait_for()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Training progress").click()
    expect(page.get_by_role("heading", name="Training progress: your people")).to_be_visible()
    expect(page.get_by_role("region", name="Totals")).to_contain_text("100% completed (1 of 1)")
    page.get_by_role("link", name="People and assignments").click()
    expect(page.get_by_role("heading", name="People and their training: your people")).to_be_visible()
    people = page.locator("#people")
    expect(people.get_by_role("status")).to_contain_text("1 assignment match")
    row = people.get_by_role("row", name=re.compile("Erin Baker"))
    expect(row.get_by_role("cell").nth(2)).to_contain_text("Safe habits (v1)")
    expect(row.get_by_role("cell").nth(4)).to_have_text("Completed")
    expect(row.get_by_role("cell").nth(5)).to_have_text("100%")
    expect(people).not_to_contain_text("Oscar Reed")  # not one of Mona's people
    expect(people).not_to_contain_text("Mona Hart")  # her own training is not her team's

    # Erin's training record: the course completed today, on time, with her score.
    row.get_by_role("link", name="Erin Baker").click()
    expect(page.get_by_role("heading", name="Training of Erin Baker")).to_be_visible()
    record = page.get_by_role("table", name="Assignments, newest first").get_by_role(
        "row", name=re.compile("Safe habits"))
    today = timezone.localdate()
    expect(record.get_by_role("cell").nth(1)).to_have_text("Everyone: safe habits")
    expect(record.get_by_role("cell").nth(2)).to_have_text("Programme start")
    expect(record.get_by_role("cell").nth(5)).to_have_text(f"Completed on {today.day} {today:%b %Y} (on time)")
    expect(record.get_by_role("cell").nth(6)).to_have_text("100%")
    events = page.get_by_role("table", name="Reminders, escalations, consequences and incentives")
    expect(events.get_by_role("row", name=re.compile("Assigned"))).to_contain_text("Safe habits")

    # No CSP violations or script errors on the way.
    assert erin.console_errors == []  # type: ignore[attr-defined]
    assert page.console_errors == []  # type: ignore[attr-defined]
    erin.context.close()
