"""Directory changes, each written together with its audit entry.

Callers validate first (PersonForm, GroupForm); these functions only write.
"""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from bastion.audit.chain import diff, record

from .models import Group, GroupKind, Person


def _group_state(group: Group) -> dict:
    return {"name": group.name, "description": group.description, "kind": group.kind,
            "rules": group.rules}


@transaction.atomic
def do_create_person(*, acting_user, request=None, **fields) -> Person:
    """Add a person to the directory. `fields` are directory fields (manager as a Person)."""
    now = timezone.now()
    person = Person.objects.create(created_at=now, updated_at=now, **fields)
    record("person.created", actor=acting_user, obj=person, after=person.snapshot(), request=request)
    return person


@transaction.atomic
def do_update_person(*, acting_user, person: Person, request=None, **changes) -> Person:
    """Change directory fields of a person; the audit entry holds only what changed."""
    before = person.snapshot()
    for name, value in changes.items():
        setattr(person, name, value)
    old, new = diff(before, person.snapshot())
    if new:
        person.updated_at = timezone.now()
        person.save()
        record("person.updated", actor=acting_user, obj=person, before=old, after=new, request=request)
    return person


@transaction.atomic
def do_create_group(*, acting_user, name: str, description: str = "", kind: str = GroupKind.STATIC,
                    rules: list[dict] | None = None, members: Iterable[Person] = (),
                    request=None) -> Group:
    """Create a static group with its chosen members, or a rule-based group with its rules."""
    group = Group.objects.create(name=name, description=description, kind=kind,
                                 rules=rules if kind == GroupKind.RULE else [])
    after = _group_state(group)
    if kind == GroupKind.STATIC:
        members = list(members)
        group.members.add(*members)
        after["members"] = sorted(p.employee_id for p in members)
    record("group.created", actor=acting_user, obj=group, after=after, request=request)
    return group


@transaction.atomic
def do_update_group(*, acting_user, group: Group, add_members: Iterable[Person] = (),
                    remove_members: Iterable[Person] = (), request=None, **changes) -> Group:
    """Change a group's name, description, kind or rules, and add or remove static members.

    A group that becomes rule-based loses its chosen members; the audit entry lists them.
    """
    before = _group_state(group)
    for name, value in changes.items():
        setattr(group, name, value)
    if group.kind == GroupKind.STATIC:
        group.rules = []
    old, new = diff(before, _group_state(group))
    if new:
        group.save()

    if group.kind == GroupKind.RULE:
        added, removed = [], list(group.members.only("pk", "employee_id"))
    else:
        add_members, remove_members = list(add_members), list(remove_members)
        asked = {p.pk for p in add_members} | {p.pk for p in remove_members}
        current = set(group.members.filter(pk__in=asked).values_list("pk", flat=True))
        added = [p for p in dict.fromkeys(add_members) if p.pk not in current]
        removed = [p for p in dict.fromkeys(remove_members) if p.pk in current]
    if added:
        group.members.add(*added)
        new["members_added"] = sorted(p.employee_id for p in added)
    if removed:
        group.members.remove(*removed)
        new["members_removed"] = sorted(p.employee_id for p in removed)
    if new:
        record("group.updated", actor=acting_user, obj=group, before=old or None, after=new,
               request=request)
    return group
