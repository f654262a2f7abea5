"""Tokens that are unknown, malformed, never sent or replayed: a neutral answer, nothing recorded,
nothing that tells one kind of bad token from another."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bastion.awareness.actions import install_starter_curriculum
from bastion.awareness.models import Assignment, Programme
from bastion.phishing import sending
from bastion.phishing.actions import do_cancel_campaign
from bastion.phishing.models import EventKind, Recipient, RecipientStatus, TrackingEvent
from bastion.phishing.results import campaign_results

from .conftest import make_people

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ENDPOINTS = [("get", "/p/o/{}.gif"), ("head", "/p/o/{}.gif"), ("get", "/p/c/{}/"), ("head", "/p/c/{}/"),
             ("get", "/p/l/{}/"), ("post", "/p/l/{}/submit"), ("get", "/p/r/{}/"), ("post", "/p/r/{}/")]
VARYING = {"Date", "Expires", "Content-Security-Policy"}  # the time, and a fresh CSP nonce if any


@pytest.fixture
def remedial(db):
    course = install_starter_curriculum()[0]
    return Programme.objects.create(name="Spotting phishing", course=course, remedial=True)


@pytest.fixture
def world(make_campaign, smtp_server, remedial, lead):
    """A sent campaign, one never sent (starts tomorrow) and one cancelled before sending."""
    make_people(3)
    sent = make_campaign(remedial_programme=remedial)
    sending.send_due()
    Recipient.objects.update(sent_at=timezone.now() - timedelta(minutes=10))
    from bastion.people.models import Person

    later_people = [Person.objects.create(employee_id=f"L{i}", email=f"later{i}@example.com", first_name="L",
                                          last_name=str(i)) for i in range(2)]
    from bastion.people.models import Group

    group = Group.objects.create(name="Later")
    group.members.set(later_people)
    tomorrow = make_campaign(name="Tomorrow", audience=group, starts_at=timezone.now() + timedelta(days=1))
    cancelled = make_campaign(name="Cancelled", audience=group, starts_at=timezone.now() + timedelta(days=1))
    do_cancel_campaign(cancelled, lead)
    return sent, tomorrow, cancelled


def answer(method: str, path: str):
    response = getattr(Client(HTTP_USER_AGENT=BROWSER), method)(path)
    headers = {k: v for k, v in response.headers.items() if k not in VARYING}
    return response.status_code, response.content, headers


def test_every_kind_of_bad_token_gets_the_same_bare_answer_and_nothing_is_recorded(world):
    _, tomorrow, cancelled = world
    bad = {
        "unknown": "A" * 32,
        "unknown, token-shaped": "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4",
        "too short": "short",
        "too long": "a" * 65,
        "bad characters": "abc$def0123456789012345",
        "a test send's": "test-send",
        "never sent": tomorrow.recipients.first().token,
        "cancelled": cancelled.recipients.first().token,
    }
    assert set(cancelled.recipients.values_list("status", flat=True)) == {RecipientStatus.CANCELLED}
    for method, path in ENDPOINTS:
        answers = {name: answer(method, path.format(token)) for name, token in bad.items()}
        first = next(iter(answers.values()))
        assert first[0] == 404 and len(first[1]) < 100, (method, path, first)
        for name, got in answers.items():
            assert got == first, (method, path, name)  # nothing tells one bad token from another
            assert bad[name].encode() not in got[1]
    for token in bad.values():  # the landing page's signal: always an empty 204
        response = Client().post(f"/p/h/{token}/")
        assert response.status_code == 204 and response.content == b""
    assert not TrackingEvent.objects.exists()
    assert not Assignment.objects.exists()


def test_a_replayed_link_is_a_hit_again_but_the_person_counts_once_and_is_assigned_training_once(world):
    sent, _, _ = world
    t = sent.recipients.order_by("pk").first().token
    client = Client(HTTP_USER_AGENT=BROWSER)
    for _ in range(3):
        assert client.get(f"/p/c/{t}/").status_code == 302
        assert client.post(f"/p/l/{t}/submit").status_code == 302
        assert client.post(f"/p/h/{t}/").status_code == 204
    clicks = TrackingEvent.objects.filter(kind=EventKind.CLICKED)
    assert clicks.count() == 3 and not clicks.filter(human_at__isnull=True).exists()
    first_signal = sorted(clicks.values_list("human_at", flat=True))
    assert client.post(f"/p/h/{t}/").status_code == 204  # again: each click keeps its first signal
    assert sorted(clicks.values_list("human_at", flat=True)) == first_signal
    results = campaign_results(sent)
    assert results["raw"]["clicked"] == results["filtered"]["clicked"] == 1
    assert results["raw"]["submitted"] == 1
    assert Assignment.objects.count() == 1


def test_an_unknown_recipients_links_still_record_what_they_did(world):
    # "Unknown": the worker died while handing the message over; it may have arrived, and a hit
    # on its link is the proof that it did.
    sent, _, _ = world
    recipient = sent.recipients.order_by("pk").first()
    Recipient.objects.filter(pk=recipient.pk).update(status=RecipientStatus.UNKNOWN, sent_at=None)
    assert Client(HTTP_USER_AGENT=BROWSER).get(f"/p/c/{recipient.token}/").status_code == 302
    assert TrackingEvent.objects.filter(recipient=recipient, kind=EventKind.CLICKED, automated=False).count() == 1
