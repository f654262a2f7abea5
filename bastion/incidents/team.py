"""The incident's team after declaration: the incident commander, scribe, liaison and legal (people
of the directory), and for a restricted (need-to-know) incident its members (user accounts).

Who may change it is access.get_incident_for_team_change: the security lead and team who run the
incident, and its incident commander.

The rules, checked before anything is written (every problem named, nothing saved):
- a leaver (inactive in the directory) is refused for any role, and an inactive account or one
  whose role sees no incidents is refused as a member;
- only a restricted incident has members;
- on a restricted incident, whoever is given a team role is made a member through their account
  (if they have one whose role may be a member), so they can see the incident they serve;
- nobody locks the incident away: you cannot remove yourself (another member does that), nor
  the incident commander's account while they command, and at least one active security lead or
  team account (a member, or the declarer) must remain able to run the incident.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from bastion.accounts.models import User
from bastion.audit.chain import record
from bastion.people.models import Person, PersonStatus

from . import access, timeline
from .models import EntryKind, Incident, Status

# The team's roles: the incident's field and how the product names it.
TEAM_ROLES = {"incident_commander": "incident commander", "scribe": "scribe", "liaison": "liaison", "legal": "legal"}

# Said beside the members on the page and in the API's description.
MEMBERS_RULE = ("Members are accounts of the security lead or team, executives and auditors; whoever is given a "
                "team role becomes a member through their account. You cannot remove "
                "yourself or the incident commander's account, and at least one active security lead or team "
                "account (a member or the declarer) always remains, so the incident is never locked away.")


@dataclass(frozen=True)
class TeamChange:
    """What changed, in words (empty: nothing did)."""

    lines: list[str]


def _who(person: Person | None) -> str:
    return f"{person} ({person.email})" if person is not None else "(none)"


def team_accounts(people) -> list[User]:
    """The active accounts of these people whose role may be a member: on a restricted incident,
    whoever holds a team role is made a member, or they could not see the incident they serve."""
    ids = {p.pk for p in people if p is not None}
    if not ids:
        return []
    return list(User.objects.filter(person_id__in=ids, is_active=True, role__in=access.MEMBER_ROLES))


def _runs(user: User) -> bool:
    return user.is_active and user.has_role(*access.RUNNER_ROLES)


@transaction.atomic
def do_change_team(*, acting_user, incident: Incident, people: dict[str, Person | None] | None = None,
                   add_members: Sequence[User] = (), remove_members: Sequence[User] = (), request=None,
                   now: datetime | None = None) -> TeamChange:
    """Change the team: ``people`` maps the roles given (TEAM_ROLES) to a person of the directory
    or None (nobody); members are added and removed by account. One timeline entry and one audit
    entry name every change; nothing is written when nothing changes."""
    now = now or timezone.now()
    incident = timeline.lock_incident(incident.pk)
    people = dict(people or {})
    problems = []
    if incident.status == Status.CLOSED:
        problems.append("The incident is closed; its team can no longer change.")
    unknown = sorted(set(people) - set(TEAM_ROLES))
    if unknown:
        problems.append(f"Unknown team roles: {', '.join(unknown)} (the roles are: {', '.join(TEAM_ROLES)}).")
    for role, person in people.items():
        if person is not None and role in TEAM_ROLES and person.status != PersonStatus.ACTIVE:
            problems.append(f"{_who(person)} has left the organisation (a leaver in the directory); choose someone "
                            f"active as {TEAM_ROLES[role]}.")
    current = {u.pk: u for u in incident.members.all()}
    adding = {u.pk: u for u in add_members if u.pk not in current}
    removing = {u.pk: u for u in remove_members}
    if (add_members or remove_members) and not incident.restricted:
        problems.append("Only a restricted (need-to-know) incident has members: everyone who runs incidents sees "
                        "this one.")
    else:
        for user in add_members:
            if not user.is_active:
                problems.append(f"{user.email} is not an active account; they cannot be a member.")
            elif user.role not in access.MEMBER_ROLES:
                problems.append(f"{user.email} has a role that sees no incidents; only the security lead and team, "
                                "executives and auditors can be members.")
            if user.pk in removing:
                problems.append(f"{user.email} is both added and removed; choose one.")
        commander = people["incident_commander"] if "incident_commander" in people else incident.incident_commander
        for user in remove_members:
            if user.pk not in current:
                problems.append(f"{user.email} is not a member.")
            elif user.pk == getattr(acting_user, "pk", None):
                problems.append("You cannot remove yourself: another member does that, so nobody locks themselves "
                                "out by mistake.")
            elif commander is not None and user.person_id == commander.pk:
                problems.append(f"{user.email} is the incident commander's account: change the commander first.")
        after = [u for pk, u in (current | adding).items() if pk not in removing]
        declarer = incident.declared_by
        if incident.restricted and not (any(_runs(u) for u in after) or (declarer is not None and _runs(declarer))):
            problems.append("At least one active security lead or team account (a member or the declarer) must "
                            "remain, or nobody could run the incident.")
    if problems:
        raise ValidationError(problems)

    lines: list[str] = []
    before: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    for role, person in people.items():
        old = getattr(incident, role)
        if (old.pk if old else None) != (person.pk if person else None):
            lines.append(f"{TEAM_ROLES[role]} {_who(old)} → {_who(person)}")
            before[role], changed[role] = old.pk if old else None, person.pk if person else None
            setattr(incident, role, person)
    removed = [u for pk, u in removing.items() if pk in current]
    if incident.restricted and changed:
        for user in team_accounts(getattr(incident, role) for role in changed):
            if user.pk not in current and user.pk not in adding:
                adding[user.pk] = user  # a new holder of a team role must see the incident they serve
    if adding:
        incident.members.add(*adding.values())
        lines.append("members added: " + ", ".join(sorted(u.email for u in adding.values())))
        changed["members_added"] = sorted(u.email for u in adding.values())
    if removed:
        incident.members.remove(*removed)
        lines.append("members removed: " + ", ".join(sorted(u.email for u in removed)))
        changed["members_removed"] = sorted(u.email for u in removed)
    if not lines:
        return TeamChange([])
    incident.updated_at = now
    incident.save(update_fields=[*[r for r in people if r in before], "updated_at"])
    timeline.append(incident, kind=EntryKind.TEAM, author=acting_user, now=now, text="Team: " + "; ".join(lines) + ".")
    record("incident.team", actor=acting_user, obj=incident, request=request, before=before, after=changed)
    return TeamChange(lines)
