"""The automated-hit rules as worked examples: a table of hits, made through the tracking links
as a mail client, a browser or a scanner would, and the flag each must get. Tests control the
clock by moving a hit's recorded time back, as if it had happened that long ago."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bastion.phishing import sending
from bastion.phishing.actions import do_update_tracking_rules
from bastion.phishing.models import (
    AutomatedRule,
    EventKind,
    Recipient,
    TrackingEvent,
    TrackingRules,
)
from bastion.phishing.results import campaign_results
from bastion.phishing.tasks import flag_clicks_without_human_signal
from bastion.phishing.tracking import forget_rules

from .conftest import make_people

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
N = 120  # the no-human-signal wait in these examples


@pytest.fixture
def sent(make_campaign, smtp_server, lead):
    make_people(12)
    campaign = make_campaign()
    sending.send_due()
    Recipient.objects.update(sent_at=timezone.now() - timedelta(hours=1))
    rules = TrackingRules.current()
    do_update_tracking_rules(too_soon_seconds=10, scanner_agents=rules.scanner_agents,
                             scanner_networks=["198.51.100.0/24"], no_human_signal=True,
                             no_human_signal_seconds=N, acting_user=lead)
    TrackingRules.objects.update(no_human_signal_since=timezone.now() - timedelta(hours=1))  # switched on then
    forget_rules()
    return campaign


def browser(**headers) -> Client:
    return Client(HTTP_USER_AGENT=headers.pop("agent", BROWSER), **headers)


def back(token: str, seconds: int) -> None:
    """The token's hits so far happened `seconds` earlier."""
    TrackingEvent.objects.filter(recipient__token=token).update(at=timezone.now() - timedelta(seconds=seconds))


# Each row: what happened to one recipient's links → the rule the hit must carry ("" = a person).
def head_request(t):
    browser().head(f"/p/c/{t}/")


def scanner_agent(t):
    browser(agent="Mozilla/5.0 (compatible; Barracuda Sentinel)").get(f"/p/c/{t}/")


def scanner_network(t):
    browser(REMOTE_ADDR="198.51.100.7").get(f"/p/c/{t}/")


def too_soon(t):
    Recipient.objects.filter(token=t).update(sent_at=timezone.now() - timedelta(seconds=3))
    browser().get(f"/p/c/{t}/")


def click_then_nothing(t):
    browser().get(f"/p/c/{t}/")  # followed the link, never moved, typed or scrolled on the page
    back(t, N + 1)


def click_then_page_loaded_but_nothing(t):
    client = browser()
    client.get(client.get(f"/p/c/{t}/")["Location"])  # a scanner that renders the page
    back(t, N + 1)


def click_then_interaction(t):
    client = browser()
    client.get(client.get(f"/p/c/{t}/")["Location"])
    assert client.post(f"/p/h/{t}/").status_code == 204  # the page's script: a person moved the pointer
    back(t, N + 1)


def click_then_form_submitted(t):
    client = browser()
    client.get(f"/p/c/{t}/")
    client.post(f"/p/l/{t}/submit")  # submitting the form is a human step too
    back(t, N + 1)


def click_then_signal_too_late(t):
    browser().get(f"/p/c/{t}/")
    back(t, N + 30)
    browser().post(f"/p/h/{t}/")  # after the N seconds: the rule says "within"


def click_still_within_the_wait(t):
    browser().get(f"/p/c/{t}/")
    back(t, N - 30)  # not decided yet


def open_without_signal(t):
    browser().get(f"/p/o/{t}.gif")  # the rule is about clicks; opens have no landing page
    back(t, N + 1)


def click_before_the_rule_was_on(t):
    browser().get(f"/p/c/{t}/")
    back(t, 3600 * 2)  # two hours ago, before the rule was switched on: it judges clicks from then


