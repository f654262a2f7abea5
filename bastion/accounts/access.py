"""Who may see and change user accounts, roles, MFA policy and API tokens."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import ApiToken, Role, User


def can_manage_users(user) -> bool:
    return user.is_authenticated and user.has_role(Role.SECURITY_LEAD)


def can_view_users(user) -> bool:
    return user.is_authenticated and user.has_role(Role.SECURITY_LEAD, Role.AUDITOR)


def users_visible_to(user):
    if not can_view_users(user):
        raise PermissionDenied
    return User.objects.select_related("person")


def get_user_for_view(user, pk: int) -> User:
    try:
        return users_visible_to(user).get(pk=pk)
    except User.DoesNotExist:
        raise Http404 from None


def get_user_for_change(user, pk: int) -> User:
    if not can_manage_users(user):
        raise PermissionDenied
    return get_user_for_view(user, pk)


def get_own_token(user, pk: int) -> ApiToken:
    """A person manages only their own tokens; another's token does not exist for them."""
    if not user.is_authenticated:
        raise PermissionDenied
    try:
        return ApiToken.objects.select_related("user").get(pk=pk, user=user)
    except ApiToken.DoesNotExist:
        raise Http404 from None
