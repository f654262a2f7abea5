"""Everyone is asked by email to acknowledge a policy's current version, reminded once a week
later, and asked again when a new version is published; each email once."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from bastion.awareness import policy_asks
from bastion.awareness.models import Acknowledgement, Policy, PolicyAsk, PolicyVersion
from bastion.people.models import Person, PersonStatus

T0 = datetime(2026, 11, 2, 9, tzinfo=timezone.get_current_timezone())


@pytest.fixture
def people(db):
    return [Person.objects.create(employee_id=f"P{i}", email=f"{name.lower()}@example.com", first_name=name,
                                  last_name="Example", status=status)
            for i, (name, status) in enumerate([("Ann", PersonStatus.ACTIVE), ("Ben", PersonStatus.ACTIVE),
                                                ("Gus", PersonStatus.LEAVER)])]


@pytest.fixture
def policy(db):
    policy = Policy.objects.create(slug="acceptable-use", title="Acceptable use policy")
    PolicyVersion.objects.create(policy=policy, number=1, body="Be careful.", published_at=T0)
    return policy


def send(now, capture, run_tasks) -> int:
    with capture(execute=True):
        sent = policy_asks.send_policy_asks(now)
    run_tasks()
    return sent


def test_asked_once_reminded_once_and_asked_again_for_a_new_version(
        people, policy, smtp_server, run_tasks, django_capture_on_commit_callbacks, client):
    capture = django_capture_on_commit_callbacks
    ann, ben, _gus = people
    assert send(T0, capture, run_tasks) == 2  # not the leaver
    assert send(T0 + timedelta(hours=1), capture, run_tasks) == 0
    assert sorted(m["To"] for m in smtp_server.messages) == ["ann@example.com", "ben@example.com"]
    message = smtp_server.messages[0]
    assert message["Subject"].strip() == "Please read and acknowledge the Acceptable use policy"
    link = message.get_body(("plain",)).get_content().split("/training/t/", 1)[1].split()[0]
    assert client.get(f"/training/t/{link}").status_code == 302
    assert "Acceptable use policy" in client.get("/training/").content.decode()

    # Ann acknowledges; a week later only Ben is reminded, once.
    Acknowledgement.objects.create(person=ann, version=policy.current_version())
    assert send(T0 + timedelta(days=6), capture, run_tasks) == 0
    assert send(T0 + timedelta(days=7), capture, run_tasks) == 1
    assert send(T0 + timedelta(days=20), capture, run_tasks) == 0
    assert smtp_server.messages[-1]["To"] == "ben@example.com"
    assert smtp_server.messages[-1]["Subject"].strip().startswith("Reminder: please read and acknowledge")

    # A new version asks everyone again, with what changed.
    PolicyVersion.objects.create(policy=policy, number=2, body="Be more careful.",
                                 summary_of_changes="New rule on AI chatbots.", published_at=T0 + timedelta(days=30))
    assert send(T0 + timedelta(days=30), capture, run_tasks) == 2
    body = smtp_server.messages[-1].get_body(("plain",)).get_content()
    assert "has changed: New rule on AI chatbots." in body
    assert PolicyAsk.objects.count() == 5


def test_no_policy_no_asks(people):
    assert policy_asks.send_policy_asks(T0) == 0
