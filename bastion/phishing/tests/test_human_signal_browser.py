"""The landing page's human signal in a real browser (Debian's Chromium via Playwright), under
the strict CSP: loading the page is not a signal, moving the pointer is."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from bastion.phishing import sending
from bastion.phishing.models import EventKind, Recipient, TrackingEvent
from tests.browser import browser_page  # noqa: F401 - fixture

from .conftest import make_people

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_moving_the_pointer_on_the_landing_page_confirms_their_click(live_server, browser_page,  # noqa: F811
                                                                              make_campaign, smtp_server):
    make_people(1)
    make_campaign()
    sending.send_due()
    Recipient.objects.update(sent_at=timezone.now() - timedelta(minutes=5))
    token = Recipient.objects.get().token
    page = browser_page
    page.goto(f"{live_server.url}/p/c/{token}/")
    page.wait_for_load_state("networkidle")
    assert "/p/l/" in page.url
    click = TrackingEvent.objects.get(kind=EventKind.CLICKED)
    assert click.human_at is None  # the page loaded, nobody did anything yet
    page.mouse.move(40, 60)
    page.mouse.move(80, 90)
    deadline = time.monotonic() + 10
    while TrackingEvent.objects.get(pk=click.pk).human_at is None:
        assert time.monotonic() < deadline, "the human signal never arrived"
        time.sleep(0.1)
    assert page.console_errors == []  # no CSP violation
