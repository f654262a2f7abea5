"""Who may see and change incidents. The API (and the pages to come) get incidents here; the role
rules live here and nowhere else.

- The security lead and team see every incident that is not restricted, declare incidents and
  run them (facts, checklist, notifications, timeline, status).
- Executives and the auditor read incidents that are not restricted; they change nothing.
- A restricted incident (need to know) is visible only to its members and to whoever declared
  it, whatever their role — not to the security lead by role alone. A member who is lead or team
  runs it; a member who is an executive or auditor reads it. It is left out of every list, and
  its page and API answer 404 to anyone else, as if it did not exist.
- The team (commander, scribe, liaison, legal, a restricted incident's members) is changed by
  the lead and team who run it, and by the incident commander (a reader by role) for their own
  incident.
- Only the security lead waives a post-incident review (so an incident may close without one).
- Business leaders, managers and employees see no incident, even if named members.
- Tools such as a SIEM declare through the API with the token of a user with the security
  lead or team role (a service account).
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from bastion.accounts.models import Role

from .models import Incident, IncidentQuerySet

_RUNNERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM)
_READERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.EXECUTIVE, Role.AUDITOR)
# Who may be made a member of a restricted incident (the others see no incident at all).
MEMBER_ROLES = _READERS
# Who runs an incident (a restricted incident always keeps one of them: team.py).
RUNNER_ROLES = _RUNNERS


def can_view_incidents(user) -> bool:
    return user.is_authenticated and user.has_role(*_READERS)


def can_run_incidents(user) -> bool:
    """Declare incidents and change them (those visible to the user)."""
    return user.is_authenticated and user.has_role(*_RUNNERS)


def incidents_visible_to(user) -> IncidentQuerySet:
    """Every incident the user may know exists (one query; restricted ones only as member or
    declarer). PermissionDenied for a role that sees no incidents."""
    if not can_view_incidents(user):
        raise PermissionDenied
    need_to_know = Q(pk__in=Incident.members.through.objects.filter(user_id=user.pk).values("incident_id"))
    return Incident.objects.filter(
        Q(restricted=False)
        | need_to_know
        | Q(declared_by_id=user.pk)
    )


def get_incident_for_view(user, pk: int) -> Incident:
    try:
        return incidents_visible_to(user).select_related("plan_version").get(pk=pk)
    except Incident.DoesNotExist:
        raise Http404 from None


def get_incident_for_edit(user, pk: int) -> Incident:
    """404 if the user may not know it exists; 403 if they may read it but not change it."""
    incident = get_incident_for_view(user, pk)
    if not can_run_incidents(user):
        raise PermissionDenied
    return incident


def get_incident_for_team_change(user, pk: int) -> Incident:
    """The incident whose team (commander, scribe, liaison, legal, members) the user changes: the
    security lead and team who may see it, and its incident commander (through their account,
    whatever its role among the readers). 404 as for viewing, 403 for the other readers."""
    incident = get_incident_for_view(user, pk)
    if can_run_incidents(user):
        return incident
    if user.person_id is not None and incident.incident_commander_id == user.person_id:
        return incident
    raise PermissionDenied


def require_declarer(user) -> None:
    if not can_run_incidents(user):
        raise PermissionDenied


def get_incident_for_waiver(user, pk: int) -> Incident:
    """The incident whose post-incident review the user waives: the security lead only (404 as
    for viewing, 403 for anyone else who may see it)."""
    incident = get_incident_for_view(user, pk)
    if not user.has_role(Role.SECURITY_LEAD):
        raise PermissionDenied
    return incident
