"""The security team's phishing pages under /phishing/, through the HTTP client: who may open
and change what (every role and anonymous), the forms' messages beside their fields, the
campaign page's status and results, the sandboxed previews, the CSV."""

import csv
import io
import re
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.awareness.actions import install_starter_curriculum
from bastion.awareness.models import Programme
from bastion.people.models import Group, Person
from bastion.phishing import sending
from bastion.phishing.models import (
    Campaign,
    CampaignStatus,
    EventKind,
    LandingPage,
    PhishingTemplate,
    SendingProfile,
    TrackingEvent,
    TrackingRules,
    VerifiedDomain,
)

from .conftest import make_people

pytestmark = pytest.mark.django_db

READ = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.AUDITOR}
SETUP = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR}
MANAGE = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
WHO = [*list(Role), None]


def text(response) -> str:
    """What a reader sees: the page without its tags and with whitespace folded."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def error_beside(response, field: str) -> str:
    """The messages shown in the field's block of the form."""
    html = response.content.decode()
    match = re.search(rf'<(?:div|fieldset) class="field has-error">(?:(?!</(?:div|fieldset)>).)*?name="{field}"'
                      rf'.*?</(?:div|fieldset)>', html, flags=re.S)
    assert match, f"no error beside {field}: {text(response)[:2000]}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(0))).split())


@pytest.fixture
def campaign(make_campaign, smtp_server):
    make_people(4)
    return make_campaign(starts_at=timezone.now() + timedelta(hours=2))


@pytest.fixture
def sent_campaign(make_campaign, smtp_server):
    """Ten people, all sent; person1 clicked and submitted, person2 reported, a scanner clicked for person3."""
    people = make_people(10)
    campaign = make_campaign()
    sending.send_due()
    campaign.refresh_from_db()
    recipients = {r.person_id: r for r in campaign.recipients.all()}
    later = timezone.now() + timedelta(minutes=5)
    r1, r2, r3 = recipients[people[1].pk], recipients[people[2].pk], recipients[people[3].pk]
    TrackingEvent.objects.create(recipient=r1, kind=EventKind.CLICKED, at=later)
    TrackingEvent.objects.create(recipient=r1, kind=EventKind.SUBMITTED, at=later)
    TrackingEvent.objects.create(recipient=r2, kind=EventKind.REPORTED, at=later)
    TrackingEvent.objects.create(recipient=r3, kind=EventKind.CLICKED, at=later, automated=True,
                                 rule="scanner-agent", user_agent="Mimecast-Scanner/1.0", network="192.0.2.0/24")
    from bastion.phishing.tracking import refresh_summaries

    refresh_summaries(campaign.recipients.all())  # events written directly: their recipients' summaries
    return campaign


def client_as(client_for, make_user, role):
    return client_for(make_user(role)) if role is not None else Client()


# --- who may open what -----------------------------------------------------------------------

@pytest.mark.parametrize("role", WHO)
def test_reading_pages_by_role(client_for, make_user, sent_campaign, template, page, profile, role):
    browser = client_as(client_for, make_user, role)
    person = sent_campaign.recipients.first().person_id
    pages = {
        "/phishing/": READ, f"/phishing/campaigns/{sent_campaign.pk}/": READ,
        f"/phishing/campaigns/{sent_campaign.pk}/results.csv": READ, "/phishing/repeat-clickers/": READ,
        f"/phishing/people/{person}/": READ,
        "/phishing/templates/": SETUP, f"/phishing/templates/{template.pk}/": SETUP,
        f"/phishing/templates/{template.pk}/preview.html": SETUP, "/phishing/landing-pages/": SETUP,
        f"/phishing/landing-pages/{page.pk}/": SETUP, f"/phishing/landing-pages/{page.pk}/preview.html": SETUP,
        "/phishing/profiles/": SETUP, "/phishing/domains/": SETUP, "/phishing/rules/": SETUP,
        "/phishing/campaigns/new/": MANAGE, "/phishing/templates/new/": MANAGE,
        f"/phishing/templates/{template.pk}/edit/": MANAGE, "/phishing/landing-pages/new/": MANAGE,
        f"/phishing/landing-pages/{page.pk}/edit/": MANAGE, "/phishing/profiles/new/": MANAGE,
        f"/phishing/profiles/{profile.pk}/edit/": MANAGE, f"/phishing/campaigns/{sent_campaign.pk}/cancel/": MANAGE,
    }
    for url, allowed in pages.items():
        response = browser.get(url)
        if role is None:
            assert response.status_code == 302 and response["Location"].startswith("/login/"), url
        elif role in allowed:
            assert response.status_code == 200, url
        else:
            assert response.status_code == 403, url


@pytest.mark.parametrize("role", WHO)
def test_navigation_shows_phishing_to_those_who_read_it(client_for, make_user, role):
    response = client_as(client_for, make_user, role).get("/", follow=True)
    nav = re.search(r'<nav aria-label="Main">.*?</nav>', response.content.decode(), flags=re.S)
    shown = bool(nav and 'href="/phishing/"' in nav.group(0))
    assert shown == (role in READ)


