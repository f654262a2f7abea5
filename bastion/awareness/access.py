"""Who may see and change what in the awareness programme. Views and the API get their objects
here; the role rules live here and nowhere else.

- The security lead and team write courses, policies and programmes, and see all progress.
- The auditor reads everything. Executives read progress (what senior management is shown).
- A manager sees the progress of the people who report to them, directly or not.
- Everyone with a directory record sees their own training ("my training").
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from bastion.accounts.models import Role
from bastion.people.models import Person

from .models import Assignment, Course, Policy, Programme

_WRITERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM)
_READERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR)
_PROGRESS_READERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR, Role.EXECUTIVE)


def can_manage_awareness(user) -> bool:
    return user.is_authenticated and user.has_role(*_WRITERS)


def can_view_awareness(user) -> bool:
    """Courses, policies and programmes as the security team sees them (read-only for the auditor)."""
    return user.is_authenticated and user.has_role(*_READERS)


def can_view_all_progress(user) -> bool:
    return user.is_authenticated and user.has_role(*_PROGRESS_READERS)


def can_view_team_progress(user) -> bool:
    """A manager with a directory record sees their own people's progress."""
    return user.is_authenticated and user.has_role(Role.MANAGER) and user.person_id is not None


def require_manager(user) -> None:
    if not can_manage_awareness(user):
        raise PermissionDenied


def require_viewer(user) -> None:
    if not can_view_awareness(user):
        raise PermissionDenied


def courses_visible_to(user):
    require_viewer(user)
    return Course.objects.all()


def get_course_for_view(user, pk: int) -> Course:
    try:
        return courses_visible_to(user).get(pk=pk)
    except Course.DoesNotExist:
        raise Http404 from None


def get_course_for_edit(user, pk: int) -> Course:
    course = get_course_for_view(user, pk)
    require_manager(user)
    return course


def policies_visible_to(user):
    require_viewer(user)
    return Policy.objects.all()


def get_policy_for_view(user, pk: int) -> Policy:
    try:
        return policies_visible_to(user).get(pk=pk)
    except Policy.DoesNotExist:
        raise Http404 from None


def get_policy_for_edit(user, pk: int) -> Policy:
    policy = get_policy_for_view(user, pk)
    require_manager(user)
    return policy


def programmes_visible_to(user):
    require_viewer(user)
    return Programme.objects.all()


def get_programme_for_view(user, pk: int) -> Programme:
    try:
        return programmes_visible_to(user).select_related("course", "audience").get(pk=pk)
    except Programme.DoesNotExist:
        raise Http404 from None


def get_programme_for_edit(user, pk: int) -> Programme:
    programme = get_programme_for_view(user, pk)
    require_manager(user)
    return programme


def progress_people(user):
    """The people whose training the user may follow: everyone, or a manager's reports
    (directly or not); PermissionDenied for anyone else."""
    if can_view_all_progress(user):
        return Person.objects.all()
    if can_view_team_progress(user):
        return Person.objects.reporting_to(user.person)
    raise PermissionDenied


# A manager's team is found once (one recursive query), then their assignments by person id: a
# planner cannot tell how few people a recursive query returns, and would scan every assignment.
# A team past this size (a manager of most of the company) stays a subquery.
TEAM_BY_ID = 5000


def assignments_visible_to(user):
    """Assignments of the people whose progress the user may follow."""
    if can_view_all_progress(user):
        return Assignment.objects.all()
    people = progress_people(user)
    team = list(people.order_by().values_list("pk", flat=True)[:TEAM_BY_ID + 1])
    if len(team) <= TEAM_BY_ID:
        return Assignment.objects.filter(person_id__in=team)
    return Assignment.objects.filter(person__in=people)


def get_assignment_for_view(user, pk: int) -> Assignment:
    try:
        return assignments_visible_to(user).select_related("person", "programme", "version").get(pk=pk)
    except Assignment.DoesNotExist:
        raise Http404 from None


def learner_assignments(person: Person):
    """A learner's own assignments: whoever holds their signed link, or they signed in."""
    return Assignment.objects.filter(person=person).select_related("version", "programme")


def get_learner_assignment(person: Person, pk: int) -> Assignment:
    """One of the learner's own assignments; another person's is "not found", never shown."""
    try:
        return learner_assignments(person).get(pk=pk)
    except Assignment.DoesNotExist:
        raise Http404 from None


def can_fetch_course_image(request) -> bool:
    """Lesson images: for those who may see courses, and for learners (signed in with a
    directory record, or holding a training link that is still valid)."""
    from .learner_views import current_learner

    return can_view_awareness(request.user) or current_learner(request) is not None


def can_view_training_of(user, person: Person) -> bool:
    """Whether the user may open this person's training record (for links from other pages)."""
    if can_view_all_progress(user):
        return True
    return can_view_team_progress(user) and progress_people(user).filter(pk=person.pk).exists()


def progress_programmes(user, assignments):
    """The programmes to offer as a progress filter: all of them to those who see all progress,
    to a manager only those their people are assigned (``assignments`` is their scope)."""
    if can_view_all_progress(user):
        return Programme.objects.order_by("name").only("name")
    return Programme.objects.filter(pk__in=assignments.order_by().values("programme_id")).order_by("name").only("name")
