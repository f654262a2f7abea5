"""Who may read the audit trail. Nobody may change it: there is no page or endpoint that
writes to it, and the database refuses UPDATE and DELETE (migration 0002)."""

from django.core.exceptions import PermissionDenied

from bastion.accounts.models import Role

from .models import AuditEntry, AuditEntryQuerySet


def can_view_audit(user) -> bool:
    return user.is_authenticated and user.has_role(Role.AUDITOR, Role.SECURITY_LEAD)


def require_audit_viewer(user) -> None:
    if not can_view_audit(user):
        raise PermissionDenied


def audit_entries_visible_to(user) -> AuditEntryQuerySet:
    require_audit_viewer(user)
    return AuditEntry.objects.all()
