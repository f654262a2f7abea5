"""Overdue notifications escalated to the incident commander and the security leads, once.

A notification due whose deadline has passed without being recorded as done or not required is
claimed by a conditional UPDATE (status due → escalated, escalated_at set) in the transaction
that queues its emails and writes its timeline and audit entries: a job run twice, or two
workers, escalate it once. If its deadline later moves (the facts changed), it may escalate
again for the new deadline.

Who hears: the incident commander (from the directory) and every active security lead who may
see the incident — for a restricted incident only those who are members or declared it.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.audit.chain import record
from bastion.lib.emails import queue_email

from . import timeline
from .models import EntryKind, Incident, NotificationDue, NotificationStatus, time_text


def escalate_overdue(now: datetime | None = None) -> int:
    """Escalate every overdue notification not escalated yet; returns how many were."""
    now = now or timezone.now()
    overdue = list(NotificationDue.objects.filter(status=NotificationStatus.DUE, deadline__lt=now,
                                                  escalated_at__isnull=True)
                   .select_related("incident__incident_commander").order_by("deadline", "id")[:500])
    if not overdue:
        return 0
    leads = list(User.objects.filter(role=Role.SECURITY_LEAD, is_active=True).order_by("email"))
    restricted = {n.incident_id for n in overdue if n.incident.restricted}
    members: dict[int, set[int]] = {}
    for incident_id, user_id in Incident.members.through.objects.filter(
            incident_id__in=restricted).values_list("incident_id", "user_id"):
        members.setdefault(incident_id, set()).add(user_id)
    escalated = 0
    for notification in overdue:
        incident = notification.incident
        allowed = [u for u in leads if not incident.restricted
                   or u.pk in members.get(incident.pk, set()) or u.pk == incident.declared_by_id]
        to = sorted({u.email for u in allowed}
                    | ({incident.incident_commander.email} if incident.incident_commander else set()))
        escalated += _escalate(notification, to, now)
    return escalated


def _escalate(notification: NotificationDue, to: list[str], now: datetime) -> int:
    with transaction.atomic():
        # The incident first, as every do_* action locks it, so the two never wait on each other.
        incident = timeline.lock_incident(notification.incident_id)
        claimed = NotificationDue.objects.filter(
            pk=notification.pk, status=NotificationStatus.DUE, escalated_at__isnull=True,
        ).update(status=NotificationStatus.ESCALATED, escalated_at=now)
        if not claimed:
            return 0  # recorded meanwhile, or another worker escalated it
        for address in to:
            queue_email(address, "incident_notification_overdue", {
                "incident": incident, "notification": notification, "deadline": time_text(notification.deadline)
                if notification.deadline else ""})
        timeline.append(incident, kind=EntryKind.NOTIFICATION, now=now, text=(
            f"Overdue: {notification.rule_name} → {notification.recipient_label} was due by "
            f"{time_text(notification.deadline) if notification.deadline else '?'}; escalated to {', '.join(to) or 'nobody (no commander or lead)'}."))
        record("incident.notification_escalated", actor_label="system", obj=incident,
               after={"notification": notification.pk, "rule": notification.rule_key, "to": to})
    return 1
