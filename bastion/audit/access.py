"""Who may read the audit trail. Nobody may change it."""

from django.core.exceptions import PermissionDenied

from bastion.accounts.models import Role

from .models import AuditEntry


def can_view_audit(user) -> bool:
    return user.is_authenticated and user.has_role(Role.AUDITOR, Role.SECURITY_LEAD)


def audit_entries_visible_to(user):
    if not can_view_audit(user):
        raise PermissionDenied
    return AuditEntry.objects.all()
