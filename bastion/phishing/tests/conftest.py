"""The phishing tests' organisation: people at example.com, a verified domain, a sending
profile pointing at the test SMTP server, a template, a landing page."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from bastion.people.models import Person
from bastion.phishing.actions import do_create_campaign, do_declare_domain
from bastion.phishing.models import LandingPage, PhishingTemplate, SendingProfile


@pytest.fixture(autouse=True)
def _fresh_rules_cache():
    cache.clear()
    yield
    cache.clear()


def make_people(n: int, domain: str = "example.com") -> list[Person]:
    boss = Person.objects.create(employee_id="B0000", email=f"boss@{domain}", first_name="Mona",
                                 last_name="Manager", department="Sales")
    people = [boss]
    for i in range(1, n):
        people.append(Person.objects.create(employee_id=f"E{i:04d}", email=f"person{i}@{domain}",
                                            first_name=f"First{i}", last_name=f"Last{i}", department="Sales",
                                            manager=boss))
    return people


@pytest.fixture
def domain(db):
    return do_declare_domain("example.com", None)


@pytest.fixture
def profile(db, smtp_server):
    return SendingProfile.objects.create(name="Local", smtp_url=smtp_server.url,
                                         from_address="it-support@example.com", rate_per_second=10_000)


@pytest.fixture
def template(db):
    return PhishingTemplate.objects.create(
        name="Password expiry", from_name="IT Support", subject="{{first_name}}, your password expires today",
        body_text="Hello {{first_name}},\nKeep it: {{link}}\nSuspicious? {{report_link}}\n",
        body_html="<p>Hello {{first_name}} of {{department}} ({{manager}})</p><a href=\"{{link}}\">Keep it</a>{{pixel}}",
        difficulty=2, cues=["urgency", "technical"],
        red_flags=[{"flag": "Urgency", "explanation": "Today! pushes you to act before you think"}])


@pytest.fixture
def page(db):
    return LandingPage.objects.create(title="That was a simulation", body_markdown="Check the **sender**.",
                                      shows_form=True)


@pytest.fixture
def make_campaign(domain, profile, template, page):
    def make(window_minutes: int = 0, starts_at=None, **fields):
        return do_create_campaign(
            name=fields.pop("name", "Spring"), templates=fields.pop("templates", [template]), landing_page=page,
            sending_profile=fields.pop("sending_profile", profile), audience=fields.pop("audience", None),
            starts_at=starts_at or timezone.now() - timedelta(minutes=1), window_minutes=window_minutes, **fields)

    return make
