"""Request types for views that require a signed-in user (login_required or API token)."""

from django.http import HttpRequest

from bastion.accounts.models import User


class AuthedRequest(HttpRequest):
    user: User  # type: ignore[assignment]
