"""Who may see and change the register of business systems. Pages and API both go through here."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from bastion.accounts.models import Role

from .models import (
    BusinessSystem,
    BusinessSystemQuerySet,
    CriticalityReview,
    ReviewInvitation,
    ReviewStatus,
)

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


# Criticality reviews. Leaders see only their own invitation (get_invitation_for_user).
_REVIEW_RUNNERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM)
_REVIEW_READERS = (Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR, Role.EXECUTIVE)


def can_run_reviews(user) -> bool:
    return user.is_authenticated and user.has_role(*_REVIEW_RUNNERS)


def can_view_reviews(user) -> bool:
    """The list and a review's progress: those who run reviews, the auditor and executives."""
    return user.is_authenticated and user.has_role(*_REVIEW_READERS)


def can_view_review_results(user, review: CriticalityReview) -> bool:
    if not user.is_authenticated:
        return False
    if user.has_role(Role.SECURITY_LEAD, Role.SECURITY_TEAM, Role.AUDITOR):
        return True
    # Executives see results once the review is closed, never half-answered ones.
    return user.has_role(Role.EXECUTIVE) and review.status == ReviewStatus.CLOSED


def reviews_visible_to(user):
    if not can_view_reviews(user):
        raise PermissionDenied
    return CriticalityReview.objects.all()


def can_view_review_history(user) -> bool:
    """How each system's rank and tier moved between closed reviews: whoever may read a closed
    review's results (today every review reader; test_review_history checks the two agree)."""
    return can_view_reviews(user)


def closed_reviews_visible_to(user):
    """The closed reviews whose results make up the history; PermissionDenied for anyone else."""
    if not can_view_review_history(user):
        raise PermissionDenied
    return reviews_visible_to(user).filter(status=ReviewStatus.CLOSED)


def get_review_for_view(user, pk: int) -> CriticalityReview:
    try:
        return reviews_visible_to(user).get(pk=pk)
    except CriticalityReview.DoesNotExist:
        raise Http404 from None


def get_review_for_run(user, pk: int) -> CriticalityReview:
    review = get_review_for_view(user, pk)
    if not can_run_reviews(user):
        raise PermissionDenied
    return review


def get_review_results_for_view(user, pk: int) -> CriticalityReview:
    review = get_review_for_view(user, pk)
    if not can_view_review_results(user, review):
        raise PermissionDenied
    return review


def get_invitation_for_user(user, review_pk: int) -> ReviewInvitation:
    """The signed-in user's own invitation to the review; 404 if they were not invited."""
    if not user.is_authenticated or user.person_id is None:
        raise Http404
    try:
        return (ReviewInvitation.objects.select_related("review", "person")
                .get(review_id=review_pk, person_id=user.person_id))
    except ReviewInvitation.DoesNotExist:
        raise Http404 from None


def review_invitations_to_answer(user) -> list[ReviewInvitation]:
    """The signed-in user's invitations to open reviews (answered or not), for their home page."""
    if not user.is_authenticated or user.person_id is None:
        return []
    return list(ReviewInvitation.objects.select_related("review")
                .filter(person_id=user.person_id, review__status=ReviewStatus.OPEN)
                .order_by("review__deadline", "review_id"))