EXAMPLES = [
    (head_request, [(EventKind.CLICKED, AutomatedRule.HEAD)]),
    (scanner_agent, [(EventKind.CLICKED, AutomatedRule.SCANNER_AGENT)]),
    (scanner_network, [(EventKind.CLICKED, AutomatedRule.SCANNER_NETWORK)]),
    (too_soon, [(EventKind.CLICKED, AutomatedRule.TOO_SOON)]),
    (click_then_nothing, [(EventKind.CLICKED, AutomatedRule.NO_HUMAN_SIGNAL)]),
    (click_then_page_loaded_but_nothing, [(EventKind.CLICKED, AutomatedRule.NO_HUMAN_SIGNAL)]),
    (click_then_interaction, [(EventKind.CLICKED, "")]),
    (click_then_form_submitted, [(EventKind.CLICKED, ""), (EventKind.SUBMITTED, "")]),
    (click_then_signal_too_late, [(EventKind.CLICKED, AutomatedRule.NO_HUMAN_SIGNAL)]),
    (click_still_within_the_wait, [(EventKind.CLICKED, "")]),
    (open_without_signal, [(EventKind.OPENED, "")]),
    (click_before_the_rule_was_on, [(EventKind.CLICKED, "")]),
]


def test_each_worked_example_gets_its_flag(sent):
    tokens = list(Recipient.objects.order_by("pk").values_list("token", flat=True))
    for (example, _), token in zip(EXAMPLES, tokens, strict=False):
        example(token)
    before = campaign_results(sent)  # cached: the campaign is finished
    assert before["filtered"]["clicked"] == 7
    flagged = flag_clicks_without_human_signal.call()  # the periodic job, once
    assert flagged == 3
    got = {}
    for (example, expected), token in zip(EXAMPLES, tokens, strict=False):
        rows = list(TrackingEvent.objects.filter(recipient__token=token).order_by("pk").values_list("kind", "rule",
                                                                                                   "automated"))
        got[example.__name__] = rows
        assert rows == [(kind, rule, bool(rule)) for kind, rule in expected], example.__name__
    # Run again: nothing changes (the job is idempotent).
    assert flag_clicks_without_human_signal.call() == 0

    sent.refresh_from_db()
    results = campaign_results(sent)  # not the cached figures: the flags changed them
    # Clicked: 11 recipients' hits in all; by a person: interaction, form, still waiting, before the rule.
    assert results["raw"]["clicked"] == 11 and results["filtered"]["clicked"] == 4
    assert results["raw"]["opened"] == results["filtered"]["opened"] == 1


def test_the_rule_is_off_by_default_and_flags_nothing(make_campaign, smtp_server):
    make_people(2)
    make_campaign()
    sending.send_due()
    Recipient.objects.update(sent_at=timezone.now() - timedelta(hours=1))
    t = Recipient.objects.order_by("pk").values_list("token", flat=True)[0]
    browser().get(f"/p/c/{t}/")
    back(t, 3600)
    assert flag_clicks_without_human_signal.call() == 0
    assert list(TrackingEvent.objects.values_list("automated", "rule")) == [(False, "")]


def test_the_rule_is_set_through_the_api_and_its_wait_is_validated(lead, api_for):
    api = api_for(lead)
    current = api.get("/api/v1/phishing/rules").json()
    assert current["no_human_signal"] is False and current["no_human_signal_seconds"] == 120
    body = {k: current[k] for k in ("too_soon_seconds", "scanner_agents", "scanner_networks")}
    on = api.put("/api/v1/phishing/rules", {**body, "no_human_signal": True, "no_human_signal_seconds": 300},
                 content_type="application/json")
    assert on.status_code == 200 and on.json()["no_human_signal"] is True and on.json()["no_human_signal_since"]
    assert on.json()["no_human_signal_seconds"] == 300
    # Saving other rules keeps it as it is, and when it was switched on.
    again = api.put("/api/v1/phishing/rules", body, content_type="application/json").json()
    assert again["no_human_signal"] is True and again["no_human_signal_since"] == on.json()["no_human_signal_since"]
    too_short = api.put("/api/v1/phishing/rules", {**body, "no_human_signal_seconds": 5},
                        content_type="application/json")
    assert too_short.status_code == 422
    off = api.put("/api/v1/phishing/rules", {**body, "no_human_signal": False},
                  content_type="application/json").json()
    assert off["no_human_signal"] is False and off["no_human_signal_since"] is None


