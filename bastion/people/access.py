"""Who may see and change people and groups. Pages and API both go through here."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from bastion.accounts.models import Role

from .models import Group, Person, PersonQuerySet

# Roles that see the whole directory.
_DIRECTORY_READERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR, Role.EXECUTIVE)
# Roles that change the directory and import HR files.
_DIRECTORY_EDITORS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM)


def can_list_people(user) -> bool:
    """Whether the People list is open to `user` (managers see their own people there)."""
    return user.is_authenticated and user.has_role(*_DIRECTORY_READERS, Role.MANAGER)


def can_edit_people(user) -> bool:
    return user.is_authenticated and user.has_role(*_DIRECTORY_EDITORS)


def can_import_people(user) -> bool:
    return can_edit_people(user)


def people_visible_to(user) -> PersonQuerySet:
    """Everyone `user` may see: the whole directory, their own reporting line, or only themselves."""
    if not user.is_authenticated or not user.is_active:
        return Person.objects.none()
    if user.has_role(*_DIRECTORY_READERS):
        return Person.objects.all()
    if user.person_id is None:
        return Person.objects.none()
    if user.has_role(Role.MANAGER):
        return Person.objects.filter(pk__in=Person.objects.reporting_to(user.person).values("pk")) | Person.objects.filter(pk=user.person_id)
    return Person.objects.filter(pk=user.person_id)


def get_person_for_view(user, pk: int) -> Person:
    """The person, or 404 if `user` may not know they exist."""
    try:
        return people_visible_to(user).select_related("manager").get(pk=pk)
    except Person.DoesNotExist:
        raise Http404 from None


def get_person_for_edit(user, pk: int) -> Person:
    person = get_person_for_view(user, pk)
    if not can_edit_people(user):
        raise PermissionDenied
    return person


def require_people_editor(user) -> None:
    if not can_edit_people(user):
        raise PermissionDenied


def can_view_groups(user) -> bool:
    return user.is_authenticated and user.has_role(*_DIRECTORY_READERS)


def can_edit_groups(user) -> bool:
    return user.is_authenticated and user.has_role(*_DIRECTORY_EDITORS)


def groups_visible_to(user):
    if not can_view_groups(user):
        raise PermissionDenied
    return Group.objects.all()


def get_group_for_view(user, pk: int) -> Group:
    try:
        return groups_visible_to(user).get(pk=pk)
    except Group.DoesNotExist:
        raise Http404 from None


def get_group_for_edit(user, pk: int) -> Group:
    group = get_group_for_view(user, pk)
    if not can_edit_groups(user):
        raise PermissionDenied
    return group


def require_group_editor(user) -> None:
    if not can_edit_groups(user):
        raise PermissionDenied


def get_import_for_user(user, pk: int):
    """An uploaded HR file (without its content loaded), for those who may import people."""
    from .models import PeopleImport

    if not can_import_people(user):
        raise PermissionDenied
    try:
        return PeopleImport.objects.defer("content").select_related("uploaded_by").get(pk=pk)
    except PeopleImport.DoesNotExist:
        raise Http404 from None
