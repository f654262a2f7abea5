"""Who may see and change the register of business systems. Pages and API both go through here."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from bastion.accounts.models import Role

from .models import BusinessSystem, BusinessSystemQuerySet

# Roles that read the register, its spend and the budget.
_REGISTER_READERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.BUSINESS_LEADER,
                     Role.AUDITOR)
# Roles that add and change systems, their spend, the budget, and import files.
_REGISTER_EDITORS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM)


def can_view_systems(user) -> bool:
    return user.is_authenticated and user.has_role(*_REGISTER_READERS)


def can_edit_systems(user) -> bool:
    return user.is_authenticated and user.has_role(*_REGISTER_EDITORS)


def require_systems_viewer(user) -> None:
    if not can_view_systems(user):
        raise PermissionDenied


def require_systems_editor(user) -> None:
    if not can_edit_systems(user):
        raise PermissionDenied


def systems_visible_to(user) -> BusinessSystemQuerySet:
    """The whole register for those who may read it; PermissionDenied for anyone else."""
    require_systems_viewer(user)
    return BusinessSystem.objects.all()


def get_system_for_view(user, pk: int) -> BusinessSystem:
    try:
        return systems_visible_to(user).select_related("owner").get(pk=pk)
    except BusinessSystem.DoesNotExist:
        raise Http404 from None


def get_system_for_edit(user, pk: int) -> BusinessSystem:
    system = get_system_for_view(user, pk)
    require_systems_editor(user)
    return system
