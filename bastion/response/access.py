"""Who may see and change the incident response plan. Pages and the API get plans and versions
here; the role rules live here and nowhere else.

- The security lead and team edit the plan (drafts, submitting for review) and see every
  version, its approvals and who has acknowledged it. Only the lead changes who owns, approves
  and must read the plan.
- Executives and the auditor read every version, its approvals and acknowledgements (the
  executives approve, the auditor checks); they change nothing by their role.
- The named approvers (executives chosen on the plan) approve or request changes. It takes both:
  being named, and still being an active executive (someone moved out of senior management
  keeps no right to approve, and blocks publication until the lead changes the approvers).
- Everyone else signed in (business leaders, managers, employees) sees the version in force
  only, and acknowledges it for themselves. Drafts and old versions answer "not found".
- Anonymous visitors see nothing (a reader's signed link is handled by links.py).
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from bastion.accounts.models import Role

from .models import Plan, PlanVersion, VersionStatus

_EDITORS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM)
_ALL_VERSION_READERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.AUDITOR)
_SETTINGS_MANAGERS = (Role.SECURITY_LEAD,)
# Who may be named an approver, and keeps the right to decide: senior management only.
APPROVER_ROLES = (Role.EXECUTIVE,)


def can_view_plan(user) -> bool:
    """The version in force: every active user signed in."""
    return user.is_authenticated and user.is_active


def can_view_all_versions(user) -> bool:
    """Drafts, versions in review, superseded versions, approvals and acknowledgements."""
    return user.is_authenticated and user.has_role(*_ALL_VERSION_READERS)


def can_edit_plan(user) -> bool:
    return user.is_authenticated and user.has_role(*_EDITORS)


def can_manage_plan_settings(user) -> bool:
    return user.is_authenticated and user.has_role(*_SETTINGS_MANAGERS)


def can_decide(user, plan: Plan) -> bool:
    """A named approver who is still an active executive."""
    return (user.is_authenticated
            and user.has_role(*APPROVER_ROLES)
            and plan.approvers.filter(pk=user.pk).exists())


def plans_visible_to(user):
    if not can_view_plan(user):
        raise PermissionDenied
    return Plan.objects.all()


def get_plan_for_view(user, pk: int) -> Plan:
    try:
        return plans_visible_to(user).select_related("owner").get(pk=pk)
    except Plan.DoesNotExist:
        raise Http404 from None


def current_plan_for_view(user) -> Plan:
    """The organisation's plan; 404 until one exists."""
    plan = plans_visible_to(user).select_related("owner").order_by("pk").first()
    if plan is None:
        raise Http404
    return plan


def get_plan_for_edit(user, pk: int) -> Plan:
    plan = get_plan_for_view(user, pk)
    if not can_edit_plan(user):
        raise PermissionDenied
    return plan


def get_plan_for_settings(user, pk: int) -> Plan:
    plan = get_plan_for_view(user, pk)
    if not can_manage_plan_settings(user):
        raise PermissionDenied
    return plan


def get_plan_for_decision(user, pk: int) -> Plan:
    plan = get_plan_for_view(user, pk)
    if not can_decide(user, plan):
        raise PermissionDenied
    return plan


def versions_visible_to(user, plan: Plan):
    """Every version for those who read them all; the version in force for everyone else."""
    versions = plan.versions.all()
    if can_view_all_versions(user):
        return versions
    if can_view_plan(user):
        return versions.filter(status=VersionStatus.PUBLISHED)
    raise PermissionDenied


def get_version_for_view(user, plan: Plan, number: int) -> PlanVersion:
    if not 1 <= number <= 2**31 - 1:  # no such version, and past the column's range (a 500 otherwise)
        raise Http404
    try:
        return versions_visible_to(user, plan).get(number=number)
    except PlanVersion.DoesNotExist:
        raise Http404 from None


def require_acknowledgement_reader(user) -> None:
    """Who has and has not acknowledged: the same people who read every version."""
    if not can_view_all_versions(user):
        raise PermissionDenied


def person_acknowledging(user):
    """The directory record a signed-in user acknowledges as (None if not linked to one)."""
    if not can_view_plan(user):
        raise PermissionDenied
    return user.person