@pytest.mark.parametrize("role", WHO)
def test_writes_by_role(client_for, make_user, domain, profile, template, page, smtp_server, role):
    make_people(3)
    browser = client_as(client_for, make_user, role)
    start = timezone.localtime() + timedelta(hours=1)
    posts = [
        ("/phishing/campaigns/new/", {"name": "Autumn", "templates": [template.pk], "landing_page": page.pk,
                                      "sending_profile": profile.pk, "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
                                      "remedial_rule": "click"}),
        ("/phishing/templates/new/", {"name": "Parcel", "from_name": "Post", "subject": "Your parcel",
                                      "body_text": "Track it: {{link}}", "difficulty": "2"}),
        ("/phishing/landing-pages/new/", {"title": "Gotcha", "body_markdown": "Look at the sender."}),
        ("/phishing/profiles/new/", {"name": "Relay", "smtp_url": "smtp://relay.example.com:25",
                                     "from_address": "it@example.com", "rate_per_second": "5"}),
        ("/phishing/domains/", {"domain": "example.org"}),
        ("/phishing/rules/", {"too_soon_seconds": "30", "scanner_agents": "bot", "scanner_networks": "",
                              "no_human_signal_seconds": "120"}),
    ]
    for url, data in posts:
        response = browser.post(url, data)
        if role is None:
            assert response.status_code == 302 and response["Location"].startswith("/login/"), url
        elif role in MANAGE:
            assert response.status_code == 302, (url, text(response)[:1500])
        else:
            assert response.status_code == 403, url
    created = (Campaign.objects.filter(name="Autumn").exists(), PhishingTemplate.objects.filter(name="Parcel").exists(),
               LandingPage.objects.filter(title="Gotcha").exists(), SendingProfile.objects.filter(name="Relay").exists(),
               VerifiedDomain.objects.filter(domain="example.org").exists(),
               TrackingRules.current().too_soon_seconds == 30)
    assert created == ((True,) * 6 if role in MANAGE else (False,) * 6)


@pytest.mark.parametrize("role", WHO)
def test_cancel_test_send_and_domain_removal_by_role(client_for, make_user, campaign, domain, profile, smtp_server,
                                                     role):
    browser = client_as(client_for, make_user, role)
    cancel = browser.post(f"/phishing/campaigns/{campaign.pk}/cancel/")
    test = browser.post(f"/phishing/campaigns/{campaign.pk}/test-send/", {"to": "me@example.com"})
    profile_test = browser.post(f"/phishing/profiles/{profile.pk}/test/", {"to": "me@example.com"})
    remove = browser.post(f"/phishing/domains/{domain.pk}/remove/")
    campaign.refresh_from_db()
    if role in MANAGE:
        assert [r.status_code for r in (cancel, test, profile_test, remove)] == [302] * 4
        assert campaign.status == CampaignStatus.CANCELLED
        assert len(smtp_server.messages) == 2  # one per template, one for the profile
        assert not VerifiedDomain.objects.exists()
    else:
        expected = 302 if role is None else 403
        assert [r.status_code for r in (cancel, test, profile_test, remove)] == [expected] * 4
        assert campaign.status == CampaignStatus.SCHEDULED and smtp_server.messages == []
        assert VerifiedDomain.objects.exists()


def test_a_manager_reads_the_history_of_their_people_only(client_for, make_user, sent_campaign):
    boss = Person.objects.get(employee_id="B0000")
    report = Person.objects.get(employee_id="E0001")
    outsider = Person.objects.create(employee_id="X1", email="x@example.com", first_name="Xavier", last_name="Out")
    manager = client_for(make_user(Role.MANAGER, person=boss))
    response = manager.get(f"/phishing/people/{report.pk}/")
    assert response.status_code == 200
    assert "Phishing history of First1 Last1" in text(response) and "Spring" in text(response)
    assert 'href="/phishing/campaigns/' not in response.content.decode()  # campaigns are not theirs to open
    assert manager.get(f"/phishing/people/{outsider.pk}/").status_code == 404
    assert manager.get("/phishing/").status_code == 403
    assert manager.get("/phishing/people/99999999999999999999/").status_code == 404


# --- campaigns -------------------------------------------------------------------------------