def test_the_landing_page_carries_the_signal_script_under_the_strict_csp(sent):
    t = Recipient.objects.order_by("pk").values_list("token", flat=True)[0]
    client = browser()
    page = client.get(client.get(f"/p/c/{t}/")["Location"])
    body = page.content.decode()
    assert f'data-human-signal="/p/h/{t}/"' in body and "human-signal.js" in body
    assert "<script>" not in body  # no inline script
    assert "connect-src 'self'" in page["Content-Security-Policy"]


def test_a_scanner_posting_the_form_does_not_confirm_the_click(sent):
    t = Recipient.objects.order_by("pk").first().token
    browser().get(f"/p/c/{t}/")  # a link scanner that looks like a browser follows the link…
    scanner = browser(REMOTE_ADDR="198.51.100.7")
    scanner.post(f"/p/l/{t}/submit")  # …and then posts the form from its own network
    back(t, N + 1)
    assert flag_clicks_without_human_signal.call() == 1
    rows = list(TrackingEvent.objects.filter(recipient__token=t).order_by("pk").values_list("kind", "rule"))
    assert rows == [(EventKind.CLICKED, AutomatedRule.NO_HUMAN_SIGNAL),
                    (EventKind.SUBMITTED, AutomatedRule.SCANNER_NETWORK)]


@pytest.fixture
def training(db):
    from bastion.awareness.actions import install_starter_curriculum
    from bastion.awareness.models import Programme

    return Programme.objects.create(name="Spotting phishing", course=install_starter_curriculum()[0], remedial=True)


def _judged_with(sent, training, lead):
    from bastion.phishing.actions import do_create_webhook

    sent.remedial_programme = training
    sent.save(update_fields=["remedial_programme"])
    return do_create_webhook(url="http://127.0.0.1:9/", events=["clicked"], acting_user=lead)


def test_training_and_webhook_wait_for_the_human_signal(sent, training, lead):
    from bastion.awareness.models import Assignment
    from bastion.phishing.models import WebhookDelivery

    _judged_with(sent, training, lead)
    person, scanned = Recipient.objects.order_by("pk")[:2]
    browser().get(f"/p/c/{person.token}/")
    browser().get(f"/p/c/{scanned.token}/")
    # Not judged yet: nothing assigned, nothing announced.
    assert not Assignment.objects.exists() and not WebhookDelivery.objects.exists()

    assert browser().post(f"/p/h/{person.token}/").status_code == 204  # a person moved the pointer
    browser().post(f"/p/h/{person.token}/")  # and again: once is enough
    assert list(Assignment.objects.values_list("person", flat=True)) == [person.person_id]
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload["recipient"] == person.pk and delivery.payload["automated"] is False

    back(scanned.token, N + 1)
    assert flag_clicks_without_human_signal.call() == 1
    # The scanner's click is announced with its final flag, and assigns nothing.
    flagged = WebhookDelivery.objects.get(payload__recipient=scanned.pk)
    assert flagged.payload["automated"] is True and flagged.payload["rule"] == AutomatedRule.NO_HUMAN_SIGNAL
    assert Assignment.objects.count() == 1
    assert Recipient.objects.get(pk=scanned.pk).remedial_at is None


def test_a_submission_assigns_at_once_and_confirms_the_click(sent, training, lead):
    from bastion.awareness.models import Assignment
    from bastion.phishing.models import WebhookDelivery

    _judged_with(sent, training, lead)
    t = Recipient.objects.order_by("pk").first().token
    client = browser()
    client.get(f"/p/c/{t}/")
    client.post(f"/p/l/{t}/submit")
    assert Assignment.objects.count() == 1
    assert WebhookDelivery.objects.get().payload["automated"] is False  # the click, confirmed
    back(t, N + 1)
    assert flag_clicks_without_human_signal.call() == 0
    assert Assignment.objects.count() == 1
