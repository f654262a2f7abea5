"""The tracking links, as a recipient's mail client, browser and their mail gateway use them."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bastion.awareness.actions import install_starter_curriculum
from bastion.awareness.models import Assignment, AssignmentReason, Programme
from bastion.phishing import sending
from bastion.phishing.models import (
    AutomatedRule,
    EventKind,
    Recipient,
    TrackingEvent,
    TrackingRules,
)
from bastion.phishing.results import campaign_results
from bastion.phishing.tracking import forget_rules

from .conftest import make_people

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"


@pytest.fixture
def sent(make_campaign, smtp_server):
    """Three recipients whose messages went out a minute ago."""
    make_people(3)
    campaign = make_campaign()
    sending.send_due()
    Recipient.objects.update(sent_at=timezone.now() - timedelta(minutes=1))
    return campaign


@pytest.fixture
def browser():
    return Client(HTTP_USER_AGENT=BROWSER)


def token(n: int = 0) -> str:
    return Recipient.objects.order_by("pk")[n].token


def events(**filters) -> list[tuple]:
    return list(TrackingEvent.objects.filter(**filters).values_list("kind", "automated", "rule").order_by("pk"))


def test_open_pixel_is_a_gif_and_records_the_open(sent, browser):
    response = browser.get(f"/p/o/{token()}.gif", REMOTE_ADDR="203.0.113.77")
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a") and "no-cache" in response["Cache-Control"]
    event = TrackingEvent.objects.get()
    assert (event.kind, event.automated, event.method) == (EventKind.OPENED, False, "GET")
    assert event.network == "203.0.113.0/24" and event.user_agent == BROWSER  # never the full address


def test_a_click_redirects_to_the_landing_page_which_teaches(sent, browser):
    t = token()
    response = browser.get(f"/p/c/{t}/")
    assert response.status_code == 302 and response["Location"] == f"/p/l/{t}/"
    assert events() == [(EventKind.CLICKED, False, "")]
    page = browser.get(f"/p/l/{t}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Sign in" in body and f'action="/p/l/{t}/submit"' in body
    assert 'name="' not in body.split("<form", 1)[1].split("</form>")[0].replace('name="csrfmiddlewaretoken"', "")


def test_a_submitted_form_records_the_fact_and_discards_what_was_typed(sent, browser):
    t = token()
    secret = "hunter2-Very-Secret-typed-password"
    response = browser.post(f"/p/l/{t}/submit", {"username": "ann@example.com", "password": secret})
    assert response.status_code == 302 and response["Location"] == f"/p/l/{t}/?submitted=1"
    assert events() == [(EventKind.SUBMITTED, False, "")]
    page = browser.get(response["Location"]).content.decode()
    assert "This was a phishing simulation" in page and "nothing you typed was sent to or kept" in page
    assert "Urgency" in page and "Today! pushes you" in page  # the red flags, explained
    assert "<strong>sender</strong>" in page  # the teaching body, from Markdown
    # Nothing typed exists anywhere in the database.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from the schema
            for row in cursor.fetchall():
                assert not any(secret in str(v) for v in row), table


def test_report_link_asks_then_records(sent, browser):
    t = token()
    page = browser.get(f"/p/r/{t}/")
    assert page.status_code == 200 and "Report it" in page.content.decode()
    assert not TrackingEvent.objects.exists()  # a GET (a scanner's prefetch) records nothing
    done = browser.post(f"/p/r/{t}/")
    assert done.status_code == 200 and "Thank you for reporting" in done.content.decode()
    assert events() == [(EventKind.REPORTED, False, "")]


@pytest.mark.parametrize("url", ["/p/o/{t}.gif", "/p/c/{t}/", "/p/l/{t}/", "/p/r/{t}/"])
@pytest.mark.parametrize("bad", ["x" * 32, "short", "a" * 65, "abc%00def0123456789012345", "../../etc/passwd"])
def test_unknown_or_malformed_tokens_are_a_bare_404_and_record_nothing(sent, browser, url, bad):
    response = browser.get(url.format(t=bad))
    assert response.status_code in (404, 400)
    body = response.content.decode()
    assert len(body) < 300 and "etc/passwd" not in body and "Traceback" not in body
    assert not TrackingEvent.objects.exists()


def test_a_token_never_sent_is_unknown(make_campaign, browser):
    make_people(2)
    make_campaign(starts_at=timezone.now() + timedelta(days=1))
    assert browser.get(f"/p/c/{token()}/").status_code == 404
    assert browser.post(f"/p/l/{token()}/submit").status_code == 404
    assert not TrackingEvent.objects.exists()


def test_automated_hits_are_flagged_with_their_rule(sent, browser):
    rules = TrackingRules.current()
    rules.scanner_networks = ["198.51.100.0/24"]
    rules.save()
    forget_rules()
    t0, t1, t2 = token(0), token(1), token(2)
    assert browser.head(f"/p/c/{t0}/").status_code == 302
    Client(HTTP_USER_AGENT="Mozilla/5.0 (compatible; Barracuda Sentinel)").get(f"/p/c/{t0}/")
    browser.get(f"/p/o/{t1}.gif", REMOTE_ADDR="198.51.100.9")
    Recipient.objects.filter(token=t2).update(sent_at=timezone.now() - timedelta(seconds=3))
    browser.get(f"/p/c/{t2}/")
    assert events() == [
        (EventKind.CLICKED, True, AutomatedRule.HEAD),
        (EventKind.CLICKED, True, AutomatedRule.SCANNER_AGENT),
        (EventKind.OPENED, True, AutomatedRule.SCANNER_NETWORK),
        (EventKind.CLICKED, True, AutomatedRule.TOO_SOON),
    ]
    # A person clicking later counts; the scanners' hits do not.
    browser.get(f"/p/c/{t0}/")
    results = campaign_results(sent)
    assert results["raw"]["clicked"] == 2 and results["filtered"]["clicked"] == 1
    assert results["raw"]["opened"] == 1 and results["filtered"]["opened"] == 0
    assert results["click_rate"] == round(1 / 3, 4)


def test_the_too_soon_window_is_configurable(sent, browser):
    rules = TrackingRules.current()
    rules.too_soon_seconds = 120
    rules.save()
    forget_rules()
    browser.get(f"/p/c/{token()}/")  # sent a minute ago: now too soon
    assert events() == [(EventKind.CLICKED, True, AutomatedRule.TOO_SOON)]


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]


def test_a_tracking_hit_costs_one_statement_on_postgresql_two_on_sqlite(sent, browser):
    browser.get(f"/p/o/{token()}.gif")  # the rules are read once and cached
    for url, method in ((f"/p/o/{token(1)}.gif", "get"), (f"/p/c/{token(1)}/", "get"), (f"/p/r/{token(1)}/", "post")):
        with CaptureQueriesContext(connection) as queries:
            getattr(browser, method)(url)
        assert len(statements(queries)) <= (1 if connection.vendor == "postgresql" else 2), (url, statements(queries))
    results = campaign_results(sent)  # the recipient's summary kept with each hit
    assert results["raw"]["opened"] == 2 and results["raw"]["clicked"] == results["raw"]["reported"] == 1
    landing = f"/p/l/{token(1)}/"
    with CaptureQueriesContext(connection) as queries:
        browser.get(landing)
    assert len(queries) == 1, [q["sql"][:80] for q in queries]


def test_results_count_reports_and_the_median_time_to_report(sent, browser):
    now = timezone.now()
    for n, minutes in enumerate((10, 30)):
        Recipient.objects.filter(token=token(n)).update(sent_at=now - timedelta(minutes=minutes))
        browser.post(f"/p/r/{token(n)}/")
    results = campaign_results(sent)
    assert results["sent"] == 3 and results["filtered"]["reported"] == 2
    assert results["report_rate"] == round(2 / 3, 4)
    assert results["median_seconds_to_report"] == pytest.approx(20 * 60, abs=5)


@pytest.fixture
def remedial(db):
    course = install_starter_curriculum()[0]
    return Programme.objects.create(name="Spotting phishing", course=course, remedial=True)


def test_a_click_assigns_remedial_training_once_and_the_page_says_so(make_campaign, smtp_server, remedial,
                                                                      browser):
    make_people(2)
    make_campaign(remedial_programme=remedial)
    sending.send_due()
    Recipient.objects.update(sent_at=timezone.now() - timedelta(minutes=5))
    t = token(1)
    page = browser.get(browser.get(f"/p/c/{t}/")["Location"]).content.decode()
    assert "Sign in" in page and "assigned" not in page  # the fake form first gives nothing away
    browser.get(f"/p/c/{t}/")
    page = browser.get(browser.post(f"/p/l/{t}/submit")["Location"]).content.decode()
    assert "A short training course has been assigned to you" in page
    recipient = Recipient.objects.get(token=t)
    assigned = Assignment.objects.filter(person=recipient.person, programme=remedial)
    assert assigned.count() == 1 and assigned.get().reason == AssignmentReason.REMEDIAL
    # Someone who did not click has nothing assigned and is not told so.
    assert not Assignment.objects.filter(person__email="boss@example.com").exists()


def test_a_scanner_click_assigns_nothing(make_campaign, smtp_server, remedial):
    make_people(1)
    make_campaign(remedial_programme=remedial)
    sending.send_due()
    Client(HTTP_USER_AGENT="curl/8.0").get(f"/p/c/{token()}/")
    assert not Assignment.objects.exists()


def test_by_rule_only_a_submission_assigns(make_campaign, smtp_server, remedial, browser):
    make_people(1)
    make_campaign(remedial_programme=remedial, remedial_rule="submit")
    sending.send_due()
    Recipient.objects.update(sent_at=timezone.now() - timedelta(minutes=5))
    browser.get(f"/p/c/{token()}/")
    assert not Assignment.objects.exists()
    browser.post(f"/p/l/{token()}/submit")
    assert Assignment.objects.count() == 1


def test_a_paused_remedial_programme_is_recorded_not_an_error(make_campaign, smtp_server, remedial, browser, page):
    page.shows_form = False
    page.save()
    make_people(1)
    make_campaign(remedial_programme=remedial)
    Programme.objects.filter(pk=remedial.pk).update(active=False)
    sending.send_due()
    Recipient.objects.update(sent_at=timezone.now() - timedelta(minutes=5))
    shown = browser.get(browser.get(f"/p/c/{token()}/")["Location"]).content.decode()
    assert "This was a phishing simulation" in shown and "assigned to you" not in shown
    assert "is paused" in Recipient.objects.get().remedial_problem


def _csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_the_form_and_report_work_in_a_browser_that_enforces_csrf(sent):
    browser = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=BROWSER)
    t = token()
    landing = browser.get(browser.get(f"/p/c/{t}/")["Location"]).content.decode()
    assert browser.post(f"/p/l/{t}/submit").status_code == 403  # no token: refused, nothing recorded
    assert browser.post(f"/p/l/{t}/submit", {"csrfmiddlewaretoken": _csrf(landing)}).status_code == 302
    report = browser.get(f"/p/r/{t}/").content.decode()
    assert browser.post(f"/p/r/{t}/", {"csrfmiddlewaretoken": _csrf(report)}).status_code == 200
    assert [k for k, _, _ in events()] == [EventKind.CLICKED, EventKind.SUBMITTED, EventKind.REPORTED]


def test_only_the_network_of_the_address_is_kept():
    from bastion.phishing.tracking import network_of

    assert network_of("192.0.2.200") == "192.0.2.0/24"
    assert network_of("2001:db8:1234:5678::1") == "2001:db8:1234::/48"
    assert network_of(None) == ""


def test_a_landing_page_without_a_form_teaches_at_once_and_says_training_was_assigned(
        make_campaign, smtp_server, remedial, browser, page):
    page.shows_form = False
    page.save()
    make_people(1)
    make_campaign(remedial_programme=remedial)
    sending.send_due()
    Recipient.objects.update(sent_at=timezone.now() - timedelta(minutes=5))
    shown = browser.get(browser.get(f"/p/c/{token()}/")["Location"]).content.decode()
    assert "This was a phishing simulation" in shown and "<form" not in shown.split("<main", 1)[1]
    assert "A short training course has been assigned to you" in shown