def _campaign_form(template, page, profile, **over):
    start = timezone.localtime() + timedelta(hours=1)
    data = {"name": "Autumn", "templates": [template.pk], "landing_page": page.pk, "sending_profile": profile.pk,
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "window_ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), "remedial_rule": "click"}
    data.update(over)
    return data


def test_creating_a_campaign_for_a_group(client_for, lead, domain, profile, template, page):
    people = make_people(6)
    group = Group.objects.create(name="Sales floor")
    group.members.add(*people[:3])
    programme = Programme.objects.create(name="Spotting phishing", course=install_starter_curriculum()[0],
                                         remedial=True)
    browser = client_for(lead)
    form = browser.get("/phishing/campaigns/new/")
    assert "Sales floor" in text(form) and "Spotting phishing" in text(form) and "Password expiry" in text(form)
    data = _campaign_form(template, page, profile, audience=group.pk, remedial_programme=programme.pk,
                          remedial_rule="submit")
    response = browser.post("/phishing/campaigns/new/", data, follow=True)
    campaign = Campaign.objects.get(name="Autumn")
    expected = 3
    assert set(campaign.recipients.values_list("person", flat=True)) == {p.pk for p in people[:3]}
    assert f"Campaign “Autumn” is scheduled for {expected} recipient(s)." in text(response)
    assert campaign.window_minutes == 120 and campaign.remedial_programme == programme
    assert campaign.remedial_rule == "submit"
    assert "Scheduled" in text(response) and f"0 sent of {expected}" in text(response)
    assert AuditEntry.objects.filter(action="phishing.campaign_created").exists()


def test_campaign_form_messages_beside_the_fields(client_for, lead, domain, profile, template, page):
    make_people(2)
    Person.objects.create(employee_id="Z1", email="zed@elsewhere.net", first_name="Zed", last_name="Else")
    browser = client_for(lead)
    outside = browser.post("/phishing/campaigns/new/", _campaign_form(template, page, profile))
    assert outside.status_code == 422
    assert "1 recipient(s) are outside the verified domains (example.com): zed@elsewhere.net" in \
        error_beside(outside, "audience")
    Person.objects.filter(employee_id="Z1").delete()
    start = timezone.localtime() + timedelta(hours=1)
    backwards = browser.post("/phishing/campaigns/new/", _campaign_form(
        template, page, profile, window_ends_at=(start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")))
    assert "The send window cannot end before it starts." in error_beside(backwards, "window_ends_at")
    empty = browser.post("/phishing/campaigns/new/", {"starts_at": "tomorrow"})
    assert "This field is required." in error_beside(empty, "name")
    assert "This field is required." in error_beside(empty, "templates")
    assert "Enter a valid date/time." in error_beside(empty, "starts_at")
    assert not Campaign.objects.exists()


def test_campaign_page_shows_status_progress_and_results(client_for, make_user, sent_campaign):
    response = client_for(make_user(Role.EXECUTIVE)).get(f"/phishing/campaigns/{sent_campaign.pk}/")
    seen = text(response)
    assert "Finished" in seen and "10 sent of 10" in seen
    # Raw vs filtered: the scanner's click is counted raw only.
    assert "Clicked 2 1 10.0%" in seen and "Submitted 1 1 10.0%" in seen and "Reported 1 1 10.0%" in seen
    assert "10.0% click rate (20.0% counting automated hits)" in seen and "10.0% report rate" in seen
    assert "5 min median time to report" in seen
    # The flagged hits and the breakdowns read the whole campaign again: loaded after the page
    # (htmx), or in the page by a plain link without JavaScript.
    body = response.content.decode()
    for region, param in (("flagged", "flagged"), ("departments", "dpage"), ("managers", "mpage")):
        assert f'hx-get="?region={region}" hx-trigger="load"' in body and f'href="?{param}=1#{region}"' in body
    browser = client_for(make_user(Role.EXECUTIVE))
    plain = text(browser.get(f"/phishing/campaigns/{sent_campaign.pk}/?flagged=1&dpage=1&mpage=1"))
    loaded = " ".join(text(browser.get(f"/phishing/campaigns/{sent_campaign.pk}/?region={region}",
                                       headers={"HX-Request": "true"}))
                      for region in ("flagged", "departments", "managers"))
    for seen in (plain, loaded):
        # The flagged hit, with the rule that flagged it.
        assert "1 hit(s) left out of the filtered figures" in seen
        assert "A known scanner's user agent" in seen and "Mimecast-Scanner/1.0" in seen and "192.0.2.0/24" in seen
        assert "By department" in seen and "Sales 10 10 0 1 (2 raw) 1 1 10.0% 10.0%" in seen
        assert "By manager" in seen and "Mona Manager" in seen
    assert "<svg" in response.content.decode() and "Send a test" not in seen and "Cancel the campaign" not in seen


def test_paused_campaign_shows_its_error(client_for, lead, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING,
                                                   last_error="The mail server answered 535 authentication failed")
    seen = text(client_for(lead).get(f"/phishing/campaigns/{campaign.pk}/"))
    assert "Paused" in seen and "Sending is paused: The mail server answered 535 authentication failed" in seen
    listed = text(client_for(lead).get("/phishing/"))
    assert "Spring Paused" in listed


def test_results_tables_page_through_htmx_regions(client_for, lead, make_campaign, smtp_server):
    for i in range(30):
        Person.objects.create(employee_id=f"D{i:03d}", email=f"d{i}@example.com", first_name="D", last_name=str(i),
                              department=f"Dept {i:02d}")
    campaign = make_campaign()
    browser = client_for(lead)
    first = browser.get(f"/phishing/campaigns/{campaign.pk}/?dpage=1")
    assert "Dept 00" in text(first) and "Dept 26" not in text(first) and "Page 1 of 2" in text(first)
    region = browser.get(f"/phishing/campaigns/{campaign.pk}/?dpage=2&region=departments",
                         headers={"HX-Request": "true"})
    body = region.content.decode()
    assert body.lstrip().startswith('<div id="departments">') and "<html" not in body
    assert "Dept 26" in text(region) and "Dept 00" not in text(region)
    plain = browser.get(f"/phishing/campaigns/{campaign.pk}/?dpage=2")
    assert "<html" in plain.content.decode() and "Dept 26" in text(plain)
    for bad in ("?dpage=abc", "?dpage=99999", "?mpage=-1", "?flagged=zz", "?region=nope"):
        assert browser.get(f"/phishing/campaigns/{campaign.pk}/{bad}").status_code == 200


def test_csv_from_the_page_is_the_apis(client_for, api_for, lead, sent_campaign):
    Person.objects.filter(employee_id="E0001").update(first_name="=HYPERLINK(\"x\")")
    page_csv = b"".join(client_for(lead).get(f"/phishing/campaigns/{sent_campaign.pk}/results.csv").streaming_content)
    api_csv = b"".join(api_for(lead).get(f"/api/v1/campaigns/{sent_campaign.pk}/results.csv").streaming_content)
    assert page_csv == api_csv
    rows = list(csv.reader(io.StringIO(page_csv.decode())))
    assert rows[0][0] == "employee_id" and len(rows) == 11
    assert "'=HYPERLINK(\"x\")" in [r[2] for r in rows]


def test_test_send_and_its_refusal(client_for, lead, campaign, smtp_server):
    browser = client_for(lead)
    refused = browser.post(f"/phishing/campaigns/{campaign.pk}/test-send/", {"to": "me@gmail.com"})
    assert refused.status_code == 422
    assert "outside the verified domains (example.com): me@gmail.com" in error_beside(refused, "to")
    sent = browser.post(f"/phishing/campaigns/{campaign.pk}/test-send/", {"to": "me@example.com"}, follow=True)
    assert "Sent 1 test message(s) to me@example.com." in text(sent)
    assert smtp_server.messages[0]["To"] == "me@example.com"


def test_cancel_asks_first(client_for, lead, campaign):
    browser = client_for(lead)
    confirm = browser.get(f"/phishing/campaigns/{campaign.pk}/cancel/")
    assert "4 message(s) not yet sent will not be sent." in text(confirm)
    done = browser.post(f"/phishing/campaigns/{campaign.pk}/cancel/", follow=True)
    assert "Campaign “Spring” is cancelled: nothing more will be sent." in text(done) and "Cancelled" in text(done)
    again = browser.post(f"/phishing/campaigns/{campaign.pk}/cancel/")
    assert again.status_code == 409 and "A cancelled campaign cannot become cancelled." in text(again)


def test_campaign_list_pages_with_a_fixed_number_of_queries(client_for, lead, make_campaign, smtp_server,
                                                             django_assert_max_num_queries):
    make_people(3)
    browser = client_for(lead)
    make_campaign(name="One")
    with django_assert_max_num_queries(12) as few:
        browser.get("/phishing/")
    for i in range(8):
        make_campaign(name=f"More {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = browser.get("/phishing/")
    assert "More 7" in text(response) and "One" in text(response)
    assert browser.get("/phishing/?page=zz").status_code == 200


# --- templates and landing pages ------------------------------------------------------------

TEMPLATE = {"name": "Parcel", "from_name": "Post Office", "subject": "{{first_name}}, your parcel",
            "body_text": "Track it: {{link}}", "body_html": "<p>Hi {{first_name}}</p><a href=\"{{link}}\">Track</a>",
            "difficulty": "4", "cues": ["urgency", "visual"],
            "red_flags": "Unexpected parcel | You ordered nothing\nLink | It goes to post-office.example.net"}


def test_creating_editing_and_previewing_a_template(client_for, lead):
    browser = client_for(lead)
    response = browser.post("/phishing/templates/new/", TEMPLATE, follow=True)
    template = PhishingTemplate.objects.get(name="Parcel")
    assert template.red_flags == [{"flag": "Unexpected parcel", "explanation": "You ordered nothing"},
                                  {"flag": "Link", "explanation": "It goes to post-office.example.net"}]
    assert template.cues == ["urgency", "visual"] and template.difficulty == 4
    seen = text(response)
    assert "Template “Parcel” is saved." in seen and "Alex, your parcel" in seen
    assert "Unexpected parcel — You ordered nothing" in seen
    html = response.content.decode()
    assert f'<iframe class="preview" sandbox src="/phishing/templates/{template.pk}/preview.html"' in html
    assert "frame-src 'self'" in response["Content-Security-Policy"]
    preview = browser.get(f"/phishing/templates/{template.pk}/preview.html")
    assert preview.content.decode() == '<p>Hi Alex</p><a href="#preview-link">Track</a>'
    assert preview["Content-Security-Policy"].startswith("sandbox; default-src 'none'; img-src data:")
    assert "frame-ancestors 'self'" in preview["Content-Security-Policy"]
    assert preview["X-Frame-Options"] == "SAMEORIGIN"
    edit = browser.get(f"/phishing/templates/{template.pk}/edit/")
    assert "Unexpected parcel | You ordered nothing" in edit.content.decode()
    browser.post(f"/phishing/templates/{template.pk}/edit/", {**TEMPLATE, "subject": "Parcel held", "difficulty": "5"})
    template.refresh_from_db()
    assert (template.subject, template.difficulty) == ("Parcel held", 5)
    assert AuditEntry.objects.filter(action="phishing.template_changed").exists()


def test_template_messages_beside_the_fields(client_for, lead, template):
    browser = client_for(lead)
    unknown = browser.post("/phishing/templates/new/", {**TEMPLATE, "subject": "Hi {{nickname}}"})
    assert unknown.status_code == 422
    assert "Unknown placeholder(s): {{nickname}}" in error_beside(unknown, "subject")
    no_link = browser.post("/phishing/templates/new/", {**TEMPLATE, "body_text": "Hello", "body_html": ""})
    assert "The message needs a {{link}} to the landing page." in error_beside(no_link, "body_text")
    broken = browser.post("/phishing/templates/new/", {**TEMPLATE, "body_html": "<p>Hi <a href=\"{{link}}\">x"})
    assert "The HTML body is broken: <a> opened on line 1 is never closed." in error_beside(broken, "body_html")
    flags = browser.post("/phishing/templates/new/", {**TEMPLATE, "red_flags": "Urgency without explanation"})
    assert "Each red flag needs a flag and an explanation." in error_beside(flags, "red_flags")
    taken = browser.post("/phishing/templates/new/", {**TEMPLATE, "name": "Password expiry"})
    assert "already exists" in error_beside(taken, "name")
    assert PhishingTemplate.objects.count() == 1
    wrong_edit = browser.post(f"/phishing/templates/{template.pk}/edit/", {**TEMPLATE, "body_html": "</div>"})
    assert "closes nothing" in error_beside(wrong_edit, "body_html")
    template.refresh_from_db()
    assert template.name == "Password expiry"


def test_a_script_in_a_template_never_runs_in_the_apps_origin(client_for, lead):
    browser = client_for(lead)
    browser.post("/phishing/templates/new/", {**TEMPLATE, "body_html": "<p>Hi</p><script>alert(1)</script>"
                                                                      "<a href=\"{{link}}\">x</a>"})
    template = PhishingTemplate.objects.get(name="Parcel")
    detail = browser.get(f"/phishing/templates/{template.pk}/").content.decode()
    assert "alert(1)" not in detail  # only inside the sandboxed preview's own document
    preview = browser.get(f"/phishing/templates/{template.pk}/preview.html")
    assert "<script>alert(1)</script>" in preview.content.decode()
    assert preview["Content-Security-Policy"].split(";")[0] == "sandbox"
    assert "script-src" not in preview["Content-Security-Policy"]  # so default-src 'none' forbids scripts


def test_landing_pages(client_for, lead):
    browser = client_for(lead)
    empty = browser.post("/phishing/landing-pages/new/", {"title": "", "body_markdown": ""})
    assert "This field is required." in error_beside(empty, "title")
    done = browser.post("/phishing/landing-pages/new/", {"title": "Gotcha", "body_markdown": "Check the **sender**.",
                                                         "shows_form": "on"}, follow=True)
    page = LandingPage.objects.get()
    assert "Landing page “Gotcha” is saved." in text(done) and page.shows_form
    preview = browser.get(f"/phishing/landing-pages/{page.pk}/preview.html")
    assert "<strong>sender</strong>" in preview.content.decode()
    assert preview["Content-Security-Policy"].startswith("sandbox;") and preview["X-Frame-Options"] == "SAMEORIGIN"
    form_step = browser.get(f"/phishing/landing-pages/{page.pk}/preview.html?step=form")
    assert "Sign in to continue." in text(form_step) and "Sign out" not in text(form_step)
    browser.post(f"/phishing/landing-pages/{page.pk}/edit/", {"title": "Caught", "body_markdown": "Report next time."})
    page.refresh_from_db()
    assert (page.title, page.shows_form) == ("Caught", False)


# --- profiles, domains, rules ----------------------------------------------------------------

def test_the_smtp_password_is_never_shown_back(client_for, lead, make_user, domain, smtp_server):
    browser = client_for(lead)
    url = f"smtp://mailer:S3cret-pass@127.0.0.1:{smtp_server.port}"
    browser.post("/phishing/profiles/new/", {"name": "Relay", "smtp_url": url, "from_address": "it@example.com",
                                             "rate_per_second": "5"})
    profile = SendingProfile.objects.get()
    for who in (lead, make_user(Role.AUDITOR)):
        for page in ("/phishing/profiles/", f"/phishing/profiles/{profile.pk}/edit/"):
            response = client_for(who).get(page)
            assert "S3cret-pass" not in response.content.decode(), page
    listed = text(browser.get("/phishing/profiles/"))
    assert f"smtp://mailer:********@127.0.0.1:{smtp_server.port}" in listed
    # Saved without the password: the stored one is kept.
    browser.post(f"/phishing/profiles/{profile.pk}/edit/", {
        "name": "Relay 2", "smtp_url": f"smtp://mailer@127.0.0.1:{smtp_server.port}", "from_address": "it@example.com",
        "rate_per_second": "7"})
    profile.refresh_from_db()
    assert profile.name == "Relay 2" and profile.password == "S3cret-pass"
    # A refused form never echoes a typed password either.
    refused = browser.post(f"/phishing/profiles/{profile.pk}/edit/", {
        "name": "Relay 2", "smtp_url": "http://user:Typed-pass@host", "from_address": "it@example.com",
        "rate_per_second": "7"})
    assert refused.status_code == 422 and "Typed-pass" not in refused.content.decode()
    assert "The SMTP URL must look like smtp://host:587" in error_beside(refused, "smtp_url")
    SendingProfile.objects.create(name="Plain", smtp_url=smtp_server.url, from_address="it@example.com")
    plain = SendingProfile.objects.get(name="Plain")
    tested = browser.post(f"/phishing/profiles/{plain.pk}/test/", {"to": "me@example.com"}, follow=True)
    assert "A test message went to me@example.com through “Plain”." in text(tested)
    assert "Plain" in smtp_server.messages[-1]["Subject"]
    outside = browser.post(f"/phishing/profiles/{profile.pk}/test/", {"to": "me@gmail.com"})
    assert outside.status_code == 422 and "outside the verified domains" in error_beside(outside, "to")


def test_profile_test_reports_a_server_that_refuses(client_for, lead, domain):
    profile = SendingProfile.objects.create(name="Down", smtp_url="smtp://u:pw-xyz@127.0.0.1:1",
                                            from_address="it@example.com")
    refused = client_for(lead).post(f"/phishing/profiles/{profile.pk}/test/", {"to": "me@example.com"})
    assert refused.status_code == 422
    assert "The test message was not sent: Could not connect" in error_beside(refused, "to")
    assert "pw-xyz" not in refused.content.decode()


def test_verified_domains(client_for, lead):
    browser = client_for(lead)
    bad = browser.post("/phishing/domains/", {"domain": "not a domain"})
    assert bad.status_code == 422 and "is not a mail domain (e.g. example.com)." in error_beside(bad, "domain")
    added = browser.post("/phishing/domains/", {"domain": "Example.COM."}, follow=True)
    assert "example.com is a verified domain: simulations may go to it." in text(added)
    domain = VerifiedDomain.objects.get()
    removed = browser.post(f"/phishing/domains/{domain.pk}/remove/", follow=True)
    assert "example.com is no longer a verified domain" in text(removed)
    assert "No verified domain: no simulation can be sent." in text(removed)
    assert browser.post("/phishing/domains/999999/remove/").status_code == 404


def test_tracking_rules(client_for, lead, make_user):
    browser = client_for(lead)
    bad = browser.post("/phishing/rules/", {"too_soon_seconds": "5", "scanner_agents": "bot",
                                            "scanner_networks": "10.0.0.0/8\nnot-a-network"})
    assert "“not-a-network” is not a network in CIDR form" in error_beside(bad, "scanner_networks")
    big = browser.post("/phishing/rules/", {"too_soon_seconds": "99999", "scanner_agents": "", "scanner_networks": ""})
    assert "Ensure this value is less than or equal to 3600." in error_beside(big, "too_soon_seconds")
    wait = browser.post("/phishing/rules/", {"too_soon_seconds": "5", "no_human_signal_seconds": "5"})
    assert "Ensure this value is greater than or equal to 10." in error_beside(wait, "no_human_signal_seconds")
    saved = browser.post("/phishing/rules/", {"too_soon_seconds": "20", "scanner_agents": "Bot\nMimecast",
                                              "scanner_networks": "192.0.2.7/24", "no_human_signal": "on",
                                              "no_human_signal_seconds": "300"}, follow=True)
    assert "The automated-hit rules are saved" in text(saved)
    rules = TrackingRules.current()
    assert (rules.too_soon_seconds, rules.scanner_agents, rules.scanner_networks) == (
        20, ["bot", "mimecast"], ["192.0.2.0/24"])
    assert rules.no_human_signal and rules.no_human_signal_seconds == 300 and rules.no_human_signal_since
    read_only = client_for(make_user(Role.AUDITOR)).get("/phishing/rules/")
    assert "Flagged after 300 seconds" in text(read_only)
    assert "20 seconds after delivery" in text(read_only) and "<form method=\"post\" novalidate>" not in \
        read_only.content.decode()


# --- across campaigns ------------------------------------------------------------------------

def test_repeat_clickers_and_history(client_for, lead, make_campaign, smtp_server):
    people = make_people(3)
    for name in ("First", "Second"):
        campaign = make_campaign(name=name)
        sending.send_due()
        recipient = campaign.recipients.get(person=people[1])
        TrackingEvent.objects.create(recipient=recipient, kind=EventKind.CLICKED,
                                     at=timezone.now() + timedelta(minutes=2))
    browser = client_for(lead)
    listed = browser.get("/phishing/repeat-clickers/")
    assert "First1 Last1 E0001 Sales 2" in text(listed)
    assert f'href="/phishing/people/{people[1].pk}/"' in listed.content.decode()
    history = text(browser.get(f"/phishing/people/{people[1].pk}/"))
    assert "2 simulation(s) sent" in history and "2 clicked" in history and "0 reported" in history
    assert "First" in history and "Second" in history
    assert browser.get("/phishing/people/0/").status_code == 404
    assert browser.get("/phishing/repeat-clickers/?page=abc").status_code == 200


def test_pages_carry_the_site_headers_and_only_previews_may_be_framed(client_for, lead, sent_campaign, template,
                                                                     page, profile):
    from tests.test_security_headers import assert_secure_headers, inline_code

    browser = client_for(lead)
    person = sent_campaign.recipients.first().person_id
    for url in ("/phishing/", f"/phishing/campaigns/{sent_campaign.pk}/", "/phishing/campaigns/new/",
                f"/phishing/campaigns/{sent_campaign.pk}/cancel/", "/phishing/templates/",
                f"/phishing/templates/{template.pk}/", f"/phishing/templates/{template.pk}/edit/",
                "/phishing/landing-pages/", f"/phishing/landing-pages/{page.pk}/", "/phishing/profiles/",
                f"/phishing/profiles/{profile.pk}/edit/", "/phishing/domains/", "/phishing/rules/",
                "/phishing/repeat-clickers/", f"/phishing/people/{person}/"):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert_secure_headers(response, url)
        assert inline_code(response.content.decode()) == [], url
    for url in (f"/phishing/templates/{template.pk}/preview.html", f"/phishing/landing-pages/{page.pk}/preview.html"):
        response = browser.get(url)
        assert response["X-Frame-Options"] == "SAMEORIGIN"
        policy = response["Content-Security-Policy"]
        assert policy.startswith("sandbox;") and "default-src 'none'" in policy and "frame-ancestors 'self'" in policy
        assert "script-src" not in policy and "<script" not in response.content.decode()


def test_flagged_hits_page_with_their_rule(client_for, lead, sent_campaign):
    recipient = sent_campaign.recipients.first()
    TrackingEvent.objects.bulk_create([
        TrackingEvent(recipient=recipient, kind=EventKind.OPENED, automated=True, rule="too-soon",
                      at=timezone.now() - timedelta(hours=1, minutes=i)) for i in range(30)])
    browser = client_for(lead)
    first = text(browser.get(f"/phishing/campaigns/{sent_campaign.pk}/?flagged=1"))
    assert "31 hit(s) left out of the filtered figures" in first and "Page 1 of 2" in first
    assert "Within seconds of delivery" in first and "Mimecast-Scanner/1.0" in first  # the latest first
    second = browser.get(f"/phishing/campaigns/{sent_campaign.pk}/?flagged=2&region=flagged",
                         headers={"HX-Request": "true"})
    body = second.content.decode()
    assert body.lstrip().startswith('<div id="flagged">') and "Page 2 of 2" in text(second)
    assert "Mimecast-Scanner/1.0" not in body and "Within seconds of delivery" in body
    assert 'href="?flagged=1#flagged"' in body and 'hx-get="?flagged=1&amp;region=flagged"' in body


@pytest.mark.parametrize("junk", ["", "x" * 5000, "-1", "99999999999999999999999", "smtp://[::1", "<script>",
                                  "2026-13-45T99:99", "0001-01-01T00:00", "{{link}}\x00"])
def test_no_form_answers_500_to_junk(client_for, lead, sent_campaign, template, page, profile, junk):
    browser = client_for(lead)
    for url in ("/phishing/campaigns/new/", f"/phishing/campaigns/{sent_campaign.pk}/test-send/",
                "/phishing/templates/new/", f"/phishing/templates/{template.pk}/edit/", "/phishing/landing-pages/new/",
                f"/phishing/landing-pages/{page.pk}/edit/", "/phishing/profiles/new/",
                f"/phishing/profiles/{profile.pk}/edit/", f"/phishing/profiles/{profile.pk}/test/", "/phishing/domains/",
                "/phishing/rules/"):
        fields = ("name", "audience", "templates", "landing_page", "sending_profile", "starts_at", "window_ends_at",
                  "remedial_programme", "remedial_rule", "to", "from_name", "subject", "body_text", "body_html",
                  "difficulty", "cues", "red_flags", "title", "body_markdown", "shows_form", "smtp_url",
                  "from_address", "rate_per_second", "domain", "too_soon_seconds", "scanner_agents",
                  "scanner_networks")
        response = browser.post(url, {f: junk for f in fields})
        assert response.status_code in (302, 422), (url, response.status_code)
    for url in ("/phishing/", f"/phishing/campaigns/{sent_campaign.pk}/", "/phishing/repeat-clickers/",
                "/phishing/templates/", "/phishing/domains/"):
        query = {"page": junk, "dpage": junk, "mpage": junk, "flagged": junk, "region": junk}
        assert browser.get(url, query).status_code in (200, 400), url


@pytest.mark.parametrize("role", [Role.SECURITY_LEAD, Role.EXECUTIVE])
def test_ids_too_large_for_the_database_are_not_found(client_for, make_user, role):
    browser = client_for(make_user(role))
    huge = "9" * 25
    for url in (f"/phishing/campaigns/{huge}/", f"/phishing/campaigns/{huge}/cancel/",
                f"/phishing/campaigns/{huge}/results.csv", f"/phishing/people/{huge}/",
                f"/phishing/templates/{huge}/", f"/phishing/templates/{huge}/preview.html",
                f"/phishing/landing-pages/{huge}/edit/", f"/phishing/profiles/{huge}/edit/"):
        assert browser.get(url).status_code in (403, 404), url
    for url in (f"/phishing/campaigns/{huge}/test-send/", f"/phishing/domains/{huge}/remove/",
                f"/phishing/profiles/{huge}/test/"):
        assert browser.post(url, {"to": "me@example.com"}).status_code in (403, 404), url


def test_recipients_table_pages_and_links_to_each_history(client_for, lead, sent_campaign):
    browser = client_for(lead)
    response = browser.get(f"/phishing/campaigns/{sent_campaign.pk}/")
    seen = text(response)
    person = Person.objects.get(employee_id="E0001")
    assert "10 in all; the first hit of each kind no automated rule flagged" in seen
    assert f'<a href="/phishing/people/{person.pk}/">First1 Last1</a>' in response.content.decode()
    row = re.search(r"First1 Last1 person1@example.com Sales Password expiry Sent (.*?) First2", seen)
    assert row and row.group(1).count("—") == 2 and row.group(1).endswith(" 0")  # not opened, not reported


def test_campaign_page_queries_do_not_grow_with_recipients(client_for, lead, make_campaign, smtp_server,
                                                           django_assert_max_num_queries):
    make_people(3)
    small = make_campaign(name="Small")
    sending.send_due()
    TrackingEvent.objects.create(recipient=small.recipients.first(), kind=EventKind.CLICKED, automated=True,
                                 rule="too-soon")
    browser = client_for(lead)
    with django_assert_max_num_queries(40) as few:
        browser.get(f"/phishing/campaigns/{small.pk}/")
    regions = {}  # the regions loaded after the page, each a fixed handful of queries
    for region in ("departments", "managers", "flagged"):
        with django_assert_max_num_queries(12) as counted:
            browser.get(f"/phishing/campaigns/{small.pk}/?region={region}", headers={"HX-Request": "true"})
        regions[region] = len(counted.captured_queries)
    for i in range(60):
        Person.objects.create(employee_id=f"M{i:03d}", email=f"m{i}@example.com", first_name="M", last_name=str(i),
                              department=f"D{i % 30}")
    large = make_campaign(name="Large")
    sending.send_due()
    for recipient in large.recipients.all()[:20]:
        TrackingEvent.objects.create(recipient=recipient, kind=EventKind.CLICKED, automated=recipient.pk % 2 == 0,
                                     rule="too-soon" if recipient.pk % 2 == 0 else "")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = browser.get(f"/phishing/campaigns/{large.pk}/")
    for region, queries in regions.items():
        with django_assert_max_num_queries(queries):
            browser.get(f"/phishing/campaigns/{large.pk}/?region={region}", headers={"HX-Request": "true"})
    assert "63 in all; the first hit of each kind" in text(response) and "Page 1 of 3" in text(response)
    region = browser.get(f"/phishing/campaigns/{large.pk}/?rpage=3&region=recipients", headers={"HX-Request": "true"})
    assert region.content.decode().lstrip().startswith('<div id="recipients">') and "Page 3 of 3" in text(region)


@pytest.mark.parametrize("number", ["9223372036854775807", "99999999999", "1000001"])
def test_page_numbers_past_the_last_page_show_the_last_page(client_for, lead, sent_campaign, number):
    browser = client_for(lead)
    clickers = browser.get(f"/phishing/repeat-clickers/?page={number}")
    assert clickers.status_code == 200
    for name in ("rpage", "dpage", "mpage", "flagged"):
        response = browser.get(f"/phishing/campaigns/{sent_campaign.pk}/?{name}={number}")
        assert response.status_code == 200, name
    recipients = text(browser.get(f"/phishing/campaigns/{sent_campaign.pk}/?rpage={number}"))
    assert "person9@example.com" in recipients  # the last page, with the last recipients
    for page in ("/phishing/reports/", "/phishing/templates/", "/phishing/landing-pages/", "/phishing/profiles/",
                 "/phishing/domains/", "/phishing/"):
        assert browser.get(f"{page}?page={number}").status_code == 200, page
