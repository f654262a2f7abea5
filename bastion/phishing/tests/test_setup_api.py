"""Setting up simulations over the API: domains, sending profiles, templates, landing pages."""

import logging

import pytest

from bastion.accounts.models import Role
from bastion.audit.models import AuditEntry
from bastion.phishing.models import LandingPage, PhishingTemplate, SendingProfile, VerifiedDomain

pytestmark = pytest.mark.django_db

ALL = list(Role)
MANAGE = {Role.SECURITY_LEAD, Role.SECURITY_TEAM}
SETUP_READ = {Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR}

TEMPLATE = {"name": "Invoice", "from_name": "Accounts", "subject": "Invoice for {{first_name}}",
            "body_text": "See {{link}}", "body_html": "<p>Dear {{first_name}} of {{department}}</p>{{pixel}}",
            "difficulty": 4, "cues": ["premise", "authority"],
            "red_flags": [{"flag": "Unexpected invoice", "explanation": "You ordered nothing"}]}
PROFILE = {"name": "Relay", "smtp_url": "smtp://mailer:Sup3r-Secret@relay.example:587?tls=1",
           "from_address": "accounts@example.com", "rate_per_second": 100}
PAGE = {"title": "Gotcha", "body_markdown": "# Look at the sender\n<script>x</script>", "shows_form": True}

ENDPOINTS = [("/api/v1/phishing/domains", {"domain": "example.com"}),
             ("/api/v1/phishing/profiles", PROFILE),
             ("/api/v1/phishing/templates", TEMPLATE),
             ("/api/v1/phishing/landing-pages", PAGE)]


@pytest.mark.parametrize("role", ALL)
@pytest.mark.parametrize(("url", "body"), ENDPOINTS)
def test_setup_by_role(api_for, make_user, role, url, body):
    api = api_for(make_user(role))
    created = api.post(url, body, content_type="application/json")
    listed = api.get(url)
    if role in MANAGE:
        assert created.status_code == 201
    else:
        assert created.status_code == 403
    if role in SETUP_READ:
        assert listed.status_code == 200 and len(listed.json()) == (1 if role in MANAGE else 0)
    else:
        assert listed.status_code == 403


def test_the_smtp_password_is_never_shown_or_recorded(api_for, lead, caplog):
    api = api_for(lead)
    with caplog.at_level(logging.DEBUG):
        created = api.post("/api/v1/phishing/profiles", PROFILE, content_type="application/json")
        listed = api.get("/api/v1/phishing/profiles")
    assert created.json()["smtp_url"] == "smtp://mailer:********@relay.example:587?tls=1"
    assert "Sup3r-Secret" not in listed.content.decode() and "Sup3r-Secret" not in caplog.text
    entry = AuditEntry.objects.get(action="phishing.profile_created")
    assert "Sup3r-Secret" not in str(entry.after)
    assert SendingProfile.objects.get().password == "Sup3r-Secret"  # kept, to send with


def test_bad_setup_is_refused_clearly(api_for, lead):
    api = api_for(lead)
    bad_url = api.post("/api/v1/phishing/profiles", {**PROFILE, "smtp_url": "http://relay.example"},
                       content_type="application/json")
    assert bad_url.status_code == 422 and "must look like smtp://" in bad_url.json()["detail"]
    unknown = api.post("/api/v1/phishing/templates", {**TEMPLATE, "subject": "Hi {{ceo_name}}"},
                       content_type="application/json")
    assert unknown.status_code == 422 and "Unknown placeholder(s): {{ceo_name}}" in unknown.json()["detail"]
    no_link = api.post("/api/v1/phishing/templates", {**TEMPLATE, "body_text": "no link"},
                       content_type="application/json")
    assert no_link.status_code == 422 and "needs a {{link}}" in no_link.json()["detail"]
    hard = api.post("/api/v1/phishing/templates", {**TEMPLATE, "difficulty": 9}, content_type="application/json")
    assert hard.status_code == 422
    domain = api.post("/api/v1/phishing/domains", {"domain": "not a domain"}, content_type="application/json")
    assert domain.status_code == 422 and "is not a mail domain" in domain.json()["detail"]
    assert not PhishingTemplate.objects.exists() and not SendingProfile.objects.exists()
    assert not VerifiedDomain.objects.exists()


def test_preview_shows_the_message_as_a_recipient_would_see_it(api_for, make_user, lead):
    api_for(lead).post("/api/v1/phishing/templates", TEMPLATE, content_type="application/json")
    template = PhishingTemplate.objects.get()
    preview = api_for(make_user(Role.AUDITOR)).get(f"/api/v1/phishing/templates/{template.pk}/preview").json()
    assert preview["subject"] == "Invoice for Alex"
    assert preview["html"] == "<p>Dear Alex of Finance</p>"
    assert api_for(make_user(Role.EMPLOYEE)).get(f"/api/v1/phishing/templates/{template.pk}/preview"
                                                 ).status_code == 403
    assert api_for(lead).get("/api/v1/phishing/templates/999999/preview").status_code == 404


def test_a_landing_page_renders_markdown_without_raw_html(api_for, lead):
    api_for(lead).post("/api/v1/phishing/landing-pages", PAGE, content_type="application/json")
    page = LandingPage.objects.get()
    from bastion.lib.markdown import render_markdown

    assert "<script>" not in render_markdown(page.body_markdown)
