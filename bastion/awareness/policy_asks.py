"""Asking people to acknowledge the current version of each policy: an email when a version is
new to them, one reminder a week later, then it waits on their "my training" page.

Each ask is a ``PolicyAsk(person, version, stage)`` row under a unique constraint, inserted in
the transaction that queues its email (in bulk: a new version goes to everyone at once), so a
run repeated sends nothing twice. Leavers and those who have acknowledged are not asked.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from bastion.audit.chain import record
from bastion.lib.emails import queue_emails
from bastion.people.models import Person, PersonStatus

from .links import training_link_path
from .models import Acknowledgement, Policy, PolicyAsk, PolicyVersion

REMIND_AFTER = timedelta(days=7)
BATCH = 1000


def send_policy_asks(now: datetime | None = None) -> int:
    """Ask (and once remind) everyone who has not acknowledged a policy's current version.
    Returns the number of emails queued."""
    now = now or timezone.now()
    sent = 0
    for policy in Policy.objects.order_by("pk"):
        version = policy.versions.order_by("-number").first()
        if version is not None:
            sent += _ask(version, "ask", now)
            sent += _ask(version, "reminder", now)
    return sent


def _ask(version: PolicyVersion, stage: str, now: datetime) -> int:
    acknowledged = Acknowledgement.objects.filter(person=OuterRef("pk"), version=version)
    asked = PolicyAsk.objects.filter(person=OuterRef("pk"), version=version)
    people = Person.objects.filter(status=PersonStatus.ACTIVE).exclude(Exists(acknowledged))
    if stage == "ask":
        people = people.exclude(Exists(asked))
    else:
        people = people.filter(Exists(asked.filter(stage="ask", at__lte=now - REMIND_AFTER))).exclude(
            Exists(asked.filter(stage="reminder")))
    rows = list(people.order_by("pk").values_list("pk", "email", "first_name"))
    sent = 0
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        try:
            with transaction.atomic():
                PolicyAsk.objects.bulk_create([PolicyAsk(person_id=pk, version=version, stage=stage, at=now)
                                               for pk, _, _ in batch])
                queue_emails([(email, "policy_ask", {
                    "first_name": first_name, "policy": version.policy, "version": version, "reminder": stage != "ask",
                    "link": settings.BASE_URL + training_link_path(pk, now=now)}) for pk, email, first_name in batch])
                record("awareness.policy_asked", actor_label="bastion worker", obj=version.policy, after={
                    "version": version.number, "stage": stage, "people": [email for _, email, _ in batch]})
        except IntegrityError:
            continue  # another run asked them meanwhile: it sent the emails
        sent += len(batch)
    return sent
