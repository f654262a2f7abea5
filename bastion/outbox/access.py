"""Who may read the outbox (messages contain sign-in links: only the security team and auditors)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from bastion.accounts.models import Role

from .models import OutboxMessage


def can_view_outbox(user) -> bool:
    return user.is_authenticated and user.has_role(Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR)


def can_retry_outbox(user) -> bool:
    return user.is_authenticated and user.has_role(Role.SECURITY_LEAD, Role.SECURITY_TEAM)


def outbox_visible_to(user):
    if not can_view_outbox(user):
        raise PermissionDenied
    return OutboxMessage.objects.all()


def get_message_for_view(user, pk: int) -> OutboxMessage:
    try:
        return outbox_visible_to(user).get(pk=pk)
    except OutboxMessage.DoesNotExist:
        raise Http404 from None


def get_message_for_retry(user, pk: int) -> OutboxMessage:
    message = get_message_for_view(user, pk)
    if not can_retry_outbox(user):
        raise PermissionDenied
    return message
